// Package probe is the client side of teaching the handshake: it tries the TLS handshakes a
// device could attempt against an endpoint — each ALPN list AWS IoT Core distinguishes and one
// nobody serves, with and without a client certificate, TLS 1.2 and 1.3, SNI variants — then
// speaks the protocol the server chose (an MQTT CONNECT or an HTTP GET) and narrates, for each
// attempt, what the server did: the alert and its number, the certificate request, the protocol
// chosen, the CONNACK or HTTP status. It works against the emulator or any endpoint; remote
// (non-loopback) targets must be allowed explicitly.
package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"time"
)

// UnservedALPN is the ALPN id in the default set that no server serves, to show what a server
// does with an unknown protocol.
const UnservedALPN = "x-iotcore-local-probe-unknown"

// DefaultALPNLists are the ALPN lists tried by default: none, the four AWS IoT Core
// distinguishes on 443, and one nobody serves.
var DefaultALPNLists = [][]string{nil, {"x-amzn-mqtt-ca"}, {"x-amzn-http-ca"}, {"mqtt"}, {"http/1.1"}, {UnservedALPN}}

// Options configure a probe run.
type Options struct {
	Target      string     // HOST:PORT
	CAFile      string     // CA the server certificate is checked against; "" uses the system roots
	CertFile    string     // client certificate (PEM); with KeyFile, attempts are made with and without it
	KeyFile     string     // its private key
	SNI         string     // server name to send; "" uses HOST (no SNI when HOST is an IP address)
	ALPNLists   [][]string // ALPN lists to try; nil tries DefaultALPNLists
	Versions    []uint16   // TLS versions to try; nil tries 1.2 and 1.3
	ClientID    string     // MQTT client id of the CONNECT; default "iotcore-local-probe"
	AllowRemote bool       // allow a target that is not on loopback
	Timeout     time.Duration
}

// Attempt is one handshake and what followed.
type Attempt struct {
	ALPNOffered          []string    `json:"alpnOffered"`
	ALPNSelected         string      `json:"alpnSelected"`
	SNI                  string      `json:"sni"`
	TLSVersionOffered    string      `json:"tlsVersionOffered"`
	TLSVersion           string      `json:"tlsVersion"`
	CipherSuite          string      `json:"cipherSuite"`
	CertificateReady     bool        `json:"certificateReady"` // a client certificate was at hand to send if asked
	CertificateRequested bool        `json:"certificateRequested"`
	CertificateSent      bool        `json:"certificateSent"`
	ServerCertificate    *ServerCert `json:"serverCertificate"`
	Alert                *Alert      `json:"alert"`
	MQTT                 *MQTTResult `json:"mqtt,omitempty"`
	HTTP                 *HTTPResult `json:"http,omitempty"`
	Error                string      `json:"error,omitempty"`
	Narrative            string      `json:"narrative"`
}

// ServerCert is what the probe saw of the server certificate.
type ServerCert struct {
	Subject     string    `json:"subject"`
	Issuer      string    `json:"issuer"`
	Names       []string  `json:"names"`
	NotAfter    time.Time `json:"notAfter"`
	Size        int       `json:"size"`
	Verified    bool      `json:"verified"`
	VerifyError string    `json:"verifyError,omitempty"`
}

// MQTTResult is the answer to the probe's MQTT CONNECT: the CONNACK return code, or null when
// the server closed the connection without one (AWS IoT's answer to a refused CONNECT).
type MQTTResult struct {
	Connack *int `json:"connack"`
}

// HTTPResult is the status of the probe's GET /health.
type HTTPResult struct {
	Status int `json:"status"`
}

// ErrRemote refuses a target that is not on loopback without Options.AllowRemote.
var ErrRemote = errors.New("target is not on loopback")

// plan is one attempt to make.
type plan struct {
	alpn     []string
	version  uint16
	withCert bool
	sni      string
}

