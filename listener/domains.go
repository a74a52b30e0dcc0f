package listener

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"slices"
)

// Domain is what a domain configuration decides for a ClientHello on the ALPN (443) listener:
// its application protocol and authentication type replace the port/ALPN table, its TLS policy
// bounds the versions and suites, and a DISABLED one refuses the handshake. On the 8883 and 8443
// listeners the port keeps deciding the personality; status and TLS policy still apply.
type Domain struct {
	// Name is the configuration's name (iot:Data-ATS for the default), for the transcript.
	Name string
	// Matched reports that the ClientHello's server name is the configuration's domain name;
	// false means the default configuration decides (no SNI, or an unknown one).
	Matched  bool
	Disabled bool
	// Quiet: nothing is configured (only the untouched default exists), so the transcript gets
	// no domain configuration step; the ClientHello step already tells the table's decision.
	Quiet bool
	// Protocol is the applicationProtocol: "SECURE_MQTT", "MQTT_WSS", "HTTPS" or "DEFAULT".
	Protocol string
	// Auth is the authenticationType: "AWS_X509", "CUSTOM_AUTH", "CUSTOM_AUTH_X509",
	// "AWS_SIGV4" or "DEFAULT".
	Auth string
	// Policy is the security policy's name; MinVersion, MaxVersion and CipherSuites (TLS 1.2
	// suites; nil for Go's defaults) are what it allows.
	Policy                 string
	MinVersion, MaxVersion uint16
	CipherSuites           []uint16
	// VerifyClientCertificate, when set, is called once the client's certificate chain is
	// received (before any authentication): an error fails the handshake. It is the
	// configuration's clientCertificateCallbackArn.
	VerifyClientCertificate func(serverName string, chain []*x509.Certificate) error
	// Staple, when set, returns the server certificate to serve with an OCSP response attached
	// (serverCertificateConfig.enableOCSPCheck), and the transcript's sentence about it.
	Staple func(cert *tls.Certificate) (*tls.Certificate, string)
}

// The application protocols and authentication types of Domain.
const (
	domainSecureMQTT = "SECURE_MQTT"
	domainMQTTWSS    = "MQTT_WSS"
	domainHTTPS      = "HTTPS"
	domainDefault    = "DEFAULT"
	domainX509       = "AWS_X509"
	domainCustomAuth = "CUSTOM_AUTH"
	domainCustomX509 = "CUSTOM_AUTH_X509"
	domainSigV4      = "AWS_SIGV4"
)

// StepDomain is the transcript step that says which domain configuration decided and why.
const StepDomain = "domain configuration"

// StepOCSP is the transcript step that says which OCSP response was stapled, or why none was.
const StepOCSP = "ocsp staple"

// accessDeniedAlert is a complete TLS record carrying the fatal alert 49 access_denied: the
// refusal of a ClientHello for a DISABLED domain configuration.
var accessDeniedAlert = []byte{0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x31}

// rejectAccessDenied sends the fatal alert 49 record and mutes the connection for writes, like
// rejectNoApplicationProtocol.
func (a *alertConn) rejectAccessDenied() error {
	if !a.rejected.CompareAndSwap(false, true) {
		return nil
	}
	_, err := a.Conn.Write(accessDeniedAlert)
	return err
}

// domainDisabledError refuses a ClientHello whose server name names a DISABLED configuration.
type domainDisabledError struct{ name, serverName string }

func (e *domainDisabledError) Error() string {
	return fmt.Sprintf("access_denied: domain configuration %s (server name %q) is DISABLED", e.name, e.serverName)
}

// domainFor returns the domain configuration of a ClientHello, or nil when the listener has none.
func (l *Listener) domainFor(serverName string) *Domain {
	if l.cfg.Domains == nil {
		return nil
	}
	d := l.cfg.Domains(serverName)
	return &d
}

