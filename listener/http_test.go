package listener

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// echoReply is what echoHandler answers: what the handler saw of the request and connection.
type echoReply struct {
	Certs       int    `json:"certs"`       // len(r.TLS.PeerCertificates)
	Proto       string `json:"proto"`       // r.Proto
	ALPN        string `json:"alpn"`        // r.TLS.NegotiatedProtocol
	Remote      string `json:"remote"`      // r.RemoteAddr: the same for requests on one connection
	Transcript  string `json:"transcript"`  // TranscriptFromContext's record id
	Personality string `json:"personality"` // and personality
	Body        int    `json:"body"`        // bytes of request body read
}

// echoHandler serves /echo (an echoReply) and /hijack (takes the connection over, signals
// hijacked, and reads until the connection is closed under it).
func echoHandler(hijacked chan<- struct{}) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rep := echoReply{Proto: r.Proto, Remote: r.RemoteAddr, Body: int(n)}
		if r.TLS != nil {
			rep.Certs, rep.ALPN = len(r.TLS.PeerCertificates), r.TLS.NegotiatedProtocol
		}
		if tr := TranscriptFromContext(r.Context()); tr != nil {
			rec := tr.Record()
			rep.Transcript, rep.Personality = rec.ID, rec.Personality
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(rep)
	})
	mux.HandleFunc("/hijack", func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer conn.Close()
		if hijacked != nil {
			hijacked <- struct{}{}
		}
		_, _ = io.Copy(io.Discard, conn)
	})
	return mux
}

// httpsClient is an HTTP client whose every connection is a TLS dial to one address with an
// exact client configuration (ALPN list, version, certificate), so the test controls the
// ClientHello. It counts dials and notes whether the server asked for a certificate.
type httpsClient struct {
	*http.Client
	transport *http.Transport
	dials     atomic.Int32
	asked     atomic.Bool // the server sent a CertificateRequest
}

func newHTTPSClient(t *testing.T, addr string, cfg *tls.Config) *httpsClient {
	t.Helper()
	c := &httpsClient{}
	cfg = cfg.Clone()
	certs := cfg.Certificates
	cfg.Certificates = nil
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		c.asked.Store(true)
		if len(certs) > 0 {
			return &certs[0], nil
		}
		return &tls.Certificate{}, nil // no certificate
	}
	c.transport = &http.Transport{
		DialTLSContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			c.dials.Add(1)
			d := tls.Dialer{Config: cfg}
			return d.DialContext(ctx, "tcp", addr)
		},
		ForceAttemptHTTP2: true, // use HTTP/2 when the server selects h2
	}
	c.Client = &http.Client{Transport: c.transport, Timeout: hangGuard}
	t.Cleanup(c.transport.CloseIdleConnections)
	return c
}

// echo sends a request to /echo with body and decodes the reply; it fails the test unless the
// answer is 200.
func (c *httpsClient) echo(t *testing.T, method, body string) echoReply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "https://"+testSNI+"/echo", rd)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1 // unknown length: chunked over HTTP/1.1
	if body == "" {
		req.ContentLength = 0
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s /echo: %v", method, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s /echo: %s %s", method, resp.Status, b)
	}
	var rep echoReply
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		t.Fatalf("decode reply: %v", err)
	}
	return rep
}