// Run makes every attempt of the options, in order, and returns them. It fails only on bad
// options (unreadable files, a remote target not allowed); what the server does, failures
// included, is in the attempts.
func Run(ctx context.Context, opts Options) ([]Attempt, error) {
	host, port, err := net.SplitHostPort(opts.Target)
	if err != nil {
		return nil, fmt.Errorf("target %q: want HOST:PORT: %w", opts.Target, err)
	}
	if err := checkLoopback(ctx, host, opts.AllowRemote); err != nil {
		return nil, err
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.ClientID == "" {
		opts.ClientID = "iotcore-local-probe"
	}
	roots, err := loadRoots(opts.CAFile)
	if err != nil {
		return nil, err
	}
	var cert *tls.Certificate
	switch {
	case opts.CertFile != "" && opts.KeyFile != "":
		c, err := tls.LoadX509KeyPair(opts.CertFile, opts.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("--cert %s / --key %s: %w", opts.CertFile, opts.KeyFile, err)
		}
		cert = &c
	case opts.CertFile != "" || opts.KeyFile != "":
		return nil, errors.New("--cert and --key go together")
	}
	sni := opts.SNI
	if sni == "" && net.ParseIP(host) == nil {
		sni = host
	}
	var plans []plan
	lists := opts.ALPNLists
	if lists == nil {
		lists = DefaultALPNLists
	}
	versions := opts.Versions
	if versions == nil {
		versions = []uint16{tls.VersionTLS12, tls.VersionTLS13}
	}
	certChoices := []bool{false}
	if cert != nil {
		certChoices = []bool{false, true}
	}
	for _, l := range lists {
		for _, withCert := range certChoices {
			for _, v := range versions {
				plans = append(plans, plan{alpn: l, version: v, withCert: withCert, sni: sni})
			}
		}
	}
	// SNI variants, on the MQTT-with-certificate case when a certificate is given (else on the
	// first list): no SNI, and the IP literal some SDKs send.
	if opts.SNI == "" && opts.ALPNLists == nil {
		base := plan{alpn: []string{"x-amzn-mqtt-ca"}, version: versions[len(versions)-1], withCert: cert != nil}
		variants := []string{""}
		if sni != "" {
			variants = append(variants, "127.0.0.1")
		}
		for _, v := range variants {
			if v != sni {
				p := base
				p.sni = v
				plans = append(plans, p)
			}
		}
	}
	dialAddr := net.JoinHostPort(host, port)
	out := make([]Attempt, 0, len(plans))
	for _, p := range plans {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		out = append(out, attempt(ctx, dialAddr, port, p, cert, roots, opts))
	}
	return out, nil
}

// checkLoopback refuses targets that resolve to anything but loopback unless allowed.
func checkLoopback(ctx context.Context, host string, allow bool) error {
	if allow {
		return nil
	}
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return fmt.Errorf("resolve %s: %w", host, err)
	}
	for _, a := range addrs {
		if !a.IP.IsLoopback() {
			return fmt.Errorf("%w: %s resolves to %s; pass --remote to probe an endpoint that is not on this machine", ErrRemote, host, a.IP)
		}
	}
	return nil
}

// loadRoots reads the CA file, or returns nil (system roots) when none is given.
func loadRoots(path string) (*x509.CertPool, error) {
	if path == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--cafile: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--cafile %s: no PEM certificate in it", path)
	}
	return pool, nil
}

// attempt makes one handshake, then speaks the chosen protocol.
func attempt(ctx context.Context, addr, port string, p plan, cert *tls.Certificate, roots *x509.CertPool, opts Options) Attempt {
	a := Attempt{ALPNOffered: slices.Clone(p.alpn), SNI: p.sni, TLSVersionOffered: tls.VersionName(p.version), CertificateReady: p.withCert}
	if a.ALPNOffered == nil {
		a.ALPNOffered = []string{}
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()

	cfg := &tls.Config{
		ServerName:         p.sni,
		NextProtos:         p.alpn,
		MinVersion:         p.version,
		MaxVersion:         p.version,
		InsecureSkipVerify: true, // verified below, so that a bad server certificate is reported, not fatal
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			a.CertificateRequested = true
			if p.withCert && cert != nil {
				a.CertificateSent = true
				return cert, nil
			}
			return &tls.Certificate{}, nil
		},
	}
	if p.version == tls.VersionTLS12 {
		// Offer the weak suites too, so a server restricted to them is seen doing so.
		for _, s := range tls.CipherSuites() {
			cfg.CipherSuites = append(cfg.CipherSuites, s.ID)
		}
		for _, s := range tls.InsecureCipherSuites() {
			if s.ID == tls.TLS_RSA_WITH_AES_128_CBC_SHA || s.ID == tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA {
				cfg.CipherSuites = append(cfg.CipherSuites, s.ID)
			}
		}
	}
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		a.Error = err.Error()
		a.Narrative = fmt.Sprintf("TCP connection to %s failed: %v", addr, err)
		return a
	}
	defer raw.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = raw.SetDeadline(dl)
	}
	tc := tls.Client(raw, cfg)
	herr := tc.HandshakeContext(ctx)
	st := tc.ConnectionState()
	if len(st.PeerCertificates) > 0 {
		a.ServerCertificate = describeServerCert(st.PeerCertificates, p.sni, roots)
	}
	if herr != nil {
		a.Alert = remoteAlert(herr)
		if a.Alert == nil {
			a.Error = herr.Error()
		}
		a.Narrative = narrate(&a, p, herr, "")
		return a
	}
	a.ALPNSelected = st.NegotiatedProtocol
	a.TLSVersion = tls.VersionName(st.Version)
	a.CipherSuite = tls.CipherSuiteName(st.CipherSuite)

	app := chooseApp(st.NegotiatedProtocol, p.alpn, port)
	var appNote string
	switch app {
	case "mqtt":
		appNote = speakMQTT(tc, opts.ClientID, &a)
	case "http":
		appNote = speakHTTP(tc, p.sni, addr, &a)
	default:
		appNote = "the probe does not speak " + app
	}
	a.Narrative = narrate(&a, p, nil, appNote)
	return a
}

