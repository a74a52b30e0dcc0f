package listener

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// httpShutdownGrace is how long Close lets in-flight HTTPS requests finish before it cuts
// their connections.
const httpShutdownGrace = time.Second

// httpFront is the HTTPS side of a Listener: one http.Server per Listener, fed through a
// channel-backed net.Listener with connections whose TLS handshake the Listener already did.
// net/http then owns them entirely (keep-alive, chunked bodies, HTTP/2, timeouts). They are
// handed over as the *tls.Conn itself, which net/http needs to dispatch h2 and fills r.TLS
// (and so the client certificate) from; only a connection on the private id x-amzn-http-ca
// goes as an http1Conn (see there).
type httpFront struct {
	srv    *http.Server
	queue  *connQueue
	log    *slog.Logger
	served chan struct{} // closed when srv.Serve returns

	// active counts the server's connection goroutines (from StateNew to StateClosed or
	// StateHijacked) and the handler calls in flight: an HTTP/2 stream and a hijacked
	// connection run their handler outside a connection goroutine.
	active gate

	mu       sync.Mutex
	pending  map[net.Conn]*Transcript // handed over, not yet seen by ConnContext
	hijacked map[net.Conn]struct{}    // taken over by a handler that has not returned yet
	stopping bool

	stopOnce sync.Once
	stopped  chan struct{} // closed when shutdown has finished
}

// connInfo is what ConnContext attaches to every request's context.
type connInfo struct {
	conn       net.Conn // *tls.Conn or http1Conn
	transcript *Transcript
}

// http1Conn hides a *tls.Conn's type from net/http so that it serves HTTP/1.1 on a connection
// whose negotiated ALPN id is private (x-amzn-http-ca): net/http hands every *tls.Conn whose
// protocol is not "", http/1.1 or http/1.0 to Server.TLSNextProto, and closes it when that has
// no entry. A net.Conn that is not a *tls.Conn but has ConnectionState gets HTTP/1.x, with
// r.TLS (client certificate, NegotiatedProtocol) filled from ConnectionState.
type http1Conn struct{ *tls.Conn }

// httpConnFor is what the HTTP server is given for a handshaken connection.
func httpConnFor(tc *tls.Conn) net.Conn {
	switch tc.ConnectionState().NegotiatedProtocol {
	case "", ProtocolHTTP1, ProtocolHTTP2:
		return tc
	}
	return http1Conn{tc}
}

type connInfoKey struct{}

// TranscriptFromContext returns the transcript of the connection an HTTPS request arrived on,
// from the request's context (r.Context()), or nil when the request did not come through this
// package's listener. Its Record tells the personality (PersonalityHTTPS or
// PersonalityHTTPSX509), SNI, ALPN and certificate id.
func TranscriptFromContext(ctx context.Context) *Transcript {
	info, _ := ctx.Value(connInfoKey{}).(connInfo)
	return info.transcript
}

// newHTTPFront builds the HTTP server around cfg.HTTP, accepting from a queue that reports
// addr (the Listener's socket); start serves it.
func newHTTPFront(cfg Config, addr net.Addr, log *slog.Logger) *httpFront {
	f := &httpFront{
		queue:    newConnQueue(addr),
		log:      log,
		served:   make(chan struct{}),
		pending:  make(map[net.Conn]*Transcript),
		hijacked: make(map[net.Conn]struct{}),
		stopped:  make(chan struct{}),
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(true) // served on a *tls.Conn whose negotiated protocol is h2
	f.srv = &http.Server{
		Handler:           f.wrap(cfg.HTTP),
		ReadHeaderTimeout: cfg.HTTPReadHeaderTimeout,
		IdleTimeout:       cfg.HTTPIdleTimeout,
		Protocols:         &protocols,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ConnContext:       f.connContext,
		ConnState:         f.connState,
	}
	return f
}

// start serves the HTTP server on its own goroutine until shutdown.
func (f *httpFront) start() {
	go func() {
		defer close(f.served)
		defer f.queue.Close() // should Serve ever fail, deliver must not wait for it
		if err := f.srv.Serve(f.queue); err != nil && !errors.Is(err, http.ErrServerClosed) {
			f.log.Error("https server stopped", "error", err)
		}
	}()
}

// deliver hands a handshaken connection (httpConnFor's or sniffMQTT's wrapping) and its
// transcript to the HTTP server. It reports false, leaving c to the caller, when the server is
// shutting down.
func (f *httpFront) deliver(c net.Conn, t *Transcript) bool {
	f.mu.Lock()
	f.pending[c] = t
	f.mu.Unlock()
	if f.queue.push(c) {
		return true
	}
	f.mu.Lock()
	delete(f.pending, c)
	f.mu.Unlock()
	return false
}

// connContext runs as soon as the server accepts a connection: it moves the connection's
// transcript from pending into the context every request on it derives from.
func (f *httpFront) connContext(ctx context.Context, c net.Conn) context.Context {
	f.mu.Lock()
	t := f.pending[c]
	delete(f.pending, c)
	f.mu.Unlock()
	return context.WithValue(ctx, connInfoKey{}, connInfo{conn: c, transcript: t})
}

// connState counts connection goroutines and remembers hijacked connections, which
// http.Server neither closes nor waits for, so that shutdown can.
func (f *httpFront) connState(c net.Conn, state http.ConnState) {
	switch state {
	case http.StateNew:
		f.active.enter()
	case http.StateHijacked:
		f.mu.Lock()
		if f.stopping {
			_ = c.Close()
		} else {
			f.hijacked[c] = struct{}{}
		}
		f.mu.Unlock()
		f.active.leave()
	case http.StateClosed:
		f.active.leave()
	}
}

// wrap counts handler calls and forgets a hijacked connection once its handler returns: a
// handler that hijacks must be done with the connection when it returns (shutdown closes it
// while the handler runs).
func (f *httpFront) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.active.enter()
		defer f.active.leave()
		defer func() {
			if info, ok := r.Context().Value(connInfoKey{}).(connInfo); ok && info.conn != nil {
				f.mu.Lock()
				delete(f.hijacked, info.conn)
				f.mu.Unlock()
			}
		}()
		h.ServeHTTP(w, r)
	})
}

