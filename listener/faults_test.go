package listener

import (
	"strings"
	"testing"
)

// TestFaultRules: parsing NAME[@TARGET], and which connections a target matches.
func TestFaultRules(t *testing.T) {
	for _, tc := range []struct {
		spec, err string
	}{
		{"expired", ""}, {"wrong-name@alpn", ""}, {"tls12-only@sensor-1", ""}, {"weak-ciphers@iot.example.com", ""},
		{"bogus", "unknown name"}, {"", "unknown name"}, {"expired@a b", "target"}, {"expired@a/b", "target"},
	} {
		_, err := ParseFaultRule(tc.spec)
		if (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("ParseFaultRule(%q) = %v, want error containing %q", tc.spec, err, tc.err)
		}
	}
	for _, tc := range []struct {
		target, listener, sni string
		want                  bool
	}{
		{"", "alpn", "", true},
		{"alpn", "alpn", "localhost", true},
		{"alpn", "mqtts", "localhost", false},
		{"sensor-1", "alpn", "sensor-1.localhost", true},
		{"sensor-1", "alpn", "SENSOR-1", true},
		{"sensor-1", "alpn", "sensor-10.localhost", false},
		{"sensor-1", "alpn", "", false},
		{"iot.example.com", "mqtts", "iot.example.com", true},
	} {
		r := FaultRule{Name: FaultExpired, Target: tc.target}
		if got := r.matches(tc.listener, tc.sni); got != tc.want {
			t.Errorf("%s matches(%q, %q) = %t, want %t", r, tc.listener, tc.sni, got, tc.want)
		}
	}
	f := NewFaults(nil)
	if err := f.Add(FaultRule{Name: FaultExpired}); err == nil {
		t.Error("a certificate fault was added without fault certificates")
	}
	if err := f.Add(FaultRule{Name: FaultTLS12Only, Target: "alpn"}); err != nil {
		t.Fatal(err)
	}
	if got := f.match("alpn", ""); len(got) != 1 || got[0] != FaultTLS12Only {
		t.Errorf("match = %v", got)
	}
	if !f.Remove(FaultRule{Name: FaultTLS12Only, Target: "alpn"}) || f.match("alpn", "") != nil {
		t.Error("Remove did not remove the rule")
	}
}
