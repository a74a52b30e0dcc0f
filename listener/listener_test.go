package listener

import (
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestInitBindsPortZero: Init binds at once and Address reports the real port.
func TestInitBindsPortZero(t *testing.T) {
	srv := startListener(t, Config{}, readingEstablish(nil))
	_, port, err := net.SplitHostPort(srv.addr)
	if err != nil || port == "0" || port == "" {
		t.Fatalf("Address() = %q", srv.addr)
	}
	if srv.l.Protocol() != "tcp" || srv.l.ID() != "test" {
		t.Errorf("Protocol %q ID %q", srv.l.Protocol(), srv.l.ID())
	}
}

// TestInitErrors: an unusable config or a busy address fails Init with a wrapped error.
func TestInitErrors(t *testing.T) {
	p := newTestPKI(t)
	cert := func() *tls.Certificate { return &p.server }
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cases := []struct {
		name string
		cfg  Config
		is   error
	}{
		{"no id", Config{Address: "127.0.0.1:0", Kind: KindALPN, Certificate: cert}, nil},
		{"no kind", Config{ID: "x", Address: "127.0.0.1:0", Certificate: cert}, nil},
		{"no certificate", Config{ID: "x", Address: "127.0.0.1:0", Kind: KindMQTTS}, nil},
		{"address in use", Config{ID: "x", Address: busy.Addr().String(), Kind: KindMQTTS, Certificate: cert}, syscall.EADDRINUSE},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := New(tc.cfg)
			defer l.Close(nil)
			err := l.Init(nil)
			if err == nil {
				t.Fatal("Init succeeded")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("Init error %v does not wrap %v", err, tc.is)
			}
		})
	}
}

// TestDeadlines: a silent TCP socket is closed at the handshake deadline, a socket that
// completes TLS but never sends an MQTT packet at the CONNECT deadline; both transcripts say
// "timeout". A client that closes right after the handshake is "closed before CONNECT".
func TestDeadlines(t *testing.T) {
	p := newTestPKI(t)
	const short = 200 * time.Millisecond
	cases := []struct {
		name    string
		client  func(t *testing.T, addr string) net.Conn
		outcome string
		detail  string
		// handshake is whether the short deadline is the handshake's (else the CONNECT's); the
		// other deadline stays long, so a slow machine cannot trip the wrong one.
		handshake bool
	}{
		{
			name: "silent TCP",
			client: func(t *testing.T, addr string) net.Conn {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				return c
			},
			outcome: OutcomeTimeout, detail: "TLS handshake not completed within 200ms", handshake: true,
		},
		{
			name: "partial ClientHello",
			client: func(t *testing.T, addr string) net.Conn {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				_, _ = c.Write([]byte{0x16, 0x03, 0x01, 0x01, 0x00, 0x01}) // a record header promising 256 bytes
				return c
			},
			outcome: OutcomeTimeout, detail: "TLS handshake not completed within 200ms", handshake: true,
		},
		{
			name: "TLS complete, no CONNECT",
			client: func(t *testing.T, addr string) net.Conn {
				c, _ := dialTLS(t, addr, p.clientConfig(tls.VersionTLS13, []string{ProtocolMQTTCA}, true))
				if err := c.Handshake(); err != nil {
					t.Fatal(err)
				}
				return c
			},
			outcome: OutcomeTimeout, detail: "no MQTT CONNECT within 200ms",
		},
		{
			name: "TLS 1.2 complete, half a CONNECT",
			client: func(t *testing.T, addr string) net.Conn {
				c, _ := dialTLS(t, addr, p.clientConfig(tls.VersionTLS12, []string{ProtocolMQTTCA}, true))
				if _, err := c.Write([]byte{0x10, 0x20}); err != nil {
					t.Fatal(err)
				}
				return c
			},
			outcome: OutcomeTimeout, detail: "no MQTT CONNECT within 200ms",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{HandshakeTimeout: hangGuard, ConnectTimeout: short}
			if tc.handshake {
				cfg = Config{HandshakeTimeout: short, ConnectTimeout: hangGuard}
			}
			srv := startListener(t, cfg, readingEstablish(nil))
			c := tc.client(t, srv.addr)
			defer c.Close()
			expectClosedByServer(t, c)
			rec := srv.waitRecord(t, 1)
			if rec.Outcome != tc.outcome || rec.Detail != tc.detail {
				t.Errorf("transcript outcome %q detail %q, want %q %q", rec.Outcome, rec.Detail, tc.outcome, tc.detail)
			}
		})
	}
}

// TestClosedBeforeConnect: a client that hangs up after the handshake is recorded as such.
func TestClosedBeforeConnect(t *testing.T) {
	p := newTestPKI(t)
	srv := startListener(t, Config{}, readingEstablish(nil))
	c, _ := dialTLS(t, srv.addr, p.clientConfig(tls.VersionTLS12, []string{ProtocolMQTTCA}, true))
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
	rec := srv.waitRecord(t, 1)
	if rec.Outcome != OutcomeClosedBeforeConnect || !strings.Contains(rec.Detail, "client closed") {
		t.Errorf("transcript outcome %q detail %q", rec.Outcome, rec.Detail)
	}
}

