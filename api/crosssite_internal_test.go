package api

import (
	"crypto/tls"
	"net/http"
	"testing"
)

func TestHostAllow(t *testing.T) {
	narrow := newHostAllow([]string{"localhost", "iot.example.com", "127.0.0.1:4580", "192.0.2.1:443", "[2001:db8::1]:8443"})
	wide := newHostAllow([]string{"0.0.0.0:4580", "iotcore-local"})
	wideV6 := newHostAllow([]string{"[::]:4580"})
	noHost := newHostAllow([]string{":4580"})
	for _, tc := range []struct {
		allow hostAllow
		host  string
		want  bool
	}{
		{narrow, "", false},
		{narrow, ":4580", false},
		{narrow, "localhost", true},
		{narrow, "a.b.localhost:1", true},
		{narrow, "localhost.evil", false},
		{narrow, "evillocalhost", false},
		{narrow, "127.0.0.1", true},
		{narrow, "127.255.0.9:80", true},
		{narrow, "[::1]", true},
		{narrow, "[::1]:4580", true},
		{narrow, "[::ffff:127.0.0.1]:4580", true},
		{narrow, "192.0.2.1:4580", true},
		{narrow, "192.0.2.2:4580", false},
		{narrow, "[2001:db8::1]", true},
		{narrow, "[2001:db8::2]:8443", false},
		{narrow, "IOT.Example.COM.:8443", true},
		{narrow, "iotcore-local:4580", false},
		{narrow, "2130706433", false}, // 127.0.0.1 as a number: not an address literal here
		{narrow, "0.0.0.0:4580", false},
		{wide, "iotcore-local:4580", true},
		{wide, "172.18.0.2:4580", true},
		{wide, "[fd00::2]:4580", true},
		{wide, "attacker.example:4580", false},
		{wideV6, "10.0.0.5", true},
		{noHost, "10.0.0.5", true},
		{noHost, "attacker.example", false},
	} {
		if got := tc.allow.allows(tc.host); got != tc.want {
			t.Errorf("allows(%q) with %+v = %v, want %v", tc.host, tc.allow, got, tc.want)
		}
	}
}

func TestCrossOrigin(t *testing.T) {
	for _, tc := range []struct {
		host, origin, fetchSite string
		tls                     bool
		cross                   bool
	}{
		{host: "localhost:4580"},
		{host: "localhost:4580", origin: "http://localhost:4580"},
		{host: "localhost:4580", origin: "HTTP://LocalHost:4580"},
		{host: "localhost:4580", origin: "http://localhost:4580/", cross: true},
		{host: "localhost:80", origin: "http://localhost"},
		{host: "localhost", origin: "http://localhost:80"},
		{host: "localhost:443", origin: "https://localhost", tls: true},
		{host: "localhost:8443", origin: "https://localhost:8443", tls: true},
		{host: "localhost:8443", origin: "http://localhost:8443", tls: true, cross: true},
		{host: "[::1]:4580", origin: "http://[::1]:4580"},
		{host: "localhost:4580", origin: "http://attacker.example", cross: true},
		{host: "localhost:4580", origin: "null", cross: true},
		{host: "localhost:4580", origin: "http://user@localhost:4580", cross: true},
		{host: "localhost:4580", origin: "file://", cross: true},
		{host: "", origin: "null", cross: true},
		{host: "", origin: "http://", cross: true},
		{host: "localhost:4580", fetchSite: "cross-site", cross: true},
		{host: "localhost:4580", fetchSite: "Same-Site", cross: true},
		{host: "localhost:4580", fetchSite: "same-origin"},
		{host: "localhost:4580", fetchSite: "none"},
	} {
		r := &http.Request{Host: tc.host, Header: http.Header{}}
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		if tc.fetchSite != "" {
			r.Header.Set("Sec-Fetch-Site", tc.fetchSite)
		}
		if tc.tls {
			r.TLS = &tls.ConnectionState{}
		}
		if got := crossOrigin(r) != ""; got != tc.cross {
			t.Errorf("Host %q Origin %q Sec-Fetch-Site %q TLS %v: cross = %v (%q), want %v",
				tc.host, tc.origin, tc.fetchSite, tc.tls, got, crossOrigin(r), tc.cross)
		}
	}
}

// BenchmarkCheckBrowser is the cost the Host/Origin rule adds to every request that is not
// strongly authenticated: a curl-like request (no Origin) and a same-origin page's request.
func BenchmarkCheckBrowser(b *testing.B) {
	s := New(Config{Hosts: []string{"iotcore-local", "127.0.0.1:4580"}}).(*server)
	for _, bc := range []struct {
		name string
		r    *http.Request
	}{
		{"curl", &http.Request{Host: "127.0.0.1:4580", Header: http.Header{}}},
		{"same-origin", &http.Request{Host: "localhost:4580", Header: http.Header{
			"Origin": {"http://localhost:4580"}, "Sec-Fetch-Site": {"same-origin"}}}},
		{"endpoint-name", &http.Request{Host: "iotcore-local:4580", Header: http.Header{}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := s.checkBrowser(bc.r, caller{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzCrossOrigin feeds arbitrary Host, Origin and Sec-Fetch-Site values to the rule: it never
// panics, and a request it lets through carries either no Origin or exactly the API's own.
func FuzzCrossOrigin(f *testing.F) {
	f.Add("localhost:4580", "http://localhost:4580", "same-origin", false)
	f.Add("[::1]:4580", "null", "", false)
	f.Add("attacker.example", "http://attacker.example", "cross-site", true)
	f.Add("", "http://", "none", false)
	f.Add("[fe80::1%25eth0]:1", "https://[FE80::1]:443", "", true)
	allow := newHostAllow([]string{"iotcore-local", "0.0.0.0:4580"})
	f.Fuzz(func(t *testing.T, host, origin, site string, isTLS bool) {
		r := &http.Request{Host: host, Header: http.Header{}}
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		if site != "" {
			r.Header.Set("Sec-Fetch-Site", site)
		}
		if isTLS {
			r.TLS = &tls.ConnectionState{}
		}
		_ = allow.allows(host)
		if crossOrigin(r) == "" && r.Header.Get("Origin") != "" && normalizeOrigin(r.Header.Get("Origin")) != ownOrigin(r) {
			t.Fatalf("Host %q Origin %q let through, own origin %q", host, origin, ownOrigin(r))
		}
	})
}