// TestHTTPSServed covers every ClientHello that gets an HTTPS personality: the handler answers,
// sees the client certificate exactly where one is required, and the HTTP version negotiated;
// no certificate is ever requested by the plain HTTPS personality; the transcript records the
// personality and is finished "ok".
func TestHTTPSServed(t *testing.T) {
	p := newTestPKI(t)
	cases := []struct {
		name        string
		kind        Kind
		alpn        []string
		withCert    bool
		personality string
		selected    string
		proto       string
	}{
		{"443 x-amzn-http-ca", KindALPN, []string{ProtocolHTTPCA}, true, PersonalityHTTPSX509, ProtocolHTTPCA, "HTTP/1.1"},
		{"443 x-amzn-http-ca beside h2", KindALPN, []string{"h2", ProtocolHTTPCA}, true, PersonalityHTTPSX509, ProtocolHTTPCA, "HTTP/1.1"},
		{"443 no ALPN", KindALPN, nil, false, PersonalityHTTPS, "", "HTTP/1.1"},
		{"443 http/1.1", KindALPN, []string{"http/1.1"}, false, PersonalityHTTPS, "http/1.1", "HTTP/1.1"},
		{"443 h2", KindALPN, []string{"h2"}, false, PersonalityHTTPS, "h2", "HTTP/2.0"},
		{"443 h2 http/1.1", KindALPN, []string{"h2", "http/1.1"}, false, PersonalityHTTPS, "h2", "HTTP/2.0"},
		{"443 foo http/1.1", KindALPN, []string{"foo", "http/1.1"}, false, PersonalityHTTPS, "http/1.1", "HTTP/1.1"},
		// A client holding a certificate still gets no CertificateRequest without x-amzn-http-ca.
		{"443 no ALPN, client has a certificate", KindALPN, nil, true, PersonalityHTTPS, "", "HTTP/1.1"},
		{"8443 no ALPN", KindHTTPS, nil, true, PersonalityHTTPSX509, "", "HTTP/1.1"},
		{"8443 http/1.1", KindHTTPS, []string{"http/1.1"}, true, PersonalityHTTPSX509, "http/1.1", "HTTP/1.1"},
		{"8443 h2", KindHTTPS, []string{"h2", "http/1.1"}, true, PersonalityHTTPSX509, "h2", "HTTP/2.0"},
	}
	for _, tc := range cases {
		for _, v := range tlsVersions {
			t.Run(tc.name+" "+v.name, func(t *testing.T) {
				srv := startListener(t, Config{Kind: tc.kind, HTTP: echoHandler(nil)}, readingEstablish(nil))
				client := newHTTPSClient(t, srv.addr, p.clientConfig(v.version, tc.alpn, tc.withCert))
				rep := client.echo(t, http.MethodGet, "")

				x509 := tc.personality == PersonalityHTTPSX509
				if client.asked.Load() != x509 {
					t.Errorf("CertificateRequest sent: %v, want %v", client.asked.Load(), x509)
				}
				wantCerts := 0
				if x509 {
					wantCerts = 1
				}
				if rep.Certs != wantCerts || rep.Proto != tc.proto || rep.ALPN != tc.selected || rep.Personality != tc.personality {
					t.Errorf("handler saw %+v, want %d certificates, %s, ALPN %q, personality %q", rep, wantCerts, tc.proto, tc.selected, tc.personality)
				}

				rec := srv.waitRecord(t, 1)
				if rec.ID != rep.Transcript {
					t.Errorf("TranscriptFromContext gave %q, the connection's transcript is %q", rep.Transcript, rec.ID)
				}
				if rec.Outcome != OutcomeOK || rec.Personality != tc.personality || rec.ClientCertRequested != x509 ||
					rec.ALPNSelected != tc.selected || rec.SNI != testSNI {
					t.Errorf("transcript %+v", rec)
				}
				wantDetail := fmt.Sprintf("HTTPS (%s, no client certificate requested)", orNoALPN(tc.selected))
				if x509 {
					wantDetail = fmt.Sprintf("HTTPS (%s, client certificate %s, ACTIVE)", orNoALPN(tc.selected), p.clientCertID())
					if rec.CertificateID != p.clientCertID() || rec.CertificateStatus != "ACTIVE" {
						t.Errorf("transcript certificate %q %q", rec.CertificateID, rec.CertificateStatus)
					}
				} else if rec.CertificateID != "" {
					t.Errorf("transcript certificate %q on a personality without a certificate request", rec.CertificateID)
				}
				if rec.Detail != wantDetail {
					t.Errorf("transcript detail %q, want %q", rec.Detail, wantDetail)
				}
			})
		}
	}
}

func orNoALPN(alpn string) string {
	if alpn == "" {
		return "no ALPN"
	}
	return alpn
}

