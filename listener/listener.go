// Package listener accepts TLS connections the way AWS IoT Core does: the TLS configuration is
// chosen per ClientHello from the offered ALPN list (port 443 personalities, or the 8883 and
// 8443 rules), MQTT connections go to mochi and HTTPS connections to an http.Server of the
// listener, the handshake and the first MQTT packet (or HTTP request headers) have deadlines so
// a silent socket cannot pin resources, and every connection leaves a Transcript explaining what
// happened.
package listener

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/mochi-mqtt/server/v2/listeners"
)

// Backoff bounds after a failed Accept (for example EMFILE), and how long Close lets mochi send
// DISCONNECT to established clients before it cuts every connection.
const (
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = time.Second
	closeGrace       = 2 * time.Second
)

// Listener is a mochi listeners.Listener that terminates TLS itself. Accept never waits for a
// handshake: each connection is handshaken, checked and handed to mochi (MQTT) or to the
// listener's HTTP server (HTTPS personalities) on its own goroutine.
type Listener struct {
	cfg    Config
	rules  rules
	log    *slog.Logger
	ctx    context.Context // cancelled by Close; aborts handshakes in flight
	cancel context.CancelFunc

	mu       sync.Mutex
	ln       net.Listener
	conns    map[net.Conn]struct{} // raw connections, from Accept until their goroutine ends
	closing  bool
	serving  chan struct{}  // closed when Serve returns; nil until Serve starts
	handlers sync.WaitGroup // one per tracked connection
	front    *httpFront     // the HTTP server; nil until Serve starts, and without Config.HTTP

	configs sync.Map // personality key → *personalityConfig (serverConfig)
}

var _ listeners.Listener = (*Listener)(nil)

// New returns a listener for cfg; it binds in Init.
func New(cfg Config) *Listener {
	ctx, cancel := context.WithCancel(context.Background())
	log := cfg.Logger
	if log == nil {
		log = slog.Default() // replaced by mochi's logger in Init
	}
	return &Listener{
		cfg:    cfg.withDefaults(),
		rules:  rulesFor(cfg),
		log:    log,
		ctx:    ctx,
		cancel: cancel,
		conns:  make(map[net.Conn]struct{}),
	}
}

// Init validates the configuration and binds the TCP socket, so Address reports the real port
// even for port 0. mochi calls it from AddListener.
func (l *Listener) Init(log *slog.Logger) error {
	if l.cfg.Logger == nil && log != nil {
		l.log = log
	}
	if err := l.cfg.validate(); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln != nil {
		return fmt.Errorf("listener %q: already initialised on %s", l.cfg.ID, l.ln.Addr())
	}
	if l.closing {
		return fmt.Errorf("listener %q: closed", l.cfg.ID)
	}
	ln, err := net.Listen("tcp", l.cfg.Address)
	if err != nil {
		return fmt.Errorf("listener %q: listen on %s: %w", l.cfg.ID, l.cfg.Address, err)
	}
	l.ln = ln
	return nil
}

// ID is the listener id mochi knows it by.
func (l *Listener) ID() string { return l.cfg.ID }

// Address is the bound address once Init has run, else the configured one.
func (l *Listener) Address() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln != nil {
		return l.ln.Addr().String()
	}
	return l.cfg.Address
}

// Protocol is the network of the listener.
func (l *Listener) Protocol() string { return "tcp" }

// Serve accepts connections until Close. Each accepted connection is tracked and served on its
// own goroutine; temporary accept failures are retried with a growing backoff. When the
// listener has HTTPS personalities (Config.HTTP set, KindALPN without Strict or KindHTTPS), it
// also starts the listener's HTTP server. establish may be nil on a
// KindHTTPS listener, which carries no MQTT and runs without mochi.
func (l *Listener) Serve(establish listeners.EstablishFn) {
	l.mu.Lock()
	if l.closing || l.ln == nil || l.serving != nil {
		l.mu.Unlock()
		return
	}
	done := make(chan struct{})
	l.serving = done
	ln := l.ln
	if l.rules.servesHTTP() {
		l.front = newHTTPFront(l.cfg, ln.Addr(), l.log.With("listener", l.cfg.ID))
		l.front.start()
	}
	front := l.front
	l.mu.Unlock()
	defer close(done)

	var backoff time.Duration
	for {
		raw, err := ln.Accept()
		if err != nil {
			if l.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			backoff = min(max(backoff*2, acceptBackoffMin), acceptBackoffMax)
			l.log.Warn("accept failed; retrying", "listener", l.cfg.ID, "error", err, "backoff", backoff)
			select {
			case <-time.After(backoff):
			case <-l.ctx.Done():
				return
			}
			continue
		}
		backoff = 0
		if !l.track(raw) {
			_ = raw.Close()
			return
		}
		go l.handle(raw, establish, front)
	}
}

// track registers an accepted connection so Close can cut it; it refuses once closing.
func (l *Listener) track(raw net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closing {
		return false
	}
	l.conns[raw] = struct{}{}
	l.handlers.Add(1)
	return true
}

// untrack forgets a connection whose goroutine is ending.
func (l *Listener) untrack(raw net.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.conns, raw)
}

