package listener

import (
	"crypto/tls"
	"slices"
	"testing"
)

// TestChooseCustomAuth pins the mqtt row of 443: with Config.CustomAuth, ALPN mqtt is MQTT with
// custom authentication and no CertificateRequest; x-amzn-mqtt-ca still wins; strict refuses it;
// 8443 and 8883 are unchanged.
func TestChooseCustomAuth(t *testing.T) {
	cases := []struct {
		r     rules
		offer []string
		want  string
	}{
		{rules{kind: KindALPN, https: true, customAuth: true}, []string{"mqtt"}, PersonalityMQTTCustomAuth},
		{rules{kind: KindALPN, https: true, customAuth: true}, []string{"mqtt", "http/1.1"}, PersonalityMQTTCustomAuth},
		{rules{kind: KindALPN, https: true, customAuth: true}, []string{"mqtt", ProtocolMQTTCA}, PersonalityMQTT},
		{rules{kind: KindALPN, https: true, customAuth: true}, []string{"http/1.1"}, PersonalityHTTPS},
		{rules{kind: KindALPN, https: true, customAuth: true, strict: true}, []string{"mqtt"}, ""},
		{rules{kind: KindALPN, https: true}, []string{"mqtt"}, ""},
		{rules{kind: KindHTTPS, https: true, customAuth: true}, []string{"mqtt"}, ""},
		{rules{kind: KindMQTTS, customAuth: true}, []string{"mqtt"}, PersonalityMQTT},
	}
	for _, tc := range cases {
		p, ok := tc.r.choose(tc.offer)
		if ok != (tc.want != "") || p.name != tc.want {
			t.Errorf("%+v %q: %q (ok %v), want %q", tc.r, tc.offer, p.name, ok, tc.want)
			continue
		}
		if p.name == PersonalityMQTTCustomAuth && (p.clientAuth != tls.NoClientCert || p.http || !slices.Equal(p.nextProtos, []string{ProtocolMQTT})) {
			t.Errorf("custom auth personality %+v", p)
		}
	}
	if got := (rules{kind: KindALPN, https: true, customAuth: true}).served(); !slices.Contains(got, ProtocolMQTT) {
		t.Errorf("served %q does not list mqtt", got)
	}
}
