package listener

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
)

// Kind is the personality set of a listener: which ALPN lists it accepts and what each gets.
type Kind int

const (
	// KindMQTTS is the 8883 listener: a client certificate is always required and ALPN is
	// optional. x-amzn-mqtt-ca is selected when offered (some SDKs offer it on every port); any
	// other list, or none, completes the handshake with no protocol selected.
	KindMQTTS Kind = iota + 1
	// KindALPN is the 443 listener: the offered ALPN list picks the personality of the
	// connection. Today only x-amzn-mqtt-ca (MQTT with an X.509 client certificate) is served;
	// every other list, including none, is refused with the fatal alert no_application_protocol.
	KindALPN
)

// String names the kind for logs and errors.
func (k Kind) String() string {
	switch k {
	case KindMQTTS:
		return "mqtts"
	case KindALPN:
		return "alpn"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// ProtocolMQTTCA is the ALPN protocol id with which AWS IoT Core serves MQTT authenticated by an
// X.509 client certificate on port 443.
const ProtocolMQTTCA = "x-amzn-mqtt-ca"

// Defaults for the deadlines of a connection's first stages.
const (
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultConnectTimeout   = 10 * time.Second
)

// Config configures one listener.
type Config struct {
	ID      string // listener id as mochi knows it; also the Listener field of transcripts
	Address string // host:port to bind, e.g. "127.0.0.1:0"
	Kind    Kind
	// Strict is --alpn-strict: on KindALPN only x-amzn-mqtt-ca is served. Today that is also the
	// default; personalities added later must check it.
	Strict bool
	// Certificate returns the server certificate; it is called once per handshake, so a
	// rotated certificate takes effect for the next connection.
	Certificate func() *tls.Certificate
	// HandshakeTimeout bounds the TLS handshake (default 10s).
	HandshakeTimeout time.Duration
	// ConnectTimeout bounds the wait for the first MQTT packet after the handshake (default
	// 10s); mochi replaces the deadline with its keep-alive deadline once CONNECT is read.
	ConnectTimeout time.Duration
	// CertificateStatus reports the registry status of a presented certificate, by certificate
	// id, for the transcript. May be nil.
	CertificateStatus func(certID string) (status string, known bool)
	// Transcripts receives every finished transcript. May be nil.
	Transcripts *Transcripts
	// Logger receives the transcript records and listener diagnostics; nil means the logger
	// mochi passes to Init.
	Logger *slog.Logger
}

// withDefaults fills the zero deadlines.
func (c Config) withDefaults() Config {
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	return c
}

// validate reports the first field that makes the config unusable.
func (c Config) validate() error {
	switch {
	case c.ID == "":
		return errors.New("listener config: ID is empty")
	case c.Kind != KindMQTTS && c.Kind != KindALPN:
		return fmt.Errorf("listener config %q: Kind %v is not KindMQTTS or KindALPN", c.ID, c.Kind)
	case c.Certificate == nil:
		return fmt.Errorf("listener config %q: Certificate is nil", c.ID)
	}
	return nil
}

// personality is what one ClientHello is given: the ALPN protocols the server may select and
// whether it requests a client certificate.
type personality struct {
	nextProtos []string
	clientAuth tls.ClientAuthType
}

// mqttX509 is MQTT authenticated by a client certificate. Trust is by registration, not by
// chain (AWS's model), so any certificate is accepted here and the hooks check the registry.
var mqttX509 = personality{nextProtos: []string{ProtocolMQTTCA}, clientAuth: tls.RequireAnyClientCert}

// choosePersonality maps the offered ALPN list to a personality, or reports that this listener
// serves none of it.
func choosePersonality(kind Kind, strict bool, offered []string) (personality, bool) {
	wantsMQTTCA := slices.Contains(offered, ProtocolMQTTCA)
	switch kind {
	case KindMQTTS:
		if wantsMQTTCA {
			return mqttX509, true
		}
		// nil NextProtos: Go never fails on ALPN, whatever the client offered.
		return personality{clientAuth: tls.RequireAnyClientCert}, true
	case KindALPN:
		if wantsMQTTCA {
			return mqttX509, true
		}
		// Personalities other than x-amzn-mqtt-ca go here, each skipped when strict.
	}
	return personality{}, false
}

// servedProtocols lists the ALPN protocols a listener answers, for refusal messages.
func servedProtocols(kind Kind, strict bool) []string {
	// The same list with and without strict today; later personalities add theirs when !strict.
	return []string{ProtocolMQTTCA}
}

// noApplicationProtocolError is the refusal of a ClientHello whose ALPN list (possibly empty)
// matches no personality of the listener. Its text is the transcript detail.
type noApplicationProtocolError struct {
	offered []string
	served  []string
}

func (e *noApplicationProtocolError) Error() string {
	offered := "no ALPN offered"
	if len(e.offered) > 0 {
		offered = fmt.Sprintf("ALPN offered %v, none of them served here", e.offered)
	}
	return fmt.Sprintf("no_application_protocol: %s; this port serves %s", offered, strings.Join(e.served, ", "))
}

// errNoServerCertificate aborts a handshake when Config.Certificate has nothing to serve.
var errNoServerCertificate = errors.New("no server certificate available")

// configForClient returns the GetConfigForClient callback of one connection. It records SNI and
// the offered ALPN list in the transcript, picks the personality, and either returns the TLS
// configuration for it or refuses the ClientHello with alert 120 through ac. A refused
// ClientHello never gets a CertificateRequest: the refusal happens before the ServerHello.
func (l *Listener) configForClient(ac *alertConn, t *Transcript) func(*tls.ClientHelloInfo) (*tls.Config, error) {
	return func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		t.setHello(hello.ServerName, hello.SupportedProtos)
		p, ok := choosePersonality(l.cfg.Kind, l.cfg.Strict, hello.SupportedProtos)
		if !ok {
			refusal := &noApplicationProtocolError{
				offered: slices.Clone(hello.SupportedProtos),
				served:  servedProtocols(l.cfg.Kind, l.cfg.Strict),
			}
			if err := ac.rejectNoApplicationProtocol(); err != nil {
				return nil, fmt.Errorf("%w (sending the alert failed: %w)", refusal, err)
			}
			return nil, refusal
		}
		cert := l.cfg.Certificate()
		if cert == nil {
			return nil, errNoServerCertificate
		}
		t.setClientCertRequested(p.clientAuth != tls.NoClientCert)
		return &tls.Config{
			Certificates:           []tls.Certificate{*cert},
			NextProtos:             p.nextProtos,
			ClientAuth:             p.clientAuth,
			MinVersion:             tls.VersionTLS12,
			SessionTicketsDisabled: true, // AWS IoT Core does not support session tickets
		}, nil
	}
}
