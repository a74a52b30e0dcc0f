package listener

import (
	"crypto/ecdsa"
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// TLS faults: the server misbehaves on purpose so that firmware can prove it refuses a bad
// server (the TLS cases of AWS's Device Advisor, locally).
const (
	FaultExpired     = "expired"      // an expired server certificate signed by the emulator's CA
	FaultWrongName   = "wrong-name"   // a server certificate for another name, signed by the emulator's CA
	FaultUntrustedCA = "untrusted-ca" // a server certificate with the right names from a CA nobody trusts
	FaultMaxFragment = "max-fragment" // a Certificate message filling a maximum-size TLS record; full-size records afterwards
	FaultWeakCiphers = "weak-ciphers" // TLS 1.2 with CBC/SHA-1 cipher suites only
	FaultTLS12Only   = "tls12-only"   // TLS 1.2 at most
)

// FaultNames lists the faults, in the order they are documented.
var FaultNames = []string{FaultExpired, FaultWrongName, FaultUntrustedCA, FaultMaxFragment, FaultWeakCiphers, FaultTLS12Only}

// certificateFaults are the faults that replace the server certificate; one applies at a time.
var certificateFaults = []string{FaultExpired, FaultWrongName, FaultUntrustedCA, FaultMaxFragment}

// FaultRule applies a fault to the connections of a target: every connection ("" ), those of a
// listener (its id: mqtts, alpn, https), or those whose ClientHello carries the target as SNI,
// or as the first label of the SNI (sensor-1 matches sensor-1.localhost). A client id is not in
// the ClientHello, so a device is targeted by the host name it connects to.
type FaultRule struct {
	Name   string `json:"name"`
	Target string `json:"target"`
}

// String is NAME or NAME@TARGET, the form ParseFaultRule reads.
func (r FaultRule) String() string {
	if r.Target == "" {
		return r.Name
	}
	return r.Name + "@" + r.Target
}

// ParseFaultRule reads NAME[@TARGET].
func ParseFaultRule(s string) (FaultRule, error) {
	name, target, _ := strings.Cut(strings.TrimSpace(s), "@")
	r := FaultRule{Name: name, Target: target}
	return r, r.validate()
}

func (r FaultRule) validate() error {
	if !slices.Contains(FaultNames, r.Name) {
		return fmt.Errorf("tls fault %q: unknown name; choose one of %s", r.Name, strings.Join(FaultNames, ", "))
	}
	if strings.ContainsAny(r.Target, " \t/@") || len(r.Target) > 253 {
		return fmt.Errorf("tls fault %q: target %q must be a listener id, a host name or the first label of one", r.String(), r.Target)
	}
	return nil
}

// matches reports whether the rule applies to a connection on listener with SNI sni.
func (r FaultRule) matches(listenerID, sni string) bool {
	switch {
	case r.Target == "" || r.Target == listenerID:
		return true
	case sni == "":
		return false
	case strings.EqualFold(r.Target, sni):
		return true
	}
	first, _, _ := strings.Cut(sni, ".")
	return strings.EqualFold(r.Target, first)
}

// Faults is the set of fault rules the listeners of an emulator share; it changes at run time
// (API) and a change applies from the next handshake. With no rule it costs a handshake one
// atomic load.
type Faults struct {
	certs func(name string) (*tls.Certificate, error)

	n     atomic.Int32
	mu    sync.RWMutex
	rules []FaultRule
}

// NewFaults returns an empty rule set; certs returns the server certificate of a certificate
// fault (pki.Authority.FaultCertificate).
func NewFaults(certs func(name string) (*tls.Certificate, error)) *Faults {
	return &Faults{certs: certs}
}

// Rules returns the rules, in the order they were added.
func (f *Faults) Rules() []FaultRule {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return slices.Clone(f.rules)
}

// Add adds a rule (an identical rule is kept once). The fault's certificate is made now, so a
// problem shows here rather than in a handshake.
func (f *Faults) Add(r FaultRule) error {
	if err := r.validate(); err != nil {
		return err
	}
	if slices.Contains(certificateFaults, r.Name) {
		if f.certs == nil {
			return fmt.Errorf("tls fault %s: no fault certificates are configured", r)
		}
		if _, err := f.certs(r.Name); err != nil {
			return fmt.Errorf("tls fault %s: %w", r, err)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !slices.Contains(f.rules, r) {
		f.rules = append(f.rules, r)
	}
	f.n.Store(int32(len(f.rules)))
	return nil
}

// Remove removes a rule and reports whether it was there.
func (f *Faults) Remove(r FaultRule) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := slices.Index(f.rules, r)
	if i < 0 {
		return false
	}
	f.rules = slices.Delete(f.rules, i, i+1)
	f.n.Store(int32(len(f.rules)))
	return true
}

// Clear removes every rule.
func (f *Faults) Clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = nil
	f.n.Store(0)
}

// match returns the names of the faults that apply, deduplicated, in FaultNames order.
func (f *Faults) match(listenerID, sni string) []string {
	if f == nil || f.n.Load() == 0 {
		return nil
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	var names []string
	for _, name := range FaultNames {
		for _, r := range f.rules {
			if r.Name == name && r.matches(listenerID, sni) {
				names = append(names, name)
				break
			}
		}
	}
	return names
}

// weakSuites are the TLS 1.2 suites of the weak-ciphers fault: CBC with a SHA-1 MAC, no AEAD,
// for each server key type.
var (
	weakSuitesECDSA = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA}
	weakSuitesRSA   = []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA}
)