// TestGarbageClientHello: bytes that are not a ClientHello fail the handshake with a clear
// transcript and the listener keeps serving.
func TestGarbageClientHello(t *testing.T) {
	p := newTestPKI(t)
	cases := []struct {
		name    string
		payload []byte
	}{
		{"HTTP request", []byte("GET / HTTP/1.1\r\nHost: example\r\n\r\n")},
		{"MQTT CONNECT in clear", []byte{0x10, 0x0c, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3c, 0x00, 0x00}},
		{"handshake record of junk", append([]byte{0x16, 0x03, 0x01, 0x00, 0x08}, []byte("junkjunk")...)},
		{"oversized record", []byte{0x16, 0x03, 0x01, 0xff, 0xff, 0x01, 0x00}},
		{"zeros", make([]byte, 64)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := startListener(t, Config{}, readingEstablish(nil))
			c, err := net.Dial("tcp", srv.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Write(tc.payload); err != nil {
				t.Fatal(err)
			}
			expectClosedByServer(t, c)
			rec := srv.waitRecord(t, 1)
			t.Logf("transcript: %s / %s", rec.Outcome, rec.Detail)
			if rec.Outcome != OutcomeAlert || !strings.HasPrefix(rec.Detail, "handshake_failed: ") {
				t.Errorf("transcript outcome %q detail %q", rec.Outcome, rec.Detail)
			}

			good, _ := dialTLS(t, srv.addr, p.clientConfig(tls.VersionTLS13, []string{ProtocolMQTTCA}, true))
			if err := good.Handshake(); err != nil {
				t.Fatalf("next good connection: %v", err)
			}
		})
	}
}

// TestClientRejectsServerCertificate: a client that does not trust the server certificate
// aborts; the transcript names the client's alert and the likely cause.
func TestClientRejectsServerCertificate(t *testing.T) {
	p := newTestPKI(t)
	srv := startListener(t, Config{}, readingEstablish(nil))
	cfg := p.clientConfig(tls.VersionTLS13, []string{ProtocolMQTTCA}, true)
	cfg.RootCAs = nil // trusts the system roots only
	c, _ := dialTLS(t, srv.addr, cfg)
	if err := c.Handshake(); err == nil {
		t.Fatal("handshake succeeded without trusting the server CA")
	}
	rec := srv.waitRecord(t, 1)
	t.Logf("transcript: %s / %s", rec.Outcome, rec.Detail)
	if rec.Outcome != OutcomeAlert || !strings.Contains(rec.Detail, "client aborted with alert") || !strings.Contains(rec.Detail, "root CA") {
		t.Errorf("transcript outcome %q detail %q", rec.Outcome, rec.Detail)
	}
}

// TestCloseCutsEverything: Close with silent sockets, half-written ClientHellos and handshaken
// connections waiting for CONNECT returns, calls closeClients with the listener id, and leaves
// no goroutine behind.
func TestCloseCutsEverything(t *testing.T) {
	p := newTestPKI(t)
	before := runtime.NumGoroutine()

	ring := NewTranscripts(16)
	l := New(Config{
		ID: "closing", Address: "127.0.0.1:0", Kind: KindALPN, Transcripts: ring,
		Certificate: func() *tls.Certificate { return &p.server },
		// Long deadlines: only Close can end these connections within the test.
		HandshakeTimeout: time.Hour, ConnectTimeout: time.Hour, Logger: slog.New(slog.DiscardHandler),
	})
	if err := l.Init(nil); err != nil {
		t.Fatal(err)
	}
	got := make(chan *Conn, 4)
	served := make(chan struct{})
	go func() { defer close(served); l.Serve(readingEstablish(got)) }()

	var clients []net.Conn
	for range 3 { // silent TCP
		c, err := net.Dial("tcp", l.Address())
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	half, err := net.Dial("tcp", l.Address())
	if err != nil {
		t.Fatal(err)
	}
	_, _ = half.Write([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00})
	clients = append(clients, half)
	for range 2 { // handshaken, waiting for CONNECT
		c, _ := dialTLS(t, l.Address(), p.clientConfig(tls.VersionTLS13, []string{ProtocolMQTTCA}, true))
		if err := c.Handshake(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-got:
		case <-time.After(hangGuard):
			t.Fatal("establish not called")
		}
		clients = append(clients, c)
	}
	waitFor(t, "6 tracked connections", func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return len(l.conns) == 6
	})

	var closedID atomic.Value
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		l.Close(func(id string) { closedID.Store(id) })
	}()
	select {
	case <-closed:
	case <-time.After(hangGuard):
		t.Fatal("Close did not return")
	}
	<-served
	if id, _ := closedID.Load().(string); id != "closing" {
		t.Errorf("closeClients called with %q", id)
	}
	for _, c := range clients {
		expectClosedByServer(t, c)
		_ = c.Close()
	}
	recs := ring.Records()
	if len(recs) != 6 {
		t.Fatalf("%d transcripts, want 6: %+v", len(recs), recs)
	}
	for _, r := range recs {
		t.Logf("transcript: %s / %s", r.Outcome, r.Detail)
		if r.Outcome != OutcomeClosed && r.Outcome != OutcomeClosedBeforeConnect {
			t.Errorf("transcript outcome %q detail %q", r.Outcome, r.Detail)
		}
	}
	if _, err := net.Dial("tcp", l.Address()); err == nil {
		t.Error("listener still accepts after Close")
	}
	l.Close(nil) // a second Close is harmless

	waitFor(t, "goroutines to return to the baseline", func() bool { return runtime.NumGoroutine() <= before })
}

