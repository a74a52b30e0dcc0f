package pki

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/ocsp"
)

// OCSP for the server certificate: the emulator's root CA issued it, so the root is also the
// OCSP responder a domain configuration with enableOCSPCheck staples answers from when no
// ocspLambdaArn names another responder.

// OCSPValidity is how long an OCSP response the root CA signs is valid (nextUpdate −
// thisUpdate). Staplers refresh at half of it.
const OCSPValidity = 2 * time.Hour

// OCSPRequest is the DER OCSP request (RFC 6960, SHA-1 certificate id as responders expect)
// for a certificate the root CA issued, such as the server certificate.
func (a *Authority) OCSPRequest(leaf *x509.Certificate) ([]byte, error) {
	der, err := ocsp.CreateRequest(leaf, a.root.cert, &ocsp.RequestOptions{Hash: crypto.SHA1})
	if err != nil {
		return nil, fmt.Errorf("pki: OCSP request for serial %x: %w", leaf.SerialNumber, err)
	}
	return der, nil
}

// RespondOCSP answers a DER OCSP request as the root CA's responder: "good" for a certificate
// the root issued, valid for OCSPValidity. A request for another issuer is an error (the
// responder answers only for its own certificates).
func (a *Authority) RespondOCSP(request []byte) ([]byte, error) {
	req, err := ocsp.ParseRequest(request)
	if err != nil {
		return nil, fmt.Errorf("pki: OCSP request: %w", err)
	}
	// The request names the issuer by hashes of its name and key; check them against the root.
	probe, err := ocsp.CreateRequest(&x509.Certificate{SerialNumber: req.SerialNumber, RawIssuer: a.root.cert.RawSubject}, a.root.cert, &ocsp.RequestOptions{Hash: req.HashAlgorithm})
	if err != nil {
		return nil, fmt.Errorf("pki: OCSP request: %w", err)
	}
	mine, err := ocsp.ParseRequest(probe)
	if err != nil {
		return nil, fmt.Errorf("pki: OCSP request: %w", err)
	}
	if string(mine.IssuerNameHash) != string(req.IssuerNameHash) || string(mine.IssuerKeyHash) != string(req.IssuerKeyHash) {
		return nil, errors.New("pki: OCSP request for a certificate the root CA did not issue")
	}
	now := a.now().UTC().Truncate(time.Second)
	der, err := ocsp.CreateResponse(a.root.cert, a.root.cert, ocsp.Response{
		Status:       ocsp.Good,
		SerialNumber: req.SerialNumber,
		ThisUpdate:   now.Add(-time.Minute),
		NextUpdate:   now.Add(OCSPValidity),
		IssuerHash:   req.HashAlgorithm,
	}, a.root.key)
	if err != nil {
		return nil, fmt.Errorf("pki: sign OCSP response: %w", err)
	}
	return der, nil
}

// VerifyOCSPResponse parses a DER OCSP response for leaf and checks it: signed by the root CA
// or by a responder certificate the root CA issued, about leaf's serial, and current.
func (a *Authority) VerifyOCSPResponse(der []byte, leaf *x509.Certificate) (*ocsp.Response, error) {
	resp, err := ocsp.ParseResponseForCert(der, leaf, a.root.cert)
	if err != nil {
		return nil, fmt.Errorf("pki: OCSP response: %w", err)
	}
	now := a.now()
	if resp.ThisUpdate.After(now.Add(5 * time.Minute)) {
		return nil, fmt.Errorf("pki: OCSP response: thisUpdate %s is in the future", resp.ThisUpdate.UTC().Format(time.RFC3339))
	}
	if !resp.NextUpdate.IsZero() && !now.Before(resp.NextUpdate) {
		return nil, fmt.Errorf("pki: OCSP response: expired at nextUpdate %s", resp.NextUpdate.UTC().Format(time.RFC3339))
	}
	return resp, nil
}
