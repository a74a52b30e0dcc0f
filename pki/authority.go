package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"os"
	"time"
)

// Names and lifetimes of the emulator's own certificates.
const (
	rootCN   = "iotcore-local Root CA"
	deviceCN = "iotcore-local Device CA"
	serverCN = "iotcore-local server"
	orgName  = "iotcore-local"

	caLifetimeYears     = 10
	serverLifetimeYears = 2
	// serverRenewBefore is how close to expiry a server certificate is replaced at start.
	serverRenewBefore = 30 * 24 * time.Hour
	// backdate tolerates clients whose clocks run a little behind.
	backdate = time.Hour
)

// loadCAs reads the root and device CAs, creating whichever is missing. A CA that exists is never
// replaced: damage, a missing half or a device CA not signed by the root is an error for the
// operator to resolve.
func (a *Authority) loadCAs() error {
	root, err := readPair(a.path(RootCertFile), a.path(RootKeyFile))
	if err != nil {
		return err
	}
	device, err := readPair(a.path(DeviceCACertFile), a.path(DeviceCAKeyFile))
	if err != nil {
		return err
	}
	if root.cert == nil && device.cert != nil {
		return fmt.Errorf("pki: %s exists but %s and %s do not; restore the root CA, or remove %s and %s to start a new CA",
			a.path(DeviceCACertFile), a.path(RootCertFile), a.path(RootKeyFile),
			a.path(DeviceCACertFile), a.path(DeviceCAKeyFile))
	}
	now := a.now()
	if root.cert == nil {
		if root, err = a.createCA(rootCN, nil, now); err != nil {
			return err
		}
		if err := writePair(a.path(RootKeyFile), a.path(RootCertFile), root.key, root.certPEM); err != nil {
			return err
		}
		a.rootCreated = true
		a.log.Info("created root CA", "file", a.shown(RootCertFile), "expires", root.cert.NotAfter)
	} else if !root.cert.IsCA || root.cert.CheckSignatureFrom(root.cert) != nil {
		return fmt.Errorf("pki: %s is not a self-signed CA certificate", a.path(RootCertFile))
	}
	if device.cert == nil {
		if device, err = a.createCA(deviceCN, &root, now); err != nil {
			return err
		}
		if err := writePair(a.path(DeviceCAKeyFile), a.path(DeviceCACertFile), device.key, device.certPEM); err != nil {
			return err
		}
		a.log.Info("created device CA", "file", a.shown(DeviceCACertFile))
	} else if !device.cert.IsCA || device.cert.CheckSignatureFrom(root.cert) != nil {
		return fmt.Errorf("pki: %s is not a CA certificate signed by %s", a.path(DeviceCACertFile), a.path(RootCertFile))
	}
	for _, ca := range []struct {
		file string
		cert *x509.Certificate
	}{{RootCertFile, root.cert}, {DeviceCACertFile, device.cert}} {
		if left := ca.cert.NotAfter.Sub(now); left < serverRenewBefore {
			a.log.Warn("CA certificate expires soon or has expired; remove the CA files to make a new CA",
				"file", a.shown(ca.file), "notAfter", ca.cert.NotAfter)
		}
	}
	a.warnLooseKeyModes(RootKeyFile, DeviceCAKeyFile)
	a.root, a.device = root, device
	return nil
}

// warnLooseKeyModes logs key files that others than the owner can read, which a CA key should never be.
func (a *Authority) warnLooseKeyModes(files ...string) {
	for _, f := range files {
		if st, err := os.Stat(a.path(f)); err == nil && st.Mode().Perm()&0o077 != 0 {
			a.log.Warn("private key file is readable by others; chmod 600 it", "file", a.shown(f), "mode", st.Mode().Perm())
		}
	}
}