// TestHTTPSMQTTStillMQTT: with HTTP served, x-amzn-mqtt-ca still goes to mochi's establish.
func TestHTTPSMQTTStillMQTT(t *testing.T) {
	p := newTestPKI(t)
	got := make(chan *Conn, 1)
	srv := startListener(t, Config{HTTP: echoHandler(nil)}, readingEstablish(got))
	c, _ := dialTLS(t, srv.addr, p.clientConfig(tls.VersionTLS13, []string{"http/1.1", ProtocolMQTTCA}, true))
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	select {
	case conn := <-got:
		if conn.ConnectionState().NegotiatedProtocol != ProtocolMQTTCA {
			t.Errorf("negotiated %q", conn.ConnectionState().NegotiatedProtocol)
		}
	case <-time.After(hangGuard):
		t.Fatal("establish was not called")
	}
	_ = c.Close()
	if rec := srv.waitRecord(t, 1); rec.Personality != PersonalityMQTT {
		t.Errorf("transcript personality %q", rec.Personality)
	}
}

// TestHTTPSRefused: with HTTP served, mqtt and unknown ids still end in exactly one alert 120
// and no CertificateRequest; --alpn-strict refuses every HTTPS personality; 8443 refuses the
// private ids. The transcript has no personality.
func TestHTTPSRefused(t *testing.T) {
	p := newTestPKI(t)
	cases := []struct {
		name   string
		kind   Kind
		strict bool
		alpn   []string
	}{
		{"443 mqtt", KindALPN, false, []string{"mqtt"}},
		{"443 foo", KindALPN, false, []string{"foo"}},
		{"443 strict x-amzn-http-ca", KindALPN, true, []string{ProtocolHTTPCA}},
		{"443 strict no ALPN", KindALPN, true, nil},
		{"443 strict http/1.1", KindALPN, true, []string{"http/1.1"}},
		{"443 strict h2", KindALPN, true, []string{"h2"}},
		{"8443 x-amzn-mqtt-ca", KindHTTPS, false, []string{ProtocolMQTTCA}},
		{"8443 x-amzn-http-ca", KindHTTPS, false, []string{ProtocolHTTPCA}},
		{"8443 mqtt", KindHTTPS, false, []string{"mqtt"}},
	}
	for _, tc := range cases {
		for _, v := range tlsVersions {
			t.Run(tc.name+" "+v.name, func(t *testing.T) {
				srv := startListener(t, Config{Kind: tc.kind, Strict: tc.strict, HTTP: echoHandler(nil)}, readingEstablish(nil))
				cfg := p.clientConfig(v.version, tc.alpn, false)
				var asked atomic.Bool
				cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
					asked.Store(true)
					return &p.client, nil
				}
				client, wire := dialTLS(t, srv.addr, cfg)
				if err := client.Handshake(); err == nil || !strings.Contains(err.Error(), "no application protocol") {
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
					rec.Personality != "" || rec.ClientCertRequested {
					t.Errorf("transcript %+v", rec)
				}
			})
		}
	}
}

// TestHTTPSClientCertificateRequired: x-amzn-http-ca on 443, and 8443, without a client
// certificate fail: the TLS 1.2 handshake, or with TLS 1.3 the first request (the server's
// certificate_required alert). The handler never runs; the transcript names the personality.
func TestHTTPSClientCertificateRequired(t *testing.T) {
	p := newTestPKI(t)
	cases := []struct {
		name string
		kind Kind
		alpn []string
	}{
		{"443 x-amzn-http-ca", KindALPN, []string{ProtocolHTTPCA}},
		{"8443 no ALPN", KindHTTPS, nil},
		{"8443 h2", KindHTTPS, []string{"h2"}},
	}
	for _, tc := range cases {
		for _, v := range tlsVersions {
			t.Run(tc.name+" "+v.name, func(t *testing.T) {
				var called atomic.Bool
				handler := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called.Store(true) })
				srv := startListener(t, Config{Kind: tc.kind, HTTP: handler}, readingEstablish(nil))
				client := newHTTPSClient(t, srv.addr, p.clientConfig(v.version, tc.alpn, false))
				resp, err := client.Get("https://" + testSNI + "/echo")
				if err == nil {
					resp.Body.Close()
					t.Fatalf("request without a client certificate answered %s", resp.Status)
				}
				if !client.asked.Load() {
					t.Error("no CertificateRequest was sent")
				}
				if called.Load() {
					t.Error("handler ran for a connection without a certificate")
				}
				rec := srv.waitRecord(t, 1)
				if rec.Outcome != OutcomeAlert || !strings.Contains(rec.Detail, "client certificate required") ||
					rec.Personality != PersonalityHTTPSX509 || !rec.ClientCertRequested {
					t.Errorf("transcript %+v", rec)
				}
			})
		}
	}
}

