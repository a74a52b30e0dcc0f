package listener

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var tlsVersions = []struct {
	name    string
	version uint16
}{{"TLS1.2", tls.VersionTLS12}, {"TLS1.3", tls.VersionTLS13}}

// TestHandshakeAccepted covers the ClientHellos that complete: x-amzn-mqtt-ca with a client
// certificate on 443, and any ALPN list with a client certificate on 8883.
func TestHandshakeAccepted(t *testing.T) {
	p := newTestPKI(t)
	cases := []struct {
		name     string
		kind     Kind
		strict   bool
		alpn     []string
		selected string
	}{
		{"443 x-amzn-mqtt-ca", KindALPN, false, []string{ProtocolMQTTCA}, ProtocolMQTTCA},
		{"443 strict x-amzn-mqtt-ca", KindALPN, true, []string{ProtocolMQTTCA}, ProtocolMQTTCA},
		{"443 x-amzn-mqtt-ca among others", KindALPN, false, []string{"h2", ProtocolMQTTCA}, ProtocolMQTTCA},
		{"8883 no ALPN", KindMQTTS, false, nil, ""},
		{"8883 x-amzn-mqtt-ca", KindMQTTS, false, []string{ProtocolMQTTCA}, ProtocolMQTTCA},
		{"8883 mqtt", KindMQTTS, false, []string{"mqtt"}, ""},
		{"8883 h2 http/1.1", KindMQTTS, false, []string{"h2", "http/1.1"}, ""},
	}
	for _, tc := range cases {
		for _, v := range tlsVersions {
			t.Run(tc.name+" "+v.name, func(t *testing.T) {
				got := make(chan *Conn, 1)
				srv := startListener(t, Config{Kind: tc.kind, Strict: tc.strict}, readingEstablish(got))
				client, _ := dialTLS(t, srv.addr, p.clientConfig(v.version, tc.alpn, true))
				if err := client.Handshake(); err != nil {
					t.Fatalf("client handshake: %v", err)
				}
				if np := client.ConnectionState().NegotiatedProtocol; np != tc.selected {
					t.Errorf("client NegotiatedProtocol = %q, want %q", np, tc.selected)
				}

				var conn *Conn
				select {
				case conn = <-got:
				case <-time.After(hangGuard):
					t.Fatal("establish was not called")
				}
				st := conn.ConnectionState()
				if len(st.PeerCertificates) != 1 || !bytes.Equal(st.PeerCertificates[0].Raw, p.client.Certificate[0]) {
					t.Errorf("server PeerCertificates = %d certs, want the client certificate", len(st.PeerCertificates))
				}
				if st.NegotiatedProtocol != tc.selected || st.ServerName != testSNI || st.Version != v.version {
					t.Errorf("server state: protocol %q sni %q version %x", st.NegotiatedProtocol, st.ServerName, st.Version)
				}
				if st.DidResume {
					t.Error("session resumed; tickets should be disabled")
				}

				_ = client.Close()
				rec := srv.waitRecord(t, 1)
				want := Record{
					ID: rec.ID, Listener: "test", Remote: client.LocalAddr().String(), SNI: testSNI,
					ALPNOffered: tc.alpn, ALPNSelected: tc.selected, Personality: PersonalityMQTT, ClientCertRequested: true,
					CertificateID: p.clientCertID(), CertificateKnown: true, CertificateStatus: "ACTIVE",
					Outcome: OutcomeClosedBeforeConnect, Detail: "connection closed before an MQTT CONNECT was read: the client closed the connection",
					Started: rec.Started, DurationMS: rec.DurationMS,
					TLSVersion: tls.VersionName(v.version), CipherSuite: tls.CipherSuiteName(st.CipherSuite),
				}
				wantSteps := []string{StepTCPAccepted, StepClientHello, StepServerHello, StepCertificateRequest, StepClientCertificate, StepClosed}
				if got := stepNames(rec); !slices.Equal(got, wantSteps) {
					t.Errorf("steps %v, want %v", got, wantSteps)
				}
				if !equalRecords(rec, want) {
					t.Errorf("transcript\n got %+v\nwant %+v", rec, want)
				}
				if rec.ID == "" || rec.DurationMS <= 0 {
					t.Errorf("transcript id %q duration %v", rec.ID, rec.DurationMS)
				}
			})
		}
	}
}

func equalRecords(a, b Record) bool {
	if !slices.Equal(a.ALPNOffered, b.ALPNOffered) {
		return false
	}
	a.ALPNOffered, b.ALPNOffered = nil, nil
	a.Steps, b.Steps = nil, nil // checked by stepNames where a test cares
	return fmt.Sprint(a) == fmt.Sprint(b)
}

// stepNames lists the names of a record's steps, in order.
func stepNames(r Record) []string {
	var names []string
	for _, s := range r.Steps {
		names = append(names, s.Step)
	}
	return names
}

