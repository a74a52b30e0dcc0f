package listener

import (
	"crypto/tls"
	"fmt"
	"slices"
	"testing"
)

// TestChoosePersonality pins the personality table of every kind: ALPN offered → personality,
// certificate request and the ALPN ids the server may select, or a refusal ("").
func TestChoosePersonality(t *testing.T) {
	cases := []struct {
		kind   Kind
		strict bool
		https  bool
		offer  []string
		want   string // personality name, "" for a refusal
		auth   tls.ClientAuthType
		protos []string
	}{
		// 443 with HTTP served: priority x-amzn-mqtt-ca, x-amzn-http-ca, then plain HTTP.
		{KindALPN, false, true, []string{ProtocolMQTTCA}, PersonalityMQTT, tls.RequireAnyClientCert, []string{ProtocolMQTTCA}},
		{KindALPN, false, true, []string{ProtocolHTTPCA, ProtocolMQTTCA}, PersonalityMQTT, tls.RequireAnyClientCert, []string{ProtocolMQTTCA}},
		{KindALPN, false, true, []string{ProtocolHTTPCA}, PersonalityHTTPSX509, tls.RequireAnyClientCert, []string{ProtocolHTTPCA}},
		{KindALPN, false, true, []string{"h2", ProtocolHTTPCA}, PersonalityHTTPSX509, tls.RequireAnyClientCert, []string{ProtocolHTTPCA}},
		{KindALPN, false, true, nil, PersonalityHTTPS, tls.NoClientCert, httpProtos},
		{KindALPN, false, true, []string{"http/1.1"}, PersonalityHTTPS, tls.NoClientCert, httpProtos},
		{KindALPN, false, true, []string{"h2"}, PersonalityHTTPS, tls.NoClientCert, httpProtos},
		{KindALPN, false, true, []string{"foo", "http/1.1"}, PersonalityHTTPS, tls.NoClientCert, httpProtos},
		{KindALPN, false, true, []string{"mqtt"}, "", 0, nil},
		{KindALPN, false, true, []string{"foo"}, "", 0, nil},
		// 443 strict, or without HTTP: x-amzn-mqtt-ca only.
		{KindALPN, true, true, []string{ProtocolMQTTCA}, PersonalityMQTT, tls.RequireAnyClientCert, []string{ProtocolMQTTCA}},
		{KindALPN, true, true, []string{ProtocolHTTPCA}, "", 0, nil},
		{KindALPN, true, true, nil, "", 0, nil},
		{KindALPN, true, true, []string{"h2"}, "", 0, nil},
		{KindALPN, false, false, nil, "", 0, nil},
		{KindALPN, false, false, []string{ProtocolHTTPCA}, "", 0, nil},
		// 8443: HTTPS with a client certificate, standard HTTP ids or none.
		{KindHTTPS, false, true, nil, PersonalityHTTPSX509, tls.RequireAnyClientCert, httpProtos},
		{KindHTTPS, false, true, []string{"http/1.1"}, PersonalityHTTPSX509, tls.RequireAnyClientCert, httpProtos},
		{KindHTTPS, false, true, []string{"h2", "http/1.1"}, PersonalityHTTPSX509, tls.RequireAnyClientCert, httpProtos},
		{KindHTTPS, true, true, nil, PersonalityHTTPSX509, tls.RequireAnyClientCert, httpProtos},
		{KindHTTPS, false, true, []string{ProtocolMQTTCA}, "", 0, nil},
		{KindHTTPS, false, true, []string{ProtocolHTTPCA}, "", 0, nil},
		{KindHTTPS, false, true, []string{"mqtt"}, "", 0, nil},
		// 8883: always MQTT, HTTP ignored.
		{KindMQTTS, false, true, nil, PersonalityMQTT, tls.RequireAnyClientCert, nil},
		{KindMQTTS, false, true, []string{"h2"}, PersonalityMQTT, tls.RequireAnyClientCert, nil},
		{KindMQTTS, false, true, []string{ProtocolMQTTCA}, PersonalityMQTT, tls.RequireAnyClientCert, []string{ProtocolMQTTCA}},
	}
	for _, tc := range cases {
		r := rules{kind: tc.kind, strict: tc.strict, https: tc.https}
		name := fmt.Sprintf("%v strict=%v https=%v %q", tc.kind, tc.strict, tc.https, tc.offer)
		p, ok := r.choose(tc.offer)
		if ok != (tc.want != "") || p.name != tc.want {
			t.Errorf("%s: personality %q (ok %v), want %q", name, p.name, ok, tc.want)
			continue
		}
		if !ok {
			continue
		}
		if p.clientAuth != tc.auth || fmt.Sprint(p.nextProtos) != fmt.Sprint(tc.protos) {
			t.Errorf("%s: clientAuth %v nextProtos %q, want %v %q", name, p.clientAuth, p.nextProtos, tc.auth, tc.protos)
		}
		if p.http != (tc.want == PersonalityHTTPS || tc.want == PersonalityHTTPSX509) {
			t.Errorf("%s: http %v", name, p.http)
		}
	}
}

