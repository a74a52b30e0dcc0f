package pki

import (
	"fmt"
	"os"
	"path/filepath"
)

// The file names AWS IoT's console download uses, which device SDK samples expect.
const (
	CertificateFile = "certificate.pem.crt"
	PrivateKeyFile  = "private.pem.key"
	PublicKeyFile   = "public.pem.key"
	RootCAFile      = "root-ca.pem"
)

// WriteDeviceFiles writes a device's credentials and the root CA that clients trust into dir
// (created with mode 0700): certificate.pem.crt, private.pem.key (0600), public.pem.key and
// root-ca.pem. Each file is written to a temporary name and renamed, so a crash never leaves a
// half-written key.
func WriteDeviceFiles(dir string, creds DeviceCredentials, rootCAPEM []byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create credentials folder: %w", err)
	}
	files := []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{CertificateFile, []byte(creds.CertificatePEM), 0o644},
		{PrivateKeyFile, []byte(creds.PrivateKeyPEM), 0o600},
		{PublicKeyFile, []byte(creds.PublicKeyPEM), 0o644},
		{RootCAFile, rootCAPEM, 0o644},
	}
	for _, f := range files {
		if len(f.data) == 0 {
			continue
		}
		if err := writeFileAtomic(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return err
		}
	}
	return nil
}