// chooseForDomain is rules.choose under domain configuration d: the configuration's protocol and
// authentication pick the personality where they are not DEFAULT, and the offered ALPN list only
// picks what the configuration leaves open. It returns the personality, whether one serves the
// ClientHello, whether the port/ALPN table picked it, and the sentence for the transcript.
func (r rules) chooseForDomain(d *Domain, offered []string) (p personality, ok, byTable bool, note string) {
	p, ok, byTable, explain := r.chooseDomain(d, offered)
	return p, ok, byTable, explain()
}

// chooseDomain is chooseForDomain with the sentence made only when explain is called (the
// transcript's domain step, made when the transcript is read). explain holds copies of what it
// describes, so it gives the same sentence whenever it is called.
func (r rules) chooseDomain(d *Domain, offered []string) (p personality, ok, byTable bool, explain func() string) {
	name, matched, protocol, auth, policy := d.Name, d.Matched, d.Protocol, d.Auth, d.Policy
	head := func() string {
		which := fmt.Sprintf("%s (server name matches its domain name)", name)
		if !matched {
			which = fmt.Sprintf("%s (the default: no configuration has this server name)", name)
		}
		return fmt.Sprintf("%s decides: applicationProtocol %s, authenticationType %s, securityPolicy %s", which, protocol, auth, policy)
	}
	if r.kind != KindALPN || (d.Protocol == domainDefault && d.Auth == domainDefault) {
		p, ok := r.choose(offered)
		return p, ok, true, func() string { return head() + "; the port and ALPN table picks the personality" }
	}
	if d.Protocol == domainDefault {
		p, ok := r.choose(offered)
		if ok && d.Auth == domainCustomX509 {
			if p, ok = r.customAuthX509(p); !ok {
				return personality{}, false, true, func() string {
					return fmt.Sprintf("%s; the table's personality for %s has no CUSTOM_AUTH_X509 form", head(), alpnPhrase(offered))
				}
			}
			return p, true, true, func() string {
				return head() + "; the port and ALPN table picks the protocol, with a client certificate and a custom authorizer"
			}
		}
		if ok && !authMatches(p, d.Auth) {
			return personality{}, false, true, func() string {
				return fmt.Sprintf("%s; the table's personality %s for %s is not %s authentication", head(), p.name, alpnPhrase(offered), auth)
			}
		}
		return p, ok, true, func() string {
			return head() + "; the port and ALPN table picks a personality of that authentication type"
		}
	}
	switch {
	case d.Protocol == domainSecureMQTT && d.Auth == domainCustomAuth && r.customAuth:
		p = personality{name: PersonalityMQTTCustomAuth, nextProtos: pick(offered, ProtocolMQTT, ProtocolMQTTCA), clientAuth: tls.NoClientCert}
	case d.Protocol == domainSecureMQTT && d.Auth == domainCustomX509 && r.customAuth:
		p = personality{name: PersonalityMQTTCustomAuthX509, nextProtos: pick(offered, ProtocolMQTT, ProtocolMQTTCA), clientAuth: tls.RequireAnyClientCert}
	case d.Protocol == domainSecureMQTT && (d.Auth == domainX509 || d.Auth == domainDefault):
		p = personality{name: PersonalityMQTT, nextProtos: pick(offered, ProtocolMQTTCA, ProtocolMQTT), clientAuth: tls.RequireAnyClientCert}
	case !r.https || r.strict:
		// The HTTPS personalities are off on this listener.
	case d.Protocol == domainHTTPS && d.Auth == domainCustomX509:
		p = personality{name: PersonalityHTTPSCustomAuthX509, nextProtos: pick(offered, ProtocolHTTP2, ProtocolHTTP1, ProtocolHTTPCA), clientAuth: tls.RequireAnyClientCert, http: true}
	case d.Protocol == domainHTTPS && d.Auth == domainX509:
		p = personality{name: PersonalityHTTPSX509, nextProtos: pick(offered, ProtocolHTTPCA, ProtocolHTTP2, ProtocolHTTP1), clientAuth: tls.RequireAnyClientCert, http: true}
	case d.Protocol == domainHTTPS, d.Protocol == domainMQTTWSS:
		// SigV4 and custom authentication happen on the HTTP layer (requests, WebSocket upgrades).
		p = personality{name: PersonalityHTTPS, nextProtos: pick(offered, ProtocolHTTP2, ProtocolHTTP1), clientAuth: tls.NoClientCert, http: true}
	}
	if p.name == "" {
		return personality{}, false, false, func() string { return head() + "; this listener does not serve that combination" }
	}
	return p, true, false, func() string {
		req := "no client certificate will be requested"
		if p.clientAuth != tls.NoClientCert {
			req = "a client certificate will be requested"
		}
		sel := "no ALPN id is selected"
		if len(p.nextProtos) > 0 {
			sel = "ALPN " + p.nextProtos[0] + " is selected"
		}
		return fmt.Sprintf("%s; personality %s whatever ALPN is offered (%s; %s, %s)", head(), p.name, alpnPhrase(offered), sel, req)
	}
}

