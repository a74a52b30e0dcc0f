// Package pki owns the emulator's certificate authorities: the root CA that clients trust, the
// server certificate it signs, and the device CA that signs the certificates the emulator issues.
//
// The material lives in one folder and is reused across restarts, so that devices and clients
// configured once keep working. Only the server certificate is ever replaced automatically: when
// the wanted host names change or it nears expiry. A CA is never overwritten; damaged CA files are
// reported by name instead.
package pki

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure Load.
type Options struct {
	Dir   string   // where the CA material lives; created if missing
	Names []string // DNS names and IP literals for the server certificate, beyond localhost, 127.0.0.1, ::1
	// DomainNames are the domain configurations' names, which the certificate covers too; they
	// change at runtime through SetDomainNames.
	DomainNames []string
	// KeyType is the server certificate's key: KeyECDSA (P-256, the default when empty) or
	// KeyRSA (RSA-2048); AWS IoT Core serves both, by the client's cipher suites. A server
	// certificate with another key type is reissued. The CAs keep their P-256 keys.
	KeyType string
	Logger  *slog.Logger
}

// Server key types (Options.KeyType).
const (
	KeyECDSA = "ecdsa" // ECDSA on P-256: the cheapest handshake signature
	KeyRSA   = "rsa"   // RSA-2048, for clients that only offer RSA suites
)

// The files Load keeps in Options.Dir. Private keys are PKCS#8 "PRIVATE KEY" PEM, mode 0600.
const (
	RootCertFile     = "root-ca.pem"
	RootKeyFile      = "root-ca.key"
	DeviceCACertFile = "device-ca.pem"
	DeviceCAKeyFile  = "device-ca.key"
	ServerCertFile   = "server.pem"
	ServerKeyFile    = "server.key"
)

// Authority is the loaded (or freshly made) CA material. It is safe for concurrent use; only the
// server certificate changes after Load (SetDomainNames).
type Authority struct {
	dir     string
	log     *slog.Logger
	now     func() time.Time
	keyType string
	root    keyPair
	device  keyPair
	current atomic.Pointer[tls.Certificate] // the server certificate
	names   []string                        // Options.Names
	reissue sync.Mutex                      // serialises SetDomainNames
	// rootCreated is set when this Load made the root CA (rather than reading it from Dir).
	rootCreated bool
	faults      faultCerts // TLS fault certificates, made on first use (faults.go)
}

// RootCACreated reports whether Load made a new root CA rather than reusing one found in the
// folder: devices holding an older root-ca.pem must fetch the new one.
func (a *Authority) RootCACreated() bool { return a.rootCreated }

// keyPair is a CA certificate with its key and PEM encoding.
type keyPair struct {
	cert    *x509.Certificate
	certPEM []byte
	key     *ecdsa.PrivateKey
}

// DeviceCredentials is a key pair and certificate, as CreateKeysAndCertificate returns them.
type DeviceCredentials struct {
	CertificatePEM string
	PrivateKeyPEM  string // PKCS#1 "RSA PRIVATE KEY", as AWS returns
	PublicKeyPEM   string // PKIX "PUBLIC KEY"
}

// Load reuses the CA material in opts.Dir or creates it on first use. The server certificate is
// reissued when its names differ from the wanted ones.
func Load(opts Options) (*Authority, error) { return load(opts, time.Now) }

// load is Load with a clock, so tests can age the material.
func load(opts Options, now func() time.Time) (*Authority, error) {
	if opts.Dir == "" {
		return nil, fmt.Errorf("pki: no directory given for the CA material")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("pki: resolve %s: %w", opts.Dir, err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	want, err := serverNames(append(slices.Clone(opts.Names), opts.DomainNames...))
	if err != nil {
		return nil, err
	}
	keyType := opts.KeyType
	switch keyType {
	case "":
		keyType = KeyECDSA
	case KeyECDSA, KeyRSA:
	default:
		return nil, fmt.Errorf("pki: server key type %q: must be %s or %s", opts.KeyType, KeyECDSA, KeyRSA)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("pki: create %s: %w", dir, err)
	}
	a := &Authority{dir: dir, log: log, now: now, keyType: keyType, names: slices.Clone(opts.Names)}
	if err := a.loadCAs(); err != nil {
		return nil, err
	}
	if err := a.loadServer(want); err != nil {
		return nil, err
	}
	return a, nil
}

// RootCAPEM is the PEM of the root CA that clients trust.
func (a *Authority) RootCAPEM() []byte { return append([]byte(nil), a.root.certPEM...) }

// RootCAFile is the path of root-ca.pem.
func (a *Authority) RootCAFile() string { return a.path(RootCertFile) }

// DeviceCAPEM is the PEM of the device CA, the intermediate that signs issued device certificates.
func (a *Authority) DeviceCAPEM() []byte { return append([]byte(nil), a.device.certPEM...) }

// ServerCertificate is the server's certificate chain and key: the leaf only (clients trust the
// root, as with AWS), with Leaf parsed. Callers must not modify it.
func (a *Authority) ServerCertificate() *tls.Certificate { return a.current.Load() }

// ServerKeyType is the key type of the server certificate: KeyECDSA or KeyRSA.
func (a *Authority) ServerKeyType() string { return a.keyType }

func (a *Authority) path(name string) string { return filepath.Join(a.dir, name) }
