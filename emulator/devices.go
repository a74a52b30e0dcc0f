package emulator

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/iotcore-local/iotcore-local/auth"
	"github.com/iotcore-local/iotcore-local/registry"
)

// Device is a thing with an ACTIVE certificate and its key: what a device, or a test playing
// one, needs to connect.
type Device struct {
	ThingName      string
	CertificateID  string
	CertificateARN string
	CertificatePEM string
	PrivateKeyPEM  string
	RootCAPEM      []byte
}

// TLSConfig is a client configuration for this device: its certificate, the emulator's root CA,
// server name "localhost", and the given ALPN protocols (use "x-amzn-mqtt-ca" on the ALPN port).
func (d *Device) TLSConfig(alpn ...string) (*tls.Config, error) {
	cert, err := tls.X509KeyPair([]byte(d.CertificatePEM), []byte(d.PrivateKeyPEM))
	if err != nil {
		return nil, fmt.Errorf("device %s key pair: %w", d.ThingName, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(d.RootCAPEM) {
		return nil, errors.New("root CA PEM holds no certificate")
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		ServerName:   "localhost",
		NextProtos:   alpn,
		MinVersion:   tls.VersionTLS12,
	}, nil
}

// CreateDevice creates (or reuses) a thing, a policy named THING-policy with the given document
// (none when document is empty), and a new ACTIVE certificate issued by the emulator's device CA,
// attached to both — what CreateKeysAndCertificate, CreatePolicy, AttachPolicy and
// AttachThingPrincipal do through the API.
func (e *Emulator) CreateDevice(thingName, policyDocument string) (*Device, error) {
	if _, err := e.registry.CreateThing(registry.CreateThingInput{Name: thingName}); err != nil {
		return nil, fmt.Errorf("create thing %s: %w", thingName, err)
	}
	var policies []string
	if policyDocument != "" {
		name := thingName + "-policy"
		if err := e.ensurePolicy(name, policyDocument); err != nil {
			return nil, err
		}
		policies = append(policies, name)
	}
	creds, err := e.pki.IssueDevice()
	if err != nil {
		return nil, fmt.Errorf("issue certificate for %s: %w", thingName, err)
	}
	cert, err := e.registry.RegisterCertificate(creds.CertificatePEM, registry.StatusActive, "")
	if err != nil {
		return nil, fmt.Errorf("register certificate for %s: %w", thingName, err)
	}
	if err := e.attach(cert.ARN, thingName, policies); err != nil {
		return nil, err
	}
	return &Device{
		ThingName:      thingName,
		CertificateID:  cert.ID,
		CertificateARN: cert.ARN,
		CertificatePEM: creds.CertificatePEM,
		PrivateKeyPEM:  creds.PrivateKeyPEM,
		RootCAPEM:      e.pki.RootCAPEM(),
	}, nil
}

// ensurePolicy creates a policy, or accepts an existing one with the same document.
func (e *Emulator) ensurePolicy(name, document string) error {
	_, err := e.registry.CreatePolicy(name, document)
	if errors.Is(err, registry.ErrAlreadyExists) {
		existing, gerr := e.registry.GetPolicy(name)
		if gerr != nil {
			return fmt.Errorf("read policy %s: %w", name, gerr)
		}
		if sameJSON(existing.Document, document) {
			return nil
		}
		return fmt.Errorf("policy %s already exists with a different document; delete it or choose another name", name)
	}
	if err != nil {
		return fmt.Errorf("create policy %s: %w", name, err)
	}
	for _, w := range auth.DocumentWarnings(document) {
		e.log.Warn("policy accepted with a warning", "policy", name, "field", w.Field, "warning", w.Message)
	}
	return nil
}

// attach attaches the policies and the thing to a certificate (idempotent).
func (e *Emulator) attach(certARN, thingName string, policies []string) error {
	for _, p := range policies {
		if err := e.registry.AttachPolicy(p, certARN); err != nil {
			return fmt.Errorf("attach policy %s: %w", p, err)
		}
	}
	if thingName != "" {
		if err := e.registry.AttachThingPrincipal(thingName, certARN, registry.NonExclusiveThing); err != nil {
			return fmt.Errorf("attach certificate to thing %s: %w", thingName, err)
		}
	}
	return nil
}
