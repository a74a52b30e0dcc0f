package listener

import (
	"crypto/tls"
	"strings"
	"testing"
)

// TestChooseForDomain checks how a domain configuration's protocol and authentication replace
// the 443 table, and that DEFAULT/DEFAULT (and the other ports) keep it.
func TestChooseForDomain(t *testing.T) {
	alpn := rules{kind: KindALPN, https: true, customAuth: true}
	mqtts := rules{kind: KindMQTTS}
	cases := []struct {
		name       string
		r          rules
		protocol   string
		auth       string
		offered    []string
		want       string // personality name; "" refused
		certReq    bool
		selected   string
		byTable    bool
		noteSubstr string
	}{
		{"default keeps the table (no ALPN: HTTPS)", alpn, "DEFAULT", "DEFAULT", nil, PersonalityHTTPS, false, "", true, "table"},
		{"default keeps the table (mqtt-ca)", alpn, "DEFAULT", "DEFAULT", []string{ProtocolMQTTCA}, PersonalityMQTT, true, ProtocolMQTTCA, true, "table"},
		{"SECURE_MQTT X.509 without ALPN", alpn, "SECURE_MQTT", "AWS_X509", nil, PersonalityMQTT, true, "", false, "whatever ALPN"},
		{"SECURE_MQTT X.509 with h2 offered", alpn, "SECURE_MQTT", "AWS_X509", []string{ProtocolHTTP2}, PersonalityMQTT, true, "", false, "whatever ALPN"},
		{"SECURE_MQTT X.509 keeps mqtt-ca", alpn, "SECURE_MQTT", "AWS_X509", []string{ProtocolMQTTCA}, PersonalityMQTT, true, ProtocolMQTTCA, false, ""},
		{"SECURE_MQTT custom auth without ALPN", alpn, "SECURE_MQTT", "CUSTOM_AUTH", nil, PersonalityMQTTCustomAuth, false, "", false, ""},
		{"SECURE_MQTT custom auth ignores mqtt-ca's certificate", alpn, "SECURE_MQTT", "CUSTOM_AUTH", []string{ProtocolMQTTCA}, PersonalityMQTTCustomAuth, false, ProtocolMQTTCA, false, ""},
		{"SECURE_MQTT custom auth X.509 without ALPN", alpn, "SECURE_MQTT", "CUSTOM_AUTH_X509", nil, PersonalityMQTTCustomAuthX509, true, "", false, "a client certificate will be requested"},
		{"SECURE_MQTT custom auth X.509 keeps mqtt", alpn, "SECURE_MQTT", "CUSTOM_AUTH_X509", []string{ProtocolMQTTCA, ProtocolMQTT}, PersonalityMQTTCustomAuthX509, true, ProtocolMQTT, false, ""},
		{"HTTPS custom auth X.509", alpn, "HTTPS", "CUSTOM_AUTH_X509", []string{ProtocolHTTP1}, PersonalityHTTPSCustomAuthX509, true, ProtocolHTTP1, false, ""},
		{"DEFAULT protocol, custom auth X.509, mqtt-ca", alpn, "DEFAULT", "CUSTOM_AUTH_X509", []string{ProtocolMQTTCA}, PersonalityMQTTCustomAuthX509, true, ProtocolMQTTCA, true, "custom authorizer"},
		{"DEFAULT protocol, custom auth X.509, no ALPN is HTTPS", alpn, "DEFAULT", "CUSTOM_AUTH_X509", nil, PersonalityHTTPSCustomAuthX509, true, "", true, "client certificate"},
		{"DEFAULT protocol, custom auth X.509, no custom auth on the listener", rules{kind: KindALPN, https: true}, "DEFAULT", "CUSTOM_AUTH_X509", []string{ProtocolMQTTCA}, "", false, "", true, "no CUSTOM_AUTH_X509 form"},
		{"HTTPS X.509", alpn, "HTTPS", "AWS_X509", []string{ProtocolHTTP1}, PersonalityHTTPSX509, true, ProtocolHTTP1, false, ""},
		{"HTTPS SigV4 with mqtt-ca offered", alpn, "HTTPS", "AWS_SIGV4", []string{ProtocolMQTTCA}, PersonalityHTTPS, false, "", false, ""},
		{"MQTT_WSS", alpn, "MQTT_WSS", "AWS_SIGV4", []string{ProtocolHTTP1}, PersonalityHTTPS, false, ProtocolHTTP1, false, ""},
		{"DEFAULT protocol, X.509 auth, mqtt-ca", alpn, "DEFAULT", "AWS_X509", []string{ProtocolMQTTCA}, PersonalityMQTT, true, ProtocolMQTTCA, true, ""},
		{"DEFAULT protocol, X.509 auth, no ALPN refused", alpn, "DEFAULT", "AWS_X509", nil, "", false, "", true, "not AWS_X509"},
		{"DEFAULT protocol, SigV4 auth, mqtt refused", alpn, "DEFAULT", "AWS_SIGV4", []string{ProtocolMQTT}, "", false, "", true, "not AWS_SIGV4"},
		{"HTTPS refused on a strict listener", rules{kind: KindALPN, https: true, strict: true}, "HTTPS", "AWS_SIGV4", nil, "", false, "", false, "does not serve"},
		{"8883 ignores the protocol", mqtts, "HTTPS", "AWS_SIGV4", nil, PersonalityMQTT, true, "", true, "table"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := &Domain{Name: "d", Matched: true, Protocol: c.protocol, Auth: c.auth, Policy: "p"}
			p, ok, byTable, note := c.r.chooseForDomain(d, c.offered)
			if ok != (c.want != "") || p.name != c.want || byTable != c.byTable {
				t.Fatalf("got %q ok=%v byTable=%v, want %q byTable=%v (%s)", p.name, ok, byTable, c.want, c.byTable, note)
			}
			if !strings.Contains(note, c.noteSubstr) || !strings.Contains(note, "d (server name matches") {
				t.Fatalf("note %q lacks %q", note, c.noteSubstr)
			}
			if !ok {
				return
			}
			if (p.clientAuth != tls.NoClientCert) != c.certReq {
				t.Fatalf("client auth %v", p.clientAuth)
			}
			sel := ""
			if len(p.nextProtos) == 1 {
				sel = p.nextProtos[0]
			}
			if !byTable && sel != c.selected {
				t.Fatalf("selects %v, want %q", p.nextProtos, c.selected)
			}
		})
	}
}