// chooseApp picks the protocol to speak after the handshake: the one the server selected, else
// what the offered list asked for; with no ALPN at all, MQTT on the MQTT ports and HTTP elsewhere.
func chooseApp(selected string, offered []string, port string) string {
	switch selected {
	case "x-amzn-mqtt-ca", "mqtt":
		return "mqtt"
	case "x-amzn-http-ca", "http/1.1":
		return "http"
	case "":
	default:
		return selected
	}
	for _, o := range offered {
		switch o {
		case "x-amzn-mqtt-ca", "mqtt":
			return "mqtt"
		case "x-amzn-http-ca", "http/1.1":
			return "http"
		}
	}
	if port == "8883" || port == "1883" {
		return "mqtt"
	}
	return "http"
}

// describeServerCert reports the server's leaf and whether it verifies for the SNI.
func describeServerCert(chain []*x509.Certificate, sni string, roots *x509.CertPool) *ServerCert {
	leaf := chain[0]
	sc := &ServerCert{Subject: leaf.Subject.String(), Issuer: leaf.Issuer.String(), NotAfter: leaf.NotAfter.UTC(), Size: len(leaf.Raw)}
	sc.Names = append(sc.Names, leaf.DNSNames...)
	for _, ip := range leaf.IPAddresses {
		sc.Names = append(sc.Names, ip.String())
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	// Without SNI there is no name to check: the chain alone is verified.
	_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: sni})
	sc.Verified = err == nil
	if err != nil {
		sc.VerifyError = err.Error()
	}
	return sc
}

// narrate tells an attempt in sentences.
func narrate(a *Attempt, p plan, herr error, appNote string) string {
	var b strings.Builder
	offered := "no ALPN"
	if len(p.alpn) > 0 {
		offered = "ALPN " + strings.Join(p.alpn, ",")
	}
	sni := p.sni
	if sni == "" {
		sni = "no SNI"
	} else {
		sni = "SNI " + sni
	}
	certs := "no client certificate"
	if p.withCert {
		certs = "a client certificate ready"
	}
	fmt.Fprintf(&b, "Offered %s over %s with %s and %s. ", offered, tls.VersionName(p.version), sni, certs)
	if a.CertificateRequested {
		sent := "sent none"
		if a.CertificateSent {
			sent = "sent it"
		}
		fmt.Fprintf(&b, "The server asked for a client certificate; the probe %s. ", sent)
	} else if herr == nil {
		b.WriteString("The server did not ask for a client certificate. ")
	}
	if herr != nil {
		if a.Alert != nil {
			fmt.Fprintf(&b, "The server ended the handshake with fatal alert %d %s", a.Alert.Code, a.Alert.Name)
			if m := alertMeanings[a.Alert.Code]; m != "" {
				b.WriteString(": " + m)
			}
			b.WriteString(".")
		} else {
			fmt.Fprintf(&b, "The handshake failed: %v.", herr)
		}
		certNote(&b, a)
		return strings.TrimSpace(b.String())
	}
	selected := "selected no protocol"
	if a.ALPNSelected != "" {
		selected = "selected " + a.ALPNSelected
	}
	fmt.Fprintf(&b, "Handshake complete: %s, %s; the server %s. ", a.TLSVersion, a.CipherSuite, selected)
	b.WriteString(appNote)
	certNote(&b, a)
	return strings.TrimSpace(b.String())
}

// certNote adds what a device verifying the server certificate would conclude.
func certNote(b *strings.Builder, a *Attempt) {
	sc := a.ServerCertificate
	switch {
	case sc == nil:
	case sc.Verified:
		b.WriteString(" The server certificate verifies.")
	default:
		fmt.Fprintf(b, " A device checking the server certificate would reject it: %s.", sc.VerifyError)
	}
}