var errFaultCertificate = errors.New("the fault's server certificate is not available")

// faultyConfig returns the TLS configuration of personality p with the named faults applied, and
// a sentence per fault for the transcript.
func (l *Listener) faultyConfig(p personality, cert *tls.Certificate, names []string) (*tls.Config, []string, error) {
	cfg := l.serverConfig(p, cert).Clone()
	var notes []string
	certDone := false
	for _, name := range names {
		switch {
		case slices.Contains(certificateFaults, name):
			if certDone {
				notes = append(notes, name+": not applied (one server certificate fault at a time)")
				continue
			}
			fc, err := l.cfg.Faults.certs(name)
			if err != nil || fc == nil {
				return nil, nil, fmt.Errorf("tls fault %s: %w", name, errors.Join(errFaultCertificate, err))
			}
			cfg.Certificates = []tls.Certificate{*fc}
			certDone = true
			notes = append(notes, faultNote(name, fc))
			if name == FaultMaxFragment {
				cfg.DynamicRecordSizingDisabled = true
			}
		case name == FaultTLS12Only:
			cfg.MaxVersion = tls.VersionTLS12
			notes = append(notes, "tls12-only: TLS 1.3 is not offered; TLS 1.2 at most")
		case name == FaultWeakCiphers:
			cfg.MaxVersion = tls.VersionTLS12
			suites := weakSuitesRSA
			if _, ok := cert.PrivateKey.(*ecdsa.PrivateKey); ok {
				suites = weakSuitesECDSA
			}
			cfg.CipherSuites = suites
			notes = append(notes, "weak-ciphers: TLS 1.2 only, with the suites "+cipherList(suites))
		}
	}
	return cfg, notes, nil
}

// faultNote describes a certificate fault for the transcript.
func faultNote(name string, c *tls.Certificate) string {
	leaf := c.Leaf
	if leaf == nil {
		return name
	}
	switch name {
	case FaultExpired:
		return fmt.Sprintf("expired: serving a server certificate signed by the emulator's CA that expired %s", leaf.NotAfter.UTC().Format("2006-01-02 15:04 MST"))
	case FaultWrongName:
		return fmt.Sprintf("wrong-name: serving a server certificate signed by the emulator's CA for %v only", leaf.DNSNames)
	case FaultUntrustedCA:
		return fmt.Sprintf("untrusted-ca: serving a server certificate with the right names signed by %q, which no client trusts", leaf.Issuer.CommonName)
	case FaultMaxFragment:
		return fmt.Sprintf("max-fragment: serving a %d-byte server certificate, so the Certificate message fills a maximum-size (16384-byte) TLS record; later records are full-size too", len(leaf.Raw))
	}
	return name
}