// shutdown stops the HTTP server: in-flight requests get httpShutdownGrace to finish, then
// every connection, hijacked ones included, is closed, and it returns once the server's
// goroutines and handlers have ended (a handler that ignores its closed connection and
// cancelled context is waited for closeGrace, then logged and left). Safe to call more than once.
func (f *httpFront) shutdown() {
	f.stopOnce.Do(func() {
		defer close(f.stopped)
		ctx, cancel := context.WithTimeout(context.Background(), httpShutdownGrace)
		if err := f.srv.Shutdown(ctx); err != nil {
			f.log.Debug("https requests still running at shutdown; closing their connections", "error", err)
		}
		cancel()
		if err := f.srv.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			f.log.Warn("closing the https server", "error", err)
		}
		_ = f.queue.Close() // in case Serve never ran

		f.mu.Lock()
		f.stopping = true
		for c := range f.hijacked {
			_ = c.Close()
		}
		clear(f.hijacked)
		f.mu.Unlock()

		<-f.served
		select {
		case <-f.active.idle():
		case <-time.After(closeGrace):
			f.log.Warn("https handlers still running after their connections were closed", "count", f.active.count())
		}
	})
	<-f.stopped
}

// serveHTTP hands a handshaken HTTPS connection to the HTTP server and finishes its transcript
// "ok" (see Record). It reports whether the server took the connection; if not, tc is closed. A
// connection without ALPN is first sniffed: an MQTT client there gets closed at once with the
// explanation (offer x-amzn-mqtt-ca), instead of waiting out the request-header deadline.
func (l *Listener) serveHTTP(tc *tls.Conn, t *Transcript, front *httpFront) bool {
	c, isMQTT, err := sniffMQTT(tc, l.cfg.HTTPReadHeaderTimeout)
	switch {
	case isMQTT:
		l.log.Warn("connection closed: "+mqttOnHTTPS, "listener", l.cfg.ID, "remote", tc.RemoteAddr().String(), "transcript", t.Record().ID)
		t.Step(StepMQTTOnHTTPS, mqttOnHTTPS)
		t.Finish(OutcomeClosedBeforeConnect, mqttOnHTTPS)
		_ = tc.Close()
		return false
	case err != nil:
		t.Finish(OutcomeTimeout, "no HTTP request on an HTTPS connection without ALPN: "+err.Error())
		_ = tc.Close()
		return false
	}
	if front == nil || l.ctx.Err() != nil || !front.deliver(c, t) {
		t.Finish(OutcomeClosed, "listener closed before the HTTPS connection was served")
		_ = tc.Close()
		return false
	}
	detail := httpsDetail(t.Record(), l.cfg.CertificateStatus != nil)
	t.Step(StepHTTP, detail+": handed to the HTTP server, which answers each request")
	t.Finish(OutcomeOK, detail)
	t.handedOff()
	return true
}

// httpsDetail is the transcript detail of an HTTPS connection handed to the HTTP server, e.g.
// "HTTPS (x-amzn-http-ca, client certificate 3f…, ACTIVE)" or "HTTPS (no ALPN, no client
// certificate requested)".
func httpsDetail(rec Record, statusKnown bool) string {
	alpn := rec.ALPNSelected
	if alpn == "" {
		alpn = "no ALPN"
	}
	if rec.CertificateID == "" {
		return fmt.Sprintf("HTTPS (%s, no client certificate requested)", alpn)
	}
	status := ""
	switch {
	case rec.CertificateKnown:
		status = ", " + rec.CertificateStatus
	case statusKnown:
		status = ", not registered"
	}
	return fmt.Sprintf("HTTPS (%s, client certificate %s%s)", alpn, rec.CertificateID, status)
}