// TestRefusalDetailHTTPS pins the refusal wording when the HTTPS personalities are served.
func TestRefusalDetailHTTPS(t *testing.T) {
	cases := []struct {
		cfg   Config
		offer []string
		want  string
	}{
		{Config{Kind: KindALPN, HTTP: echoHandler(nil)}, []string{"mqtt"},
			"no_application_protocol: ALPN offered [mqtt], none of them served here; this port serves x-amzn-mqtt-ca, x-amzn-http-ca, h2, http/1.1, or no ALPN"},
		{Config{Kind: KindALPN, HTTP: echoHandler(nil), Strict: true}, nil,
			"no_application_protocol: no ALPN offered; this port serves x-amzn-mqtt-ca"},
		{Config{Kind: KindHTTPS, HTTP: echoHandler(nil)}, []string{ProtocolMQTTCA},
			"no_application_protocol: ALPN offered [x-amzn-mqtt-ca], none of them served here; this port serves h2, http/1.1, or no ALPN"},
	}
	for _, tc := range cases {
		r := rulesFor(tc.cfg)
		err := &noApplicationProtocolError{offered: tc.offer, served: r.served(), noALPN: r.servesNoALPN()}
		if err.Error() != tc.want {
			t.Errorf("%v %q:\n got %q\nwant %q", tc.cfg.Kind, tc.offer, err.Error(), tc.want)
		}
	}
}

// TestHTTPSConfigValidation: KindHTTPS without a handler does not start.
func TestHTTPSConfigValidation(t *testing.T) {
	p := newTestPKI(t)
	l := New(Config{ID: "https", Address: "127.0.0.1:0", Kind: KindHTTPS, Certificate: func() *tls.Certificate { return &p.server }})
	defer l.Close(nil)
	if err := l.Init(nil); err == nil {
		t.Fatal("Init of KindHTTPS without HTTP succeeded")
	}
	if KindHTTPS.String() != "https" {
		t.Errorf("KindHTTPS.String() = %q", KindHTTPS.String())
	}
}

// TestServerConfigPerPersonality: each personality gets its own TLS configuration, made once
// and shared by its connections, and a new server certificate gets a new one.
func TestServerConfigPerPersonality(t *testing.T) {
	l := New(Config{})
	first, second := &tls.Certificate{}, &tls.Certificate{}
	all := []personality{mqttX509, mqttX509AnyALPN, httpsX509ALPN, httpsX509, httpsPlain}
	seen := map[*tls.Config]personality{}
	for _, p := range all {
		c := l.serverConfig(p, first)
		if other, dup := seen[c]; dup {
			t.Fatalf("%s %v shares its configuration with %s %v", p.name, p.nextProtos, other.name, other.nextProtos)
		}
		seen[c] = p
		if !slices.Equal(c.NextProtos, p.nextProtos) || c.ClientAuth != p.clientAuth || !c.SessionTicketsDisabled {
			t.Fatalf("%s: configuration %v %v, want ALPN %v, client auth %v, no tickets", p.name, c.NextProtos, c.ClientAuth, p.nextProtos, p.clientAuth)
		}
		if again := l.serverConfig(p, first); again != c {
			t.Fatalf("%s: a second connection got a new configuration", p.name)
		}
		if renewed := l.serverConfig(p, second); renewed == c {
			t.Fatalf("%s: a new server certificate kept the old configuration", p.name)
		}
	}
}
