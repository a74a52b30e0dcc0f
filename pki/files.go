package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// errIncomplete reports a certificate without its key file or the reverse.
var errIncomplete = errors.New("incomplete key pair")

// readPair reads a CA certificate file and its ECDSA key file. It returns a zero keyPair and nil
// when neither exists, an error wrapping errIncomplete when only one does, and an error naming the
// file when either cannot be parsed, the key is not ECDSA or it does not belong to the certificate.
func readPair(certPath, keyPath string) (keyPair, error) {
	cert, certPEM, key, err := readSignerPair(certPath, keyPath, true)
	if err != nil || cert == nil {
		return keyPair{}, err
	}
	return keyPair{cert: cert, certPEM: certPEM, key: key.(*ecdsa.PrivateKey)}, nil
}

// readSignerPair is readPair for a key of any supported type (ECDSA or RSA), as the server's may
// be, or ECDSA only when ecdsaOnly. cert is nil, with no error, when neither file exists.
func readSignerPair(certPath, keyPath string, ecdsaOnly bool) (cert *x509.Certificate, certPEM []byte, key crypto.Signer, err error) {
	certPEM, certErr := os.ReadFile(certPath)
	keyPEM, keyErr := os.ReadFile(keyPath)
	certMissing, keyMissing := errors.Is(certErr, fs.ErrNotExist), errors.Is(keyErr, fs.ErrNotExist)
	switch {
	case certMissing && keyMissing:
		return nil, nil, nil, nil
	case certMissing:
		return nil, nil, nil, fmt.Errorf("pki: %s exists but %s is missing: %w", keyPath, certPath, errIncomplete)
	case keyMissing:
		return nil, nil, nil, fmt.Errorf("pki: %s exists but %s is missing: %w", certPath, keyPath, errIncomplete)
	case certErr != nil:
		return nil, nil, nil, fmt.Errorf("pki: read %s: %w", certPath, certErr)
	case keyErr != nil:
		return nil, nil, nil, fmt.Errorf("pki: read %s: %w", keyPath, keyErr)
	}
	cert, err = parseCertPEM(certPEM)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("pki: %s: %w", certPath, err)
	}
	key, err = parseKeyPEM(keyPEM)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("pki: %s: %w", keyPath, err)
	}
	if _, ok := key.(*ecdsa.PrivateKey); ecdsaOnly && !ok {
		return nil, nil, nil, fmt.Errorf("pki: %s: private key is a %T, want ECDSA", keyPath, key)
	}
	if pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(cert.PublicKey) {
		return nil, nil, nil, fmt.Errorf("pki: %s does not hold the private key of %s", keyPath, certPath)
	}
	return cert, certPEM, key, nil
}

// parseCertPEM parses the first PEM block as a certificate.
func parseCertPEM(data []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM CERTIFICATE block (the file is damaged)")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("damaged certificate: %w", err)
	}
	return cert, nil
}

// parseKeyPEM parses a PKCS#8 "PRIVATE KEY" block holding an ECDSA or RSA key.
func parseKeyPEM(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errors.New("no PEM PRIVATE KEY block (the file is damaged)")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("damaged private key: %w", err)
	}
	switch k := k.(type) {
	case *ecdsa.PrivateKey:
		return k, nil
	case *rsa.PrivateKey:
		return k, nil
	}
	return nil, fmt.Errorf("private key is a %T, want ECDSA or RSA", k)
}

// keyTypeOf names the type of a server key: KeyECDSA, KeyRSA or "" for anything else.
func keyTypeOf(key crypto.Signer) string {
	switch key.(type) {
	case *ecdsa.PrivateKey:
		return KeyECDSA
	case *rsa.PrivateKey:
		return KeyRSA
	}
	return ""
}

// encodeCert and encodeKey produce the PEM stored in the folder.
func encodeCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func encodeKey(key crypto.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("pki: encode private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// writePair writes a key (0600) and then its certificate (0644), each atomically. The key goes
// first so that a crash in between leaves a key without a certificate, which readPair reports,
// never a certificate whose key is lost.
func writePair(keyPath, certPath string, key crypto.PrivateKey, certPEM []byte) error {
	keyPEM, err := encodeKey(key)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(keyPath, keyPEM, 0o600); err != nil {
		return err
	}
	return writeFileAtomic(certPath, certPEM, 0o644)
}

// writeFileAtomic replaces path with data: it writes a temporary file in the same folder, syncs
// it and renames it over path, so readers see the old content or the new, never a part.
func writeFileAtomic(path string, data []byte, mode os.FileMode) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("pki: write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err = f.Chmod(mode); err != nil {
		return fmt.Errorf("pki: write %s: %w", path, err)
	}
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("pki: write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("pki: sync %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("pki: write %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("pki: replace %s: %w", path, err)
	}
	// Make the rename durable; not every platform can sync a folder, so failure is not fatal.
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}