// TestHTTPSKeepAlive: requests on one connection reuse it (one handshake, one transcript),
// including a chunked request body, over HTTP/1.1 and HTTP/2.
func TestHTTPSKeepAlive(t *testing.T) {
	p := newTestPKI(t)
	for _, alpn := range [][]string{{ProtocolHTTPCA}, {"http/1.1"}, {"h2"}} {
		t.Run(alpn[0], func(t *testing.T) {
			srv := startListener(t, Config{HTTP: echoHandler(nil)}, readingEstablish(nil))
			client := newHTTPSClient(t, srv.addr, p.clientConfig(tls.VersionTLS13, alpn, true))
			first := client.echo(t, http.MethodGet, "")
			body := strings.Repeat("chunk ", 5000)
			second := client.echo(t, http.MethodPost, body)
			if n := client.dials.Load(); n != 1 {
				t.Errorf("%d connections, want 1", n)
			}
			if first.Remote != second.Remote || first.Transcript != second.Transcript {
				t.Errorf("requests on different connections: %+v / %+v", first, second)
			}
			if second.Body != len(body) {
				t.Errorf("handler read %d body bytes, want %d", second.Body, len(body))
			}
			// The transcript is finished "ok" by the goroutine that handed the connection over,
			// which may run after the requests were already served.
			waitFor(t, "the connection's transcript", func() bool { return len(srv.ring.Records()) >= 1 })
			if recs := srv.ring.Records(); len(recs) != 1 {
				t.Errorf("%d transcripts, want 1: %+v", len(recs), recs)
			}
		})
	}
}

