package listener

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"slices"
	"strings"
	"time"
)

// This file turns the events of a handshake into transcript steps. Nothing here runs per MQTT
// message: only at accept, ClientHello, the end of the handshake and the connection's end.

// helloStep describes a ClientHello: SNI, ALPN, versions, cipher suites, groups and key shares.
func helloStep(hello *tls.ClientHelloInfo, shares []tls.CurveID, sharesFound bool) string {
	return helloFactsOf(hello, shares, sharesFound).step()
}

// helloFacts is what the ClientHello step tells, without the connection the ClientHelloInfo
// holds: crypto/tls does not change these slices once it has parsed the ClientHello.
type helloFacts struct {
	sni         string
	protos      []string
	versions    []uint16
	suites      []uint16
	curves      []tls.CurveID
	shares      []tls.CurveID
	sharesFound bool
	retry       bool
}

func helloFactsOf(hello *tls.ClientHelloInfo, shares []tls.CurveID, sharesFound bool) helloFacts {
	return helloFacts{sni: hello.ServerName, protos: hello.SupportedProtos, versions: hello.SupportedVersions,
		suites: hello.CipherSuites, curves: hello.SupportedCurves, shares: shares, sharesFound: sharesFound,
		retry: hello.HelloRetryRequest}
}

// step is the ClientHello step's detail.
func (h helloFacts) step() string {
	var b strings.Builder
	b.Grow(1024)
	sni := h.sni
	if sni == "" {
		sni = "(none)"
	}
	fmt.Fprintf(&b, "SNI %s; ALPN %s; versions %s; cipher suites %s; groups %s",
		sni, listOrNone(h.protos), versionList(h.versions),
		cipherList(h.suites), curveList(h.curves))
	switch {
	case h.sharesFound:
		fmt.Fprintf(&b, "; key shares %s", curveList(h.shares))
	case slices.Contains(h.versions, tls.VersionTLS13):
		b.WriteString("; key shares not read (ClientHello larger than the listener looks at)")
	}
	if h.retry {
		b.WriteString("; second ClientHello after a HelloRetryRequest")
	}
	return b.String()
}

// decisionStep says what the listener decided for a ClientHello and by which rule.
func decisionStep(r rules, offered []string, p personality, ok bool) string {
	if !ok {
		return "no personality of this listener serves " + alpnPhrase(offered) + "; no client certificate will be requested"
	}
	var rule string
	switch r.kind {
	case KindMQTTS:
		rule = "the MQTT port always requires a client certificate, whatever ALPN is offered"
	case KindHTTPS:
		rule = "the HTTPS-with-certificate port always requires a client certificate"
	default:
		switch {
		case slices.Contains(offered, ProtocolMQTTCA):
			rule = "ALPN x-amzn-mqtt-ca is MQTT authenticated by an X.509 client certificate"
		case slices.Contains(offered, ProtocolHTTPCA):
			rule = "ALPN x-amzn-http-ca is HTTPS authenticated by an X.509 client certificate"
		case !p.http:
			rule = alpnPhrase(offered) + " is MQTT authenticated without a client certificate (a custom authorizer)"
		default:
			rule = alpnPhrase(offered) + " is HTTPS authenticated by SigV4 (no certificate is ever requested there)"
		}
	}
	req := "no client certificate will be requested"
	if p.clientAuth != tls.NoClientCert {
		req = "a client certificate will be requested (any certificate; trust is by registration)"
	}
	return fmt.Sprintf("personality %s: %s; rule: %s", p.name, req, rule)
}

// alpnPhrase names an offered ALPN list in a sentence.
func alpnPhrase(offered []string) string {
	if len(offered) == 0 {
		return "a ClientHello without ALPN"
	}
	return "ALPN " + strings.Join(offered, ", ")
}

// serverHelloStep describes the server's answer of a completed handshake.
func serverHelloStep(st tls.ConnectionState) string {
	return serverHelloText(st.Version, st.CipherSuite, st.CurveID, st.NegotiatedProtocol)
}

func serverHelloText(version, suite uint16, curve tls.CurveID, alpn string) string {
	if alpn == "" {
		alpn = "none selected"
	}
	return fmt.Sprintf("version %s; cipher suite %s; group %s; ALPN %s",
		tls.VersionName(version), cipherName(suite), curveName(curve), alpn)
}

// clientCertificateStep describes the presented certificate and what the registry knows of it.
func clientCertificateStep(c *x509.Certificate, id, status string, known bool, thing string) string {
	return certFactsOf(c).step(id, status, known, thing)
}

// certFacts is what the client certificate step tells of the certificate, without keeping the
// whole certificate.
type certFacts struct {
	subject, issuer     pkix.Name
	notBefore, notAfter time.Time
}

func certFactsOf(c *x509.Certificate) certFacts {
	return certFacts{subject: c.Subject, issuer: c.Issuer, notBefore: c.NotBefore, notAfter: c.NotAfter}
}

func (c certFacts) step(id, status string, known bool, thing string) string {
	reg := "not registered"
	if known {
		reg = "registered, " + status
	}
	if thing == "" {
		thing = "none attached"
	}
	return fmt.Sprintf("subject %q; issuer %q; id %s; %s; thing %s; valid %s to %s",
		c.subject.String(), c.issuer.String(), id, reg, thing,
		c.notBefore.UTC().Format("2006-01-02"), c.notAfter.UTC().Format("2006-01-02"))
}

func listOrNone(v []string) string {
	if len(v) == 0 {
		return "(none)"
	}
	return strings.Join(v, ", ")
}

func versionList(vs []uint16) string {
	names := make([]string, 0, len(vs))
	for _, v := range vs {
		if isGREASE(v) {
			continue
		}
		names = append(names, tls.VersionName(v))
	}
	return listOrNone(names)
}

// cipherNames caches crypto/tls's suite names: tls.CipherSuiteName builds the whole suite list
// on every call.
var cipherNames = func() map[uint16]string {
	m := map[uint16]string{}
	for _, c := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		m[c.ID] = c.Name
	}
	return m
}()

// cipherName names a cipher suite (0x1234 for one Go does not know).
func cipherName(id uint16) string {
	if n, ok := cipherNames[id]; ok {
		return n
	}
	return tls.CipherSuiteName(id)
}

func cipherList(cs []uint16) string {
	names := make([]string, 0, len(cs))
	for _, c := range cs {
		if isGREASE(c) {
			continue
		}
		names = append(names, cipherName(c))
	}
	return listOrNone(names)
}

func curveList(cs []tls.CurveID) string {
	names := make([]string, 0, len(cs))
	for _, c := range cs {
		if isGREASE(uint16(c)) {
			continue
		}
		names = append(names, curveName(c))
	}
	return listOrNone(names)
}

func curveName(c tls.CurveID) string {
	if c == 0 {
		return "(none)"
	}
	return c.String()
}

// isGREASE reports the reserved values clients send to keep servers tolerant (RFC 8701).
func isGREASE(v uint16) bool { return v&0x0f0f == 0x0a0a && v>>8 == v&0xff }
