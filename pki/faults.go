package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"sync"
)

// Server certificates for TLS fault injection (listener faults): made in memory on first use,
// never written to the state folder, so that a client which trusts the emulator's root CA fails
// for the fault's reason alone.
const (
	// FaultCertExpired is the server certificate with the right names, signed by the root CA,
	// that expired yesterday.
	FaultCertExpired = "expired"
	// FaultCertWrongName is a valid server certificate signed by the root CA for a name no
	// client connects to (wrong-name.invalid) and no IP address.
	FaultCertWrongName = "wrong-name"
	// FaultCertUntrustedCA is a valid server certificate with the right names, signed by a CA
	// made for the occasion that no client trusts.
	FaultCertUntrustedCA = "untrusted-ca"
	// FaultCertMaxFragment is the right server certificate padded with a private, non-critical
	// extension so large that the server's Certificate message fills a TLS record of the
	// maximum size (2^14 bytes) and overflows into a second one.
	FaultCertMaxFragment = "max-fragment"
)

// WrongName is the only name of the FaultCertWrongName certificate (.invalid never resolves,
// RFC 6761).
const WrongName = "wrong-name.invalid"

// maxFragmentPadding is the size of the padding extension: more than a TLS record's maximum
// plaintext (16384 bytes), so the Certificate message spans a full record.
const maxFragmentPadding = 17000

// paddingOID is a private-arc OID for the padding extension (unknown to every client, which
// must ignore it as it is not critical).
var paddingOID = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 55555, 1, 1}

// faultCerts caches the fault certificates of an Authority.
type faultCerts struct {
	mu    sync.Mutex
	certs map[string]*tls.Certificate
}

// FaultCertificate returns the server certificate of a TLS fault (FaultCertExpired,
// FaultCertWrongName, FaultCertUntrustedCA, FaultCertMaxFragment), made once per Authority.
// Its key type follows the normal server certificate's, so cipher suites are unchanged.
func (a *Authority) FaultCertificate(name string) (*tls.Certificate, error) {
	fc := &a.faults
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if fc.certs == nil {
		fc.certs = map[string]*tls.Certificate{}
	}
	if c := fc.certs[name]; c != nil {
		return c, nil
	}
	c, err := a.makeFaultCertificate(name)
	if err != nil {
		return nil, err
	}
	fc.certs[name] = c
	return c, nil
}

func (a *Authority) makeFaultCertificate(name string) (*tls.Certificate, error) {
	now := a.now()
	good := a.current.Load().Leaf
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: serverCN, Organization: []string{orgName}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.AddDate(0, 0, 30),
		KeyUsage:              good.KeyUsage,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              good.DNSNames,
		IPAddresses:           good.IPAddresses,
	}
	issuer, issuerKey := a.root.cert, crypto.Signer(a.root.key)
	switch name {
	case FaultCertExpired:
		tmpl.NotBefore = now.AddDate(0, 0, -30)
		tmpl.NotAfter = now.AddDate(0, 0, -1)
	case FaultCertWrongName:
		tmpl.DNSNames, tmpl.IPAddresses = []string{WrongName}, nil
		tmpl.Subject.CommonName = WrongName
	case FaultCertUntrustedCA:
		caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("pki: generate untrusted CA key: %w", err)
		}
		serial, err := randomSerial()
		if err != nil {
			return nil, err
		}
		caTmpl := &x509.Certificate{
			SerialNumber:          serial,
			Subject:               pkix.Name{CommonName: "iotcore-local untrusted CA (TLS fault injection)", Organization: []string{orgName}},
			NotBefore:             now.Add(-backdate),
			NotAfter:              now.AddDate(1, 0, 0),
			KeyUsage:              x509.KeyUsageCertSign,
			BasicConstraintsValid: true,
			IsCA:                  true,
		}
		der, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
		if err != nil {
			return nil, fmt.Errorf("pki: create untrusted CA: %w", err)
		}
		if issuer, err = x509.ParseCertificate(der); err != nil {
			return nil, fmt.Errorf("pki: parse untrusted CA: %w", err)
		}
		issuerKey = caKey
	case FaultCertMaxFragment:
		tmpl.ExtraExtensions = []pkix.Extension{{Id: paddingOID, Value: make([]byte, maxFragmentPadding)}}
	default:
		return nil, fmt.Errorf("pki: no fault certificate named %q", name)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	// The key is the normal server certificate's, so the key type and suites stay the same.
	server := a.current.Load()
	key, ok := server.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("pki: server key %T cannot sign", server.PrivateKey)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, key.Public(), issuerKey)
	if err != nil {
		return nil, fmt.Errorf("pki: create %s fault certificate: %w", name, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("pki: parse %s fault certificate: %w", name, err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}