// TestALPNRefused proves that on 443 every ALPN list without x-amzn-mqtt-ca, including no ALPN
// extension at all, ends with exactly one fatal alert 120 and never a CertificateRequest.
func TestALPNRefused(t *testing.T) {
	p := newTestPKI(t)
	lists := []struct {
		name string
		alpn []string
	}{
		{"no ALPN", nil},
		{"http/1.1", []string{"http/1.1"}},
		{"mqtt", []string{"mqtt"}},
		{"h2", []string{"h2"}},
		{"foo", []string{"foo"}},
		{"h2 http/1.1", []string{"h2", "http/1.1"}},
		{"x-amzn-http-ca", []string{"x-amzn-http-ca"}},
	}
	for _, strict := range []bool{false, true} {
		for _, list := range lists {
			for _, v := range tlsVersions {
				t.Run(fmt.Sprintf("strict=%v %s %s", strict, list.name, v.name), func(t *testing.T) {
					srv := startListener(t, Config{Kind: KindALPN, Strict: strict}, readingEstablish(nil))
					cfg := p.clientConfig(v.version, list.alpn, false)
					var asked atomic.Bool
					cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
						asked.Store(true)
						return &p.client, nil
					}
					client, wire := dialTLS(t, srv.addr, cfg)
					err := client.Handshake()
					if err == nil || !strings.Contains(err.Error(), "no application protocol") {
						t.Fatalf("client handshake error = %v, want alert no application protocol", err)
					}
					if asked.Load() {
						t.Error("server sent a CertificateRequest")
					}
					if got := wire.drain(); !bytes.Equal(got, noApplicationProtocolAlert) {
						t.Errorf("server sent % x, want only the alert record % x", got, noApplicationProtocolAlert)
					}

					rec := srv.waitRecord(t, 1)
					if rec.Outcome != OutcomeAlert || !strings.HasPrefix(rec.Detail, "no_application_protocol: ") ||
						!strings.Contains(rec.Detail, ProtocolMQTTCA) {
						t.Errorf("transcript outcome %q detail %q", rec.Outcome, rec.Detail)
					}
					if rec.ClientCertRequested || rec.CertificateID != "" || rec.ALPNSelected != "" {
						t.Errorf("transcript %+v: no certificate may be requested", rec)
					}
					if !slices.Equal(rec.ALPNOffered, list.alpn) || rec.SNI != testSNI {
						t.Errorf("transcript ALPN offered %q SNI %q", rec.ALPNOffered, rec.SNI)
					}
				})
			}
		}
	}
}

// TestRefusalDetail pins the wording of the refusal for an offered and an absent ALPN list.
func TestRefusalDetail(t *testing.T) {
	cases := []struct {
		offered []string
		want    string
	}{
		{nil, "no_application_protocol: no ALPN offered; this port serves x-amzn-mqtt-ca"},
		{[]string{"h2"}, "no_application_protocol: ALPN offered [h2], none of them served here; this port serves x-amzn-mqtt-ca"},
	}
	for _, tc := range cases {
		err := &noApplicationProtocolError{offered: tc.offered, served: rulesFor(Config{Kind: KindALPN}).served()}
		if err.Error() != tc.want {
			t.Errorf("offered %q: %q, want %q", tc.offered, err.Error(), tc.want)
		}
	}
}

// TestClientCertificateRequired: a client that presents no certificate where one is required
// fails — at the handshake with TLS 1.2, on its first read with TLS 1.3 (the server's
// certificate_required alert arrives after the client's handshake completed).
func TestClientCertificateRequired(t *testing.T) {
	p := newTestPKI(t)
	cases := []struct {
		name string
		kind Kind
		alpn []string
	}{
		{"443 x-amzn-mqtt-ca", KindALPN, []string{ProtocolMQTTCA}},
		{"8883 no ALPN", KindMQTTS, nil},
	}
	for _, tc := range cases {
		for _, v := range tlsVersions {
			t.Run(tc.name+" "+v.name, func(t *testing.T) {
				got := make(chan *Conn, 1)
				srv := startListener(t, Config{Kind: tc.kind}, readingEstablish(got))
				client, _ := dialTLS(t, srv.addr, p.clientConfig(v.version, tc.alpn, false))
				err := client.Handshake()
				switch v.version {
				case tls.VersionTLS12:
					if err == nil {
						t.Fatal("TLS 1.2 handshake without a client certificate succeeded")
					}
				case tls.VersionTLS13:
					if err != nil {
						t.Fatalf("TLS 1.3 client handshake: %v (the failure should come on first read)", err)
					}
					_, _ = client.Write([]byte{0x10, 0x00}) // what a client does next: send CONNECT
					_, err = client.Read(make([]byte, 16))
					if err == nil || !strings.Contains(err.Error(), "certificate required") {
						t.Fatalf("TLS 1.3 first read error = %v, want certificate required", err)
					}
				}
				rec := srv.waitRecord(t, 1)
				if rec.Outcome != OutcomeAlert || !strings.Contains(rec.Detail, "client certificate required") || !rec.ClientCertRequested {
					t.Errorf("transcript %+v", rec)
				}
				select {
				case <-got:
					t.Error("establish was called for a failed handshake")
				default:
				}
			})
		}
	}
}

// TestUnknownCertificateStillConnects: trust is by registration, so a certificate the registry
// does not know completes the handshake and the transcript says it is unknown.
func TestUnknownCertificateStillConnects(t *testing.T) {
	p := newTestPKI(t)
	srv := startListener(t, Config{Kind: KindALPN}, readingEstablish(nil))
	cfg := p.clientConfig(tls.VersionTLS13, []string{ProtocolMQTTCA}, false)
	cfg.Certificates = []tls.Certificate{p.other}
	client, _ := dialTLS(t, srv.addr, cfg)
	if err := client.Handshake(); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	_ = client.Close()
	rec := srv.waitRecord(t, 1)
	if rec.CertificateID != certificateID(p.other.Certificate[0]) || rec.CertificateKnown || rec.CertificateStatus != "" {
		t.Errorf("transcript %+v", rec)
	}
}