// TestHTTPSDeadlines: the CONNECT deadline does not apply to HTTPS (a request after it is
// served); the HTTP server's ReadHeaderTimeout closes a connection that sends no request.
func TestHTTPSDeadlines(t *testing.T) {
	p := newTestPKI(t)
	const short = 200 * time.Millisecond

	t.Run("CONNECT deadline does not apply", func(t *testing.T) {
		srv := startListener(t, Config{HTTP: echoHandler(nil), ConnectTimeout: short / 4}, readingEstablish(nil))
		c, _ := dialTLS(t, srv.addr, p.clientConfig(tls.VersionTLS13, []string{"http/1.1"}, false))
		if err := c.Handshake(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(short) // well past the CONNECT deadline
		if _, err := io.WriteString(c, "GET /echo HTTP/1.1\r\nHost: "+testSNI+"\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("no response after the CONNECT deadline: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("status %s", resp.Status)
		}
	})

	t.Run("ReadHeaderTimeout", func(t *testing.T) {
		srv := startListener(t, Config{HTTP: echoHandler(nil), HTTPReadHeaderTimeout: short}, readingEstablish(nil))
		c, _ := dialTLS(t, srv.addr, p.clientConfig(tls.VersionTLS13, nil, false))
		if _, err := io.WriteString(c, "GET /echo HTTP/1.1\r\n"); err != nil { // headers never finished
			t.Fatal(err)
		}
		expectClosedByServer(t, c)
		if rec := srv.waitRecord(t, 1); rec.Outcome != OutcomeOK || rec.Personality != PersonalityHTTPS {
			t.Errorf("transcript %+v", rec)
		}
	})
}

// TestTranscriptFromContextAbsent: a request that did not come through the listener has none.
func TestTranscriptFromContextAbsent(t *testing.T) {
	if tr := TranscriptFromContext(context.Background()); tr != nil {
		t.Errorf("TranscriptFromContext(Background) = %v", tr)
	}
}

// TestHTTPSCloseCutsEverything: Close with idle keep-alive HTTP/1.1 and HTTP/2 connections, a
// half-sent request, a handshaken silent HTTPS connection, a hijacked connection and an MQTT
// connection waiting for CONNECT returns, closes them all, and leaves no goroutine behind.
func TestHTTPSCloseCutsEverything(t *testing.T) {
	p := newTestPKI(t)
	before := runtime.NumGoroutine()

	ring := NewTranscripts(16)
	hijacked := make(chan struct{}, 1)
	l := New(Config{
		ID: "closing", Address: "127.0.0.1:0", Kind: KindALPN, Transcripts: ring, HTTP: echoHandler(hijacked),
		Certificate: func() *tls.Certificate { return &p.server }, CertificateStatus: p.certificateStatus,
		// Long deadlines: only Close can end these connections within the test.
		HandshakeTimeout: time.Hour, ConnectTimeout: time.Hour, HTTPReadHeaderTimeout: time.Hour, HTTPIdleTimeout: time.Hour,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err := l.Init(nil); err != nil {
		t.Fatal(err)
	}
	got := make(chan *Conn, 1)
	served := make(chan struct{})
	go func() { defer close(served); l.Serve(readingEstablish(got)) }()

	idle1 := newHTTPSClient(t, l.Address(), p.clientConfig(tls.VersionTLS13, []string{"http/1.1"}, false))
	idle1.echo(t, http.MethodGet, "")
	idle2 := newHTTPSClient(t, l.Address(), p.clientConfig(tls.VersionTLS13, []string{"h2"}, false))
	idle2.echo(t, http.MethodGet, "")

	var raws []net.Conn
	half, _ := dialTLS(t, l.Address(), p.clientConfig(tls.VersionTLS13, []string{"http/1.1"}, false))
	if _, err := io.WriteString(half, "POST /echo HTTP/1.1\r\nHost: x\r\n"); err != nil {
		t.Fatal(err)
	}
	silent, _ := dialTLS(t, l.Address(), p.clientConfig(tls.VersionTLS12, nil, false))
	if err := silent.Handshake(); err != nil {
		t.Fatal(err)
	}
	hj, _ := dialTLS(t, l.Address(), p.clientConfig(tls.VersionTLS13, []string{ProtocolHTTPCA}, true))
	if _, err := io.WriteString(hj, "GET /hijack HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-hijacked:
	case <-time.After(hangGuard):
		t.Fatal("the handler did not hijack")
	}
	mq, _ := dialTLS(t, l.Address(), p.clientConfig(tls.VersionTLS13, []string{ProtocolMQTTCA}, true))
	if err := mq.Handshake(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-got:
	case <-time.After(hangGuard):
		t.Fatal("establish not called")
	}
	raws = append(raws, half, silent, hj, mq)
	// Finished "ok" at hand-off; the silent connection without ALPN is still being sniffed for an
	// MQTT CONNECT (sniff.go), so its transcript ends at Close.
	waitFor(t, "the 4 HTTPS transcripts", func() bool { return len(ring.Records()) >= 4 })

	closed := make(chan struct{})
	go func() { defer close(closed); l.Close(func(string) {}) }()
	select {
	case <-closed:
	case <-time.After(hangGuard):
		t.Fatal("Close did not return")
	}
	<-served
	for _, c := range raws {
		expectClosedByServer(t, c)
		_ = c.Close()
	}
	idle1.transport.CloseIdleConnections()
	idle2.transport.CloseIdleConnections()

	recs := ring.Records()
	if len(recs) != 6 {
		t.Fatalf("%d transcripts, want 6: %+v", len(recs), recs)
	}
	personalities := map[string]int{}
	for _, r := range recs {
		personalities[r.Personality]++
		t.Logf("transcript: %s %s / %s", r.Personality, r.Outcome, r.Detail)
	}
	if personalities[PersonalityHTTPS] != 4 || personalities[PersonalityHTTPSX509] != 1 || personalities[PersonalityMQTT] != 1 {
		t.Errorf("personalities %v", personalities)
	}
	l.Close(nil) // a second Close is harmless

	waitFor(t, "goroutines to return to the baseline", func() bool { return runtime.NumGoroutine() <= before })
}

// TestHTTPSWithMochi: on a 443 listener run by mochi, an MQTT client and an HTTPS client share
// the port, and mochi's Server.Close shuts the HTTP server down with the MQTT sessions.
func TestHTTPSWithMochi(t *testing.T) {
	p := newTestPKI(t)
	m := startMochi(t, Config{HTTP: echoHandler(nil)})

	tlsCfg := p.clientConfig(tls.VersionTLS13, []string{ProtocolMQTTCA}, true)
	mqttClient := paho.NewClient(paho.NewClientOptions().
		AddBroker("ssl://" + m.l.Address()).SetClientID("device-1").SetTLSConfig(tlsCfg).
		SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(hangGuard))
	if tok := mqttClient.Connect(); !tok.WaitTimeout(hangGuard) || tok.Error() != nil {
		t.Fatalf("mqtt connect: %v", tok.Error())
	}
	defer mqttClient.Disconnect(0)

	client := newHTTPSClient(t, m.l.Address(), p.clientConfig(tls.VersionTLS13, []string{ProtocolHTTPCA}, true))
	if rep := client.echo(t, http.MethodGet, ""); rep.Certs != 1 || rep.Personality != PersonalityHTTPSX509 {
		t.Errorf("handler saw %+v", rep)
	}

	m.close(t)
	if resp, err := client.Get("https://" + testSNI + "/echo"); err == nil {
		resp.Body.Close()
		t.Errorf("HTTPS still answered %s after Server.Close", resp.Status)
	}
	waitFor(t, "the MQTT client to see the close", func() bool { return !mqttClient.IsConnectionOpen() })
	personalities := map[string]bool{}
	for _, r := range m.ring.Records() {
		personalities[r.Personality] = true
	}
	if !personalities[PersonalityMQTT] || !personalities[PersonalityHTTPSX509] {
		t.Errorf("transcripts %+v", m.ring.Records())
	}
}

// TestMQTTOnHTTPSPersonality: an MQTT client on 443 that offers no ALPN lands on HTTPS; its
// CONNECT is recognised at once and the connection closed with the explanation (offer ALPN
// x-amzn-mqtt-ca), not left to wait out the request-header deadline. HTTP/1.1 without ALPN is
// still served.
func TestMQTTOnHTTPSPersonality(t *testing.T) {
	p := newTestPKI(t)
	ring := NewTranscripts(16)
	l := New(Config{
		ID: "alpn", Address: "127.0.0.1:0", Kind: KindALPN, Transcripts: ring, HTTP: echoHandler(nil),
		Certificate: func() *tls.Certificate { return &p.server }, CertificateStatus: p.certificateStatus,
		HTTPReadHeaderTimeout: time.Hour, // only the sniff can close it within the test
		Logger:                slog.New(slog.DiscardHandler),
	})
	if err := l.Init(nil); err != nil {
		t.Fatal(err)
	}
	go l.Serve(readingEstablish(make(chan *Conn, 1)))
	t.Cleanup(func() { l.Close(func(string) {}) })

	mq, _ := dialTLS(t, l.Address(), p.clientConfig(tls.VersionTLS13, nil, false))
	connect := []byte{0x10, 0x0e, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, 2, 'i', 'd'}
	if _, err := mq.Write(connect); err != nil {
		t.Fatal(err)
	}
	expectClosedByServer(t, mq)
	waitFor(t, "the MQTT-on-HTTPS transcript", func() bool { return len(ring.Records()) >= 1 })
	rec := ring.Records()[0]
	if !strings.Contains(rec.Detail, "x-amzn-mqtt-ca") {
		t.Errorf("transcript %s / %q does not say to offer ALPN x-amzn-mqtt-ca", rec.Outcome, rec.Detail)
	}

	h1 := newHTTPSClient(t, l.Address(), p.clientConfig(tls.VersionTLS13, nil, false))
	h1.echo(t, http.MethodGet, "")
}