// pick returns the first of want that the client offered, as a one-element NextProtos, or nil:
// with nil NextProtos Go completes the handshake with no protocol whatever the client offered,
// which is how a configuration that fixes the protocol ignores ALPN.
func pick(offered []string, want ...string) []string {
	for _, w := range want {
		if slices.Contains(offered, w) {
			return []string{w}
		}
	}
	return nil
}

// customAuthX509 is the CUSTOM_AUTH_X509 form of the table's personality p: the same protocol
// and ALPN selection, with a required client certificate handed to a custom authorizer. It has
// none where the listener serves no custom authentication.
func (r rules) customAuthX509(p personality) (personality, bool) {
	switch p.name {
	case PersonalityMQTT, PersonalityMQTTCustomAuth:
		if !r.customAuth {
			return personality{}, false
		}
		p.name = PersonalityMQTTCustomAuthX509
	case PersonalityHTTPS, PersonalityHTTPSX509:
		p.name = PersonalityHTTPSCustomAuthX509
	default:
		return personality{}, false
	}
	p.clientAuth = tls.RequireAnyClientCert
	return p, true
}

// authMatches reports whether the table's personality p authenticates by auth.
func authMatches(p personality, auth string) bool {
	switch auth {
	case domainX509:
		return p.clientAuth != tls.NoClientCert
	case domainCustomAuth:
		return p.name == PersonalityMQTTCustomAuth || p.name == PersonalityHTTPS
	case domainSigV4:
		return p.name == PersonalityHTTPS
	}
	return true
}

// domainConfig applies d's TLS policy and certificate callback to the personality's base
// configuration. Configurations are cached per personality, policy and certificate, like
// serverConfig's; a callback makes a configuration of its own per handshake.
func (l *Listener) domainConfig(d *Domain, p personality, cert *tls.Certificate, serverName string) *tls.Config {
	plainVersions := (d.MinVersion == 0 || d.MinVersion == tls.VersionTLS12) && (d.MaxVersion == 0 || d.MaxVersion == tls.VersionTLS13)
	if d.VerifyClientCertificate == nil && plainVersions && d.CipherSuites == nil {
		return l.serverConfig(p, cert) // the listener's own settings: TLS 1.2-1.3, Go's suites
	}
	key := p.key() + "|" + d.Policy
	if d.VerifyClientCertificate == nil {
		if v, ok := l.configs.Load(key); ok {
			if pc := v.(*personalityConfig); pc.cert == cert {
				return pc.config
			}
		}
	}
	cfg := l.serverConfig(p, cert).Clone()
	if d.MinVersion != 0 {
		cfg.MinVersion = d.MinVersion
	}
	if d.MaxVersion != 0 {
		cfg.MaxVersion = d.MaxVersion
	}
	if d.CipherSuites != nil {
		cfg.CipherSuites = d.CipherSuites
	}
	if verify := d.VerifyClientCertificate; verify != nil {
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return nil
			}
			return verify(serverName, cs.PeerCertificates)
		}
		return cfg
	}
	l.configs.Store(key, &personalityConfig{cert: cert, config: cfg})
	return cfg
}