// handle runs one connection: TLS handshake under HandshakeTimeout and the transcript's
// handshake fields, then either the HTTP server takes the connection (HTTPS personalities) or
// the whole MQTT session runs inside establish.
func (l *Listener) handle(raw net.Conn, establish listeners.EstablishFn, front *httpFront) {
	defer l.handlers.Done()
	handedOff, sessionStarted := false, false
	defer func() {
		if sessionStarted {
			return // the session's goroutine closes and untracks raw
		}
		if !handedOff {
			_ = raw.Close()
		}
		l.untrack(raw)
	}()

	t := newTranscript(l.cfg.ID, raw.RemoteAddr().String(), l.log, l.cfg.Transcripts)
	var capture *helloCapture
	transport := raw
	if t.keepsSteps() {
		capture = newHelloCapture(raw)
		transport = capture
	}
	ac := newAlertConn(transport)
	var p personality
	tc := tls.Server(ac, &tls.Config{GetConfigForClient: l.configForClient(ac, capture, t, &p)})

	ctx, cancel := context.WithTimeout(l.ctx, l.cfg.HandshakeTimeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	if capture != nil {
		capture.release() // a ClientHello never read completely leaves the buffer behind
	}
	if err != nil {
		st := tc.ConnectionState()
		if st.Version != 0 {
			t.setTLS(tls.VersionName(st.Version), "")
		}
		outcome, detail := describeHandshakeFailure(err, l.cfg.HandshakeTimeout, st.Version)
		t.Step(StepAlert, detail)
		t.Finish(outcome, detail)
		return
	}
	l.recordHandshake(t, tc.ConnectionState(), p)

	if p.http {
		// From here on the HTTP server owns the connection; the CONNECT deadline does not
		// apply (ReadHeaderTimeout does), and Close reaches it through the server.
		handedOff = l.serveHTTP(tc, t, front)
		return
	}
	// The MQTT session runs on a goroutine of its own, so that the stack the handshake grew
	// (crypto is deep) is freed with this one instead of being kept by every idle connection.
	sessionStarted = true
	l.handlers.Add(1)
	go func() {
		defer l.handlers.Done()
		defer l.untrack(raw)
		defer raw.Close()
		l.serveMQTT(tc, t, establish, p.name == PersonalityMQTTCustomAuth || p.name == PersonalityMQTTCustomAuthX509)
	}()
}

// serveMQTT sets the CONNECT deadline and runs the MQTT session inside establish, then settles
// the transcript if the hooks did not. customAuth marks a connection whose CONNECT goes to a
// custom authorizer (Conn.CustomAuth).
func (l *Listener) serveMQTT(tc *tls.Conn, t *Transcript, establish listeners.EstablishFn, customAuth bool) {
	c := newConn(tc, t, l.cfg.ConnectTimeout, func() bool { return l.ctx.Err() != nil },
		newPacketGuard(l.cfg.MaxConnectBytes, l.cfg.MaxPacketBytes))
	c.customAuth = customAuth
	if establish == nil {
		t.Finish(OutcomeClosed, "no MQTT broker is attached to this listener")
		_ = c.Close()
		return
	}
	if err := tc.SetReadDeadline(time.Now().Add(l.cfg.ConnectTimeout)); err != nil {
		t.Finish(OutcomeClosed, fmt.Sprintf("setting the CONNECT deadline failed: %v", err))
		_ = c.Close()
		return
	}
	if l.ctx.Err() != nil {
		t.Finish(OutcomeClosed, "listener closed before the MQTT session started")
		_ = c.Close()
		return
	}

	sessionErr := establish(l.cfg.ID, c)
	c.end()
	if sessionErr != nil && l.log.Enabled(context.Background(), slog.LevelDebug) {
		l.log.Debug("mqtt session ended", "listener", l.cfg.ID, "transcript", t.id(), "error", sessionErr)
	}
	_ = c.Close() // mochi has closed it already; this covers an establish that did not

	// Still unfinished with no client id: bytes were read but mochi refused them before the
	// hooks ran (not a CONNECT, or an invalid one); its error says why.
	if sessionErr != nil {
		t.finishUnlessClient(OutcomeClosedBeforeConnect, fmt.Sprintf("no MQTT CONNECT accepted: %v", sessionErr))
	} else {
		t.finishUnlessClient(OutcomeClosedBeforeConnect, "connection ended without an MQTT CONNECT")
	}
	// Still unfinished: the hooks set the client id but no outcome, even in OnDisconnect.
	t.Finish(OutcomeClosed, "connection closed")
	t.connectionEnded()
}

// Close stops the listener: closeClients(id) lets mochi disconnect this listener's clients
// (bounded by closeGrace) while the HTTP server, if any, shuts down (in-flight requests get
// httpShutdownGrace); then the socket and every tracked connection, half-open ones included,
// are closed, and Close returns once every goroutine it started has ended. It is safe to call
// more than once; closeClients (which may be nil) is called only the first time.
func (l *Listener) Close(closeClients listeners.CloseFn) {
	l.mu.Lock()
	first := !l.closing
	l.closing = true
	ln, serving, front := l.ln, l.serving, l.front
	l.mu.Unlock()

	httpStopped := make(chan struct{})
	go func() {
		defer close(httpStopped)
		if front != nil {
			front.shutdown()
		}
	}()

	disconnected := make(chan struct{})
	go func() {
		defer close(disconnected)
		if l.cfg.CloseClients != nil && closeClients != nil {
			closeClients = l.cfg.CloseClients
		}
		if first && closeClients != nil {
			closeClients(l.cfg.ID)
		}
	}()
	select {
	case <-disconnected:
	case <-time.After(closeGrace):
		// A client that does not read can block mochi's DISCONNECT write; cutting the
		// connections below unblocks it.
	}

	l.cancel()
	if ln != nil {
		if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			l.log.Warn("closing listener socket", "listener", l.cfg.ID, "error", err)
		}
	}
	l.mu.Lock()
	for raw := range l.conns {
		_ = raw.Close()
	}
	l.mu.Unlock()

	<-disconnected
	if serving != nil {
		<-serving
	}
	l.handlers.Wait()
	<-httpStopped
}