// waitFor polls cond until it holds, failing after hangGuard.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestServeAfterClose: Serve on a closed listener returns at once.
func TestServeAfterClose(t *testing.T) {
	p := newTestPKI(t)
	l := New(Config{ID: "x", Address: "127.0.0.1:0", Kind: KindMQTTS, Certificate: func() *tls.Certificate { return &p.server }})
	if err := l.Init(nil); err != nil {
		t.Fatal(err)
	}
	l.Close(nil)
	done := make(chan struct{})
	go func() { defer close(done); l.Serve(readingEstablish(nil)) }()
	select {
	case <-done:
	case <-time.After(hangGuard):
		t.Fatal("Serve did not return on a closed listener")
	}
}

// TestNoServerCertificate: a nil certificate fails the handshake cleanly.
func TestNoServerCertificate(t *testing.T) {
	p := newTestPKI(t)
	srv := startListener(t, Config{Certificate: func() *tls.Certificate { return nil }}, readingEstablish(nil))
	c, _ := dialTLS(t, srv.addr, p.clientConfig(tls.VersionTLS13, []string{ProtocolMQTTCA}, true))
	if err := c.Handshake(); err == nil {
		t.Fatal("handshake succeeded without a server certificate")
	}
	rec := srv.waitRecord(t, 1)
	if rec.Outcome != OutcomeAlert || !strings.Contains(rec.Detail, "no server certificate") {
		t.Errorf("transcript outcome %q detail %q", rec.Outcome, rec.Detail)
	}
}

// flakyListener fails Accept a few times with a non-closed error, then serves a real listener.
type flakyListener struct {
	net.Listener
	failures atomic.Int32
}

func (f *flakyListener) Accept() (net.Conn, error) {
	if f.failures.Add(-1) >= 0 {
		return nil, errors.New("accept: too many open files")
	}
	return f.Listener.Accept()
}

// TestAcceptErrorsRetried: failed Accepts are retried (with backoff), not fatal.
func TestAcceptErrorsRetried(t *testing.T) {
	p := newTestPKI(t)
	ring := NewTranscripts(4)
	l := New(Config{ID: "flaky", Address: "127.0.0.1:0", Kind: KindALPN, Transcripts: ring,
		Certificate: func() *tls.Certificate { return &p.server }, Logger: slog.New(slog.DiscardHandler)})
	if err := l.Init(nil); err != nil {
		t.Fatal(err)
	}
	flaky := &flakyListener{Listener: l.ln}
	flaky.failures.Store(3)
	l.ln = flaky
	served := make(chan struct{})
	go func() { defer close(served); l.Serve(readingEstablish(nil)) }()
	defer func() { l.Close(nil); <-served }()

	c, _ := dialTLS(t, l.Address(), p.clientConfig(tls.VersionTLS13, []string{ProtocolMQTTCA}, true))
	if err := c.Handshake(); err != nil {
		t.Fatalf("handshake after accept errors: %v", err)
	}
	if n := flaky.failures.Load(); n >= 0 {
		t.Errorf("Accept failures left: %d", n+1)
	}
}

// TestDeadlineReplaced: once the session sets its own deadline (mochi does after CONNECT), a
// later read timeout is not reported as a missing CONNECT.
func TestDeadlineReplaced(t *testing.T) {
	p := newTestPKI(t)
	establish := func(id string, nc net.Conn) error {
		c := nc.(*Conn)
		defer c.Close()
		if _, err := io.ReadFull(c, make([]byte, 2)); err != nil {
			return err
		}
		_ = c.SetDeadline(time.Now().Add(50 * time.Millisecond)) // like mochi's keep-alive deadline
		_, err := c.Read(make([]byte, 1))
		return err
	}
	srv := startListener(t, Config{}, establish)
	c, _ := dialTLS(t, srv.addr, p.clientConfig(tls.VersionTLS13, []string{ProtocolMQTTCA}, true))
	if _, err := c.Write([]byte{0x10, 0x00}); err != nil {
		t.Fatal(err)
	}
	expectClosedByServer(t, c)
	rec := srv.waitRecord(t, 1)
	if rec.Outcome != OutcomeClosedBeforeConnect || !strings.Contains(rec.Detail, "timeout") {
		t.Errorf("transcript outcome %q detail %q", rec.Outcome, rec.Detail)
	}
}
