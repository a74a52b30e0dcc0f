// Package pki owns the emulator's certificate authorities: the root CA that clients trust, the
// server certificate it signs, and the device CA that signs the certificates the emulator issues.
package pki

import (
	"crypto/tls"
	"log/slog"
)

// Options configure Load.
type Options struct {
	Dir    string   // where the CA material lives; created if missing
	Names  []string // DNS names and IP literals for the server certificate, beyond localhost, 127.0.0.1, ::1
	Logger *slog.Logger
}

// Authority is the loaded (or freshly made) CA material.
type Authority struct{}

// DeviceCredentials is a key pair and certificate, as CreateKeysAndCertificate returns them.
type DeviceCredentials struct {
	CertificatePEM string
	PrivateKeyPEM  string // PKCS#1 "RSA PRIVATE KEY", as AWS returns
	PublicKeyPEM   string // PKIX "PUBLIC KEY"
}

// Load reuses the CA material in opts.Dir or creates it on first use. The server certificate is
// reissued when its names differ from the wanted ones.
func Load(opts Options) (*Authority, error) { panic("not implemented") }

// RootCAPEM is the PEM of the root CA that clients trust.
func (a *Authority) RootCAPEM() []byte { panic("not implemented") }

// RootCAFile is the path of root-ca.pem.
func (a *Authority) RootCAFile() string { panic("not implemented") }

// ServerCertificate is the server's certificate chain and key.
func (a *Authority) ServerCertificate() *tls.Certificate { panic("not implemented") }

// IssueDevice makes an RSA-2048 key and a certificate for it signed by the device CA.
func (a *Authority) IssueDevice() (DeviceCredentials, error) { panic("not implemented") }