// loadServer reuses server.pem unless it is missing, not signed by the root, names other hosts
// than wanted, has another key type than wanted, or expires within 30 days; then it issues a new
// one.
func (a *Authority) loadServer(want nameSet) error {
	now := a.now()
	cert, _, key, err := readSignerPair(a.path(ServerCertFile), a.path(ServerKeyFile), false)
	var reason string
	switch {
	case errors.Is(err, errIncomplete):
		reason = "certificate or key missing"
	case err != nil:
		return fmt.Errorf("%w (remove %s and %s to have them reissued)", err, a.path(ServerCertFile), a.path(ServerKeyFile))
	case cert == nil:
		reason = "none yet"
	case cert.CheckSignatureFrom(a.root.cert) != nil:
		reason = "not signed by the current root CA"
	case !certNames(cert).equal(want):
		reason = fmt.Sprintf("names changed from %v", certNames(cert).sorted())
	case keyTypeOf(key) != a.keyType:
		reason = fmt.Sprintf("key type changed from %s to %s", keyTypeOf(key), a.keyType)
	case cert.NotAfter.Sub(now) < serverRenewBefore:
		reason = "expires within 30 days"
	}
	if reason == "" {
		a.current.Store(&tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert})
		return nil
	}
	return a.issueAndStore(want, reason)
}

// issueAndStore issues a server certificate for want, writes it and its key to the folder and
// makes it the one ServerCertificate returns.
func (a *Authority) issueAndStore(want nameSet, reason string) error {
	cert, key, err := a.issueServer(want, a.now())
	if err != nil {
		return err
	}
	if err := writePair(a.path(ServerKeyFile), a.path(ServerCertFile), key, encodeCert(cert.Raw)); err != nil {
		return err
	}
	a.log.Info("issued server certificate", "reason", reason, "names", want.sorted(), "key", a.keyType,
		"file", a.shown(ServerCertFile), "expires", cert.NotAfter)
	a.current.Store(&tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert})
	return nil
}

// createCA makes a P-256 CA: self-signed when parent is nil (the root, path length 1), otherwise
// an intermediate signed by parent that may sign only leaves.
func (a *Authority) createCA(cn string, parent *keyPair, now time.Time) (keyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return keyPair{}, fmt.Errorf("pki: generate key for %s: %w", cn, err)
	}
	serial, err := randomSerial()
	if err != nil {
		return keyPair{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{orgName}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.AddDate(caLifetimeYears, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	issuer, signer := tmpl, key
	if parent == nil {
		tmpl.MaxPathLen = 1
	} else {
		tmpl.MaxPathLen, tmpl.MaxPathLenZero = 0, true
		tmpl.NotAfter = earliest(tmpl.NotAfter, parent.cert.NotAfter)
		issuer, signer = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, &key.PublicKey, signer)
	if err != nil {
		return keyPair{}, fmt.Errorf("pki: create %s: %w", cn, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return keyPair{}, fmt.Errorf("pki: parse new %s: %w", cn, err)
	}
	return keyPair{cert: cert, certPEM: encodeCert(der), key: key}, nil
}

// issueServer makes the TLS server certificate: a leaf with a key of the wanted type (P-256 or
// RSA-2048) signed by the root for the wanted names, valid two years (or until the root expires).
func (a *Authority) issueServer(names nameSet, now time.Time) (*x509.Certificate, crypto.Signer, error) {
	var key crypto.Signer
	var err error
	usage := x509.KeyUsageDigitalSignature
	if a.keyType == KeyRSA {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
		usage |= x509.KeyUsageKeyEncipherment // TLS 1.2 suites with RSA key exchange
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("pki: generate server key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, err
	}
	dns, ips := names.split()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: serverCN, Organization: []string{orgName}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              earliest(now.AddDate(serverLifetimeYears, 0, 0), a.root.cert.NotAfter),
		KeyUsage:              usage,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              dns,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.root.cert, key.Public(), a.root.key)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: create server certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: parse new server certificate: %w", err)
	}
	return cert, key, nil
}

// serialLimit bounds the random serial numbers: 128 bits, as CA/Browser Forum rules ask for at
// least 64 bits of randomness.
var serialLimit = new(big.Int).Lsh(big.NewInt(1), 128)

// randomSerial returns a random positive 128-bit serial number.
func randomSerial() (*big.Int, error) {
	for {
		n, err := rand.Int(rand.Reader, serialLimit)
		if err != nil {
			return nil, fmt.Errorf("pki: random serial number: %w", err)
		}
		if n.Sign() > 0 {
			return n, nil
		}
	}
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
