package listener

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Kind is the personality set of a listener: which ALPN lists it accepts and what each gets.
type Kind int

const (
	// KindMQTTS is the 8883 listener: a client certificate is always required and ALPN is
	// optional. x-amzn-mqtt-ca is selected when offered (some SDKs offer it on every port); any
	// other list, or none, completes the handshake with no protocol selected. It serves MQTT only.
	KindMQTTS Kind = iota + 1
	// KindALPN is the 443 listener: the offered ALPN list picks the personality of the
	// connection (see choose in personality.go). x-amzn-mqtt-ca is MQTT with an X.509 client
	// certificate; with Config.HTTP set and Strict off, x-amzn-http-ca is HTTPS with a required
	// client certificate, and no ALPN, http/1.1 or h2 is HTTPS without a certificate request.
	// Every other list is refused with the fatal alert no_application_protocol.
	KindALPN
	// KindHTTPS is the 8443 listener: HTTPS only, a client certificate always required. No ALPN,
	// http/1.1 or h2 is served; any other list is refused with no_application_protocol. It needs
	// Config.HTTP and carries no MQTT, so it runs without mochi (Serve(nil), Close(nil)).
	KindHTTPS
)

// String names the kind for logs and errors.
func (k Kind) String() string {
	switch k {
	case KindMQTTS:
		return "mqtts"
	case KindALPN:
		return "alpn"
	case KindHTTPS:
		return "https"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// ALPN protocol ids the listener selects.
const (
	// ProtocolMQTTCA is the ALPN protocol id with which AWS IoT Core serves MQTT authenticated
	// by an X.509 client certificate on port 443.
	ProtocolMQTTCA = "x-amzn-mqtt-ca"
	// ProtocolHTTPCA is the ALPN protocol id with which AWS IoT Core serves HTTPS authenticated
	// by an X.509 client certificate on port 443.
	ProtocolHTTPCA = "x-amzn-http-ca"
	// ProtocolHTTP1 and ProtocolHTTP2 are the standard ALPN ids of HTTP/1.1 and HTTP/2.
	ProtocolHTTP1 = "http/1.1"
	ProtocolHTTP2 = "h2"
	// ProtocolMQTT is the ALPN protocol id of MQTT with custom authentication on port 443: no
	// client certificate, the username and password go to a custom authorizer.
	ProtocolMQTT = "mqtt"
)

// Defaults for the deadlines of a connection's stages.
const (
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultConnectTimeout   = 10 * time.Second
	// DefaultHTTPReadHeaderTimeout bounds the wait for an HTTPS request's headers, the first
	// request's included: HTTPS's counterpart of the CONNECT deadline.
	DefaultHTTPReadHeaderTimeout = 10 * time.Second
	// DefaultHTTPIdleTimeout closes an idle keep-alive HTTPS connection. It is longer than the
	// idle timeouts of common client pools (Go and the AWS SDKs: 90s), so that clients close
	// first and never reuse a connection the server is closing.
	DefaultHTTPIdleTimeout = 120 * time.Second
)

// DefaultMaxConnectBytes caps a CONNECT packet: a client id (AWS: 128 bytes), user name,
// password (custom authorizer tokens), MQTT 5 properties and a will with its payload. AWS IoT
// Core documents no CONNECT limit; 64 KiB leaves room for a will of up to ~60 KiB and bounds
// what an unauthenticated peer can make the server hold.
const DefaultMaxConnectBytes = 64 * 1024

// Config configures one listener.
type Config struct {
	ID      string // listener id as mochi knows it; also the Listener field of transcripts
	Address string // host:port to bind, e.g. "127.0.0.1:0"
	Kind    Kind
	// CustomAuth serves ALPN mqtt on KindALPN (without Strict): MQTT with custom authentication,
	// no certificate requested.
	CustomAuth bool
	// Strict is --alpn-strict: on KindALPN only x-amzn-mqtt-ca is served; every other ALPN list
	// (none included) is refused with no_application_protocol even when HTTP is set. Other
	// kinds ignore it.
	Strict bool
	// HTTP serves the HTTPS personalities: on KindALPN (unless Strict) x-amzn-http-ca, no ALPN,
	// http/1.1 and h2; on KindHTTPS everything. nil turns the HTTPS personalities of KindALPN
	// off (they are refused with no_application_protocol); KindHTTPS requires it; KindMQTTS
	// ignores it. Requests carry the client certificate in r.TLS (x-amzn-http-ca and KindHTTPS
	// only) and the connection's transcript in their context (TranscriptFromContext). Trust is by
	// registration: the handler, not the listener, checks the certificate against the registry.
	HTTP http.Handler
	// HTTPReadHeaderTimeout bounds the wait for each HTTPS request's headers (default 10s);
	// HTTPIdleTimeout closes idle keep-alive HTTPS connections (default 120s). The CONNECT
	// deadline (ConnectTimeout) does not apply to HTTPS.
	HTTPReadHeaderTimeout time.Duration
	HTTPIdleTimeout       time.Duration
	// Certificate returns the server certificate; it is called once per handshake, so a
	// rotated certificate takes effect for the next connection.
	Certificate func() *tls.Certificate
	// HandshakeTimeout bounds the TLS handshake (default 10s).
	HandshakeTimeout time.Duration
	// ConnectTimeout bounds the wait for the first MQTT packet after the handshake (default
	// 10s); mochi replaces the deadline with its keep-alive deadline once CONNECT is read.
	ConnectTimeout time.Duration
	// CloseClients, when set, disconnects the broker's clients of this listener at Close instead
	// of the function mochi passes to Close. Mochi v2.7.9's own (Server.closeListenerClients)
	// takes its clients' read lock twice (Clients.GetByListener calls Len), which deadlocks for
	// good when a client's disconnect is waiting for the write lock in between.
	CloseClients func(listenerID string)
	// MaxConnectBytes caps the first MQTT packet of a connection (the CONNECT, read before the
	// peer is authenticated): a longer claim ends the connection before its body is read, and
	// the bytes are collected as they arrive, never allocated at the claimed length (default
	// DefaultMaxConnectBytes; negative: no cap).
	MaxConnectBytes int
	// MaxPacketBytes is the maximum MQTT packet size after CONNECT, the broker's
	// Capabilities.MaximumPacketSize; the listener applies it to the packets it collects whole
	// (SUBSCRIBE, UNSUBSCRIBE, AUTH). 0 means no cap here.
	MaxPacketBytes int
	// CertificateStatus reports the registry status of a presented certificate, by certificate
	// id, for the transcript. May be nil.
	CertificateStatus func(certID string) (status string, known bool)
	// CertificateThing names the thing a presented certificate is attached to (the first, if
	// several), for the transcript's client certificate step. May be nil.
	CertificateThing func(certID string) string
	// Domains returns the domain configuration that decides a ClientHello with this server
	// name (SNI; "" when none was sent): the one with that domain name, else the default
	// (iot:Data-ATS). nil: no domain configurations, the port/ALPN table decides (domains.go).
	Domains func(serverName string) Domain
	// Transcripts receives every finished transcript. May be nil: then no transcript is kept
	// and no step is recorded (each connection is still logged).
	Transcripts *Transcripts
	// Faults are the TLS faults to inject (fault injection); nil or empty injects none.
	Faults *Faults
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
	if c.HTTPReadHeaderTimeout <= 0 {
		c.HTTPReadHeaderTimeout = DefaultHTTPReadHeaderTimeout
	}
	if c.HTTPIdleTimeout <= 0 {
		c.HTTPIdleTimeout = DefaultHTTPIdleTimeout
	}
	if c.MaxConnectBytes == 0 {
		c.MaxConnectBytes = DefaultMaxConnectBytes
	}
	return c
}

// validate reports the first field that makes the config unusable.
func (c Config) validate() error {
	switch {
	case c.ID == "":
		return errors.New("listener config: ID is empty")
	case c.Kind != KindMQTTS && c.Kind != KindALPN && c.Kind != KindHTTPS:
		return fmt.Errorf("listener config %q: Kind %v is not KindMQTTS, KindALPN or KindHTTPS", c.ID, c.Kind)
	case c.Certificate == nil:
		return fmt.Errorf("listener config %q: Certificate is nil", c.ID)
	case c.Kind == KindHTTPS && c.HTTP == nil:
		return fmt.Errorf("listener config %q: Kind https needs an HTTP handler", c.ID)
	}
	return nil
}

// noApplicationProtocolError is the refusal of a ClientHello whose ALPN list (possibly empty)
// matches no personality of the listener. Its text is the transcript detail.
type noApplicationProtocolError struct {
	offered []string
	served  []string
	noALPN  bool // the listener also serves ClientHellos without ALPN
}

func (e *noApplicationProtocolError) Error() string {
	offered := "no ALPN offered"
	if len(e.offered) > 0 {
		offered = fmt.Sprintf("ALPN offered %v, none of them served here", e.offered)
	}
	served := strings.Join(e.served, ", ")
	if e.noALPN {
		served += ", or no ALPN"
	}
	return fmt.Sprintf("no_application_protocol: %s; this port serves %s", offered, served)
}

// errNoServerCertificate aborts a handshake when Config.Certificate has nothing to serve.
var errNoServerCertificate = errors.New("no server certificate available")

// configForClient returns the GetConfigForClient callback of one connection. It records SNI and
// the offered ALPN list in the transcript, picks the personality (stored in chosen for the
// caller, once the handshake is over), records the ClientHello step (with the key shares read
// from capture, which may be nil), applies the TLS faults that match, and either returns the TLS configuration for it or
// refuses the ClientHello with alert 120 through ac. A refused ClientHello never gets a
// CertificateRequest: the refusal happens before the ServerHello.
func (l *Listener) configForClient(ac *alertConn, capture *helloCapture, t *Transcript, chosen *personality) func(*tls.ClientHelloInfo) (*tls.Config, error) {
	return func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		t.setHello(hello.ServerName, hello.SupportedProtos)
		d := l.domainFor(hello.ServerName)
		var p personality
		var ok bool
		var domainNote func() string
		byTable := true
		if d == nil {
			p, ok = l.rules.choose(hello.SupportedProtos)
		} else {
			p, ok, byTable, domainNote = l.rules.chooseDomain(d, hello.SupportedProtos)
		}
		if t.keepsSteps() {
			var shares []tls.CurveID
			var found bool
			if capture != nil {
				shares, found = keyShareGroups(capture.release())
			}
			// The details are made when the transcript is read, from copies of what they
			// describe (the ClientHelloInfo holds the connection).
			h := helloFactsOf(hello, shares, found)
			rules := l.rules
			t.StepLazy(StepClientHello, func() string {
				decision := "the domain configuration decides (next step)"
				if byTable {
					decision = decisionStep(rules, h.protos, p, ok)
				}
				return h.step() + "; " + decision
			})
			if d != nil && !d.Quiet {
				t.StepLazy(StepDomain, domainNote)
			}
		}
		if d != nil && d.Disabled {
			refusal := &domainDisabledError{name: d.Name, serverName: hello.ServerName}
			if err := ac.rejectAccessDenied(); err != nil {
				return nil, fmt.Errorf("%w (sending the alert failed: %w)", refusal, err)
			}
			return nil, refusal
		}
		if !ok {
			refusal := &noApplicationProtocolError{
				offered: slices.Clone(hello.SupportedProtos),
				served:  l.rules.served(),
				noALPN:  l.rules.servesNoALPN(),
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
		if d != nil && d.Staple != nil {
			var note string
			cert, note = d.Staple(cert)
			t.Step(StepOCSP, note)
		}
		*chosen = p
		t.setPersonality(p.name, p.clientAuth != tls.NoClientCert)
		if faults := l.cfg.Faults.match(l.cfg.ID, hello.ServerName); len(faults) > 0 {
			cfg, notes, err := l.faultyConfig(p, cert, faults)
			if err != nil {
				return nil, err
			}
			t.setFaults(faults)
			for _, n := range notes {
				t.Step(StepTLSFault, n)
			}
			return cfg, nil
		}
		if d != nil {
			return l.domainConfig(d, p, cert, hello.ServerName), nil
		}
		return l.serverConfig(p, cert), nil
	}
}

// personalityConfig is the TLS configuration of one personality with one server certificate.
type personalityConfig struct {
	cert   *tls.Certificate
	config *tls.Config
}

// serverConfig returns the TLS configuration for personality p and the server certificate cert,
// made once per personality and certificate (a new certificate gets a new one): a connection
// keeps its configuration for as long as it lives, so sharing it saves every idle connection
// its own copy.
func (l *Listener) serverConfig(p personality, cert *tls.Certificate) *tls.Config {
	key := p.key()
	if v, ok := l.configs.Load(key); ok {
		if pc := v.(*personalityConfig); pc.cert == cert {
			return pc.config
		}
	}
	pc := &personalityConfig{cert: cert, config: &tls.Config{
		Certificates:           []tls.Certificate{*cert},
		NextProtos:             p.nextProtos,
		ClientAuth:             p.clientAuth,
		MinVersion:             tls.VersionTLS12,
		SessionTicketsDisabled: true, // AWS IoT Core does not support session tickets
	}}
	l.configs.Store(key, pc)
	return pc.config
}
