package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"time"
)

// deviceSubject is the subject AWS IoT puts in the certificates it issues.
const deviceSubject = "AWS IoT Certificate"

// deviceNotAfter is the expiry of every AWS-issued device certificate.
var deviceNotAfter = time.Date(2049, 12, 31, 23, 59, 59, 0, time.UTC)

// IssueDevice makes an RSA-2048 key and a certificate for it signed by the device CA.
// The certificate PEM holds the leaf only, as AWS returns it.
func (a *Authority) IssueDevice() (DeviceCredentials, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return DeviceCredentials{}, fmt.Errorf("pki: generate device key: %w", err)
	}
	certPEM, err := a.signDevice(&key.PublicKey, pkix.Name{CommonName: deviceSubject})
	if err != nil {
		return DeviceCredentials{}, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return DeviceCredentials{}, fmt.Errorf("pki: encode device public key: %w", err)
	}
	return DeviceCredentials{
		CertificatePEM: certPEM,
		PrivateKeyPEM:  string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})),
		PublicKeyPEM:   string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})),
	}, nil
}

// SignCSR issues a device certificate for the public key of a certificate signing request, signed
// by the device CA, for CreateCertificateFromCsr and fleet provisioning. The CSR's signature must
// verify and its key must be one AWS accepts: RSA of at least 2048 bits, or ECDSA on P-256, P-384
// or P-521. Like the certificates IssueDevice makes, the subject is "AWS IoT Certificate" whatever
// the CSR asks for. Each call gives a distinct certificate, even for the same CSR.
func (a *Authority) SignCSR(csr *x509.CertificateRequest) (certPEM string, err error) {
	if csr == nil {
		return "", errors.New("pki: sign CSR: no CSR given")
	}
	if err := csr.CheckSignature(); err != nil {
		return "", fmt.Errorf("pki: sign CSR: the CSR's signature does not verify: %w", err)
	}
	switch k := csr.PublicKey.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return "", fmt.Errorf("pki: sign CSR: RSA key of %d bits; at least 2048 are required", k.N.BitLen())
		}
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
		default:
			return "", fmt.Errorf("pki: sign CSR: ECDSA curve %s is not supported; use P-256, P-384 or P-521", k.Curve.Params().Name)
		}
	default:
		return "", fmt.Errorf("pki: sign CSR: %T keys are not supported; use RSA (2048 bits or more) or ECDSA", csr.PublicKey)
	}
	return a.signDevice(csr.PublicKey, pkix.Name{CommonName: deviceSubject})
}

// signDevice makes a client-authentication certificate for pub, signed by the device CA, with a
// random 128-bit serial and AWS's fixed expiry.
func (a *Authority) signDevice(pub any, subject pkix.Name) (string, error) {
	serial, err := randomSerial()
	if err != nil {
		return "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               subject,
		NotBefore:             a.now().Add(-backdate),
		NotAfter:              deviceNotAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.device.cert, pub, a.device.key)
	if err != nil {
		return "", fmt.Errorf("pki: sign device certificate: %w", err)
	}
	return string(encodeCert(der)), nil
}
