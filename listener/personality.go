package listener

import (
	"crypto/tls"
	"slices"
	"strconv"
	"strings"
)

// Personality names, as the transcript records them (Record.Personality). A connection whose
// ClientHello was refused, or never read, has the personality "".
const (
	// PersonalityMQTT is MQTT with an X.509 client certificate (443 x-amzn-mqtt-ca, 8883).
	PersonalityMQTT = "mqtt"
	// PersonalityHTTPS is HTTPS without a certificate request (443 with no ALPN, http/1.1 or
	// h2): the HTTP layer authenticates requests (SigV4).
	PersonalityHTTPS = "https"
	// PersonalityMQTTCustomAuth is MQTT with custom authentication (443 mqtt): no certificate
	// request; the CONNECT's username and password go to a custom authorizer.
	PersonalityMQTTCustomAuth = "mqtt-customauth"
	// PersonalityMQTTCustomAuthX509 is MQTT under a domain configuration whose
	// authenticationType is CUSTOM_AUTH_X509: a client certificate is required, and the
	// CONNECT goes to a custom authorizer together with the certificate.
	PersonalityMQTTCustomAuthX509 = "mqtt-customauth-x509"
	// PersonalityHTTPSCustomAuthX509 is HTTPS under CUSTOM_AUTH_X509: a client certificate is
	// required, and each request goes to a custom authorizer together with it.
	PersonalityHTTPSCustomAuthX509 = "https-customauth-x509"
	// PersonalityHTTPSX509 is HTTPS with a required client certificate (443 x-amzn-http-ca,
	// 8443): the HTTP layer authenticates requests by the certificate's registration.
	PersonalityHTTPSX509 = "https-x509"
)

// personality is what one ClientHello is given: its name for the transcript, the ALPN
// protocols the server may select, whether it requests a client certificate, and whether the
// connection goes to the HTTP server (else to mochi).
type personality struct {
	name       string
	nextProtos []string
	clientAuth tls.ClientAuthType
	http       bool
}

// key tells personalities apart (two may share a name, with different ALPN lists).
func (p personality) key() string {
	return p.name + "|" + strings.Join(p.nextProtos, ",") + "|" + strconv.Itoa(int(p.clientAuth))
}

// httpProtos is what an HTTPS personality without a private ALPN id may select. h2 first: Go's
// server picks by its own preference, so a client offering both gets HTTP/2; a client offering
// only http/1.1 gets http/1.1, and one offering no ALPN gets no protocol (HTTP/1.1 follows).
var httpProtos = []string{ProtocolHTTP2, ProtocolHTTP1}

// The personalities. Trust is by registration, not by chain (AWS's model), so every
// certificate-requesting personality accepts any certificate (RequireAnyClientCert); the hooks
// (MQTT) or the HTTP handler (HTTPS) check the registry.
var (
	// mqttX509 is MQTT authenticated by a client certificate, with x-amzn-mqtt-ca selected.
	mqttX509 = personality{name: PersonalityMQTT, nextProtos: []string{ProtocolMQTTCA}, clientAuth: tls.RequireAnyClientCert}
	// mqttX509AnyALPN is 8883 without x-amzn-mqtt-ca: nil NextProtos, so Go never fails on
	// ALPN, whatever the client offered.
	mqttX509AnyALPN = personality{name: PersonalityMQTT, clientAuth: tls.RequireAnyClientCert}
	// httpsX509ALPN is 443 x-amzn-http-ca: HTTPS with a required client certificate.
	httpsX509ALPN = personality{name: PersonalityHTTPSX509, nextProtos: []string{ProtocolHTTPCA}, clientAuth: tls.RequireAnyClientCert, http: true}
	// httpsX509 is 8443: HTTPS with a required client certificate, standard HTTP ALPN ids.
	httpsX509 = personality{name: PersonalityHTTPSX509, nextProtos: httpProtos, clientAuth: tls.RequireAnyClientCert, http: true}
	// mqttCustomAuth is 443 mqtt: MQTT with custom authentication, never a CertificateRequest.
	mqttCustomAuth = personality{name: PersonalityMQTTCustomAuth, nextProtos: []string{ProtocolMQTT}, clientAuth: tls.NoClientCert}
	// httpsPlain is 443 without a private ALPN id: HTTPS, and never a CertificateRequest.
	httpsPlain = personality{name: PersonalityHTTPS, nextProtos: httpProtos, clientAuth: tls.NoClientCert, http: true}
)

// rules maps offered ALPN lists to personalities for one listener.
type rules struct {
	kind   Kind
	strict bool // --alpn-strict: KindALPN serves x-amzn-mqtt-ca only
	https  bool // an HTTP handler is configured
	// customAuth: KindALPN serves mqtt (custom authentication), unless strict.
	customAuth bool
}

// rulesFor derives a listener's rules from its configuration.
func rulesFor(cfg Config) rules {
	return rules{kind: cfg.Kind, strict: cfg.Strict, https: cfg.HTTP != nil, customAuth: cfg.CustomAuth}
}

// httpOnKindALPN reports whether KindALPN serves its HTTPS personalities.
func (r rules) httpOnKindALPN() bool { return r.kind == KindALPN && r.https && !r.strict }

// servesHTTP reports whether any ClientHello can get an HTTPS personality.
func (r rules) servesHTTP() bool { return r.kind == KindHTTPS || r.httpOnKindALPN() }

// choose maps the offered ALPN list to a personality, or reports that the listener serves none
// of it. On KindALPN the first match wins, in this order: x-amzn-mqtt-ca, x-amzn-http-ca, then
// no ALPN, http/1.1 or h2 (an unknown id beside one of those does not matter: Go selects the
// known one). mqtt (custom authorizers) is served when Config.CustomAuth is set, else refused like any unknown id.
func (r rules) choose(offered []string) (personality, bool) {
	wantsMQTTCA := slices.Contains(offered, ProtocolMQTTCA)
	switch r.kind {
	case KindMQTTS:
		if wantsMQTTCA {
			return mqttX509, true
		}
		return mqttX509AnyALPN, true
	case KindALPN:
		switch {
		case wantsMQTTCA:
			return mqttX509, true
		case r.customAuth && !r.strict && slices.Contains(offered, ProtocolMQTT):
			return mqttCustomAuth, true
		case !r.httpOnKindALPN():
		case slices.Contains(offered, ProtocolHTTPCA):
			return httpsX509ALPN, true
		case offersHTTP(offered):
			return httpsPlain, true
		}
	case KindHTTPS:
		if offersHTTP(offered) {
			return httpsX509, true
		}
	}
	return personality{}, false
}

// offersHTTP reports whether a ClientHello asks for plain HTTP: no ALPN, or http/1.1 or h2
// among its ids.
func offersHTTP(offered []string) bool {
	return len(offered) == 0 || slices.Contains(offered, ProtocolHTTP1) || slices.Contains(offered, ProtocolHTTP2)
}

// served lists the ALPN ids the listener selects, for refusal messages.
func (r rules) served() []string {
	switch {
	case r.kind == KindHTTPS:
		return slices.Clone(httpProtos)
	case r.httpOnKindALPN() && r.customAuth:
		return []string{ProtocolMQTTCA, ProtocolMQTT, ProtocolHTTPCA, ProtocolHTTP2, ProtocolHTTP1}
	case r.httpOnKindALPN():
		return []string{ProtocolMQTTCA, ProtocolHTTPCA, ProtocolHTTP2, ProtocolHTTP1}
	}
	return []string{ProtocolMQTTCA}
}

// servesNoALPN reports whether a ClientHello without ALPN is served, for refusal messages.
func (r rules) servesNoALPN() bool {
	return r.kind == KindMQTTS || r.servesHTTP()
}
