package listener

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Conn is the connection the listener hands to mochi after a successful TLS handshake, so every
// mochi hook sees it as cl.Net.Conn. It wraps the *tls.Conn, carries the connection's
// Transcript, and watches the reads before CONNECT so that a connection that ends before the
// hooks take over gets an accurate outcome: timeout, or closed before CONNECT.
type Conn struct {
	tls            *tls.Conn // nil for MQTT over WebSocket (see websocket.go)
	nc             net.Conn  // what is read and written: tls, or the WebSocket's message stream
	wsState        *tls.ConnectionState
	identity       any // established before MQTT began (WebSocket upgrade); nil for certificate connections
	transcript     *Transcript
	connectTimeout time.Duration
	stopping       func() bool   // reports whether the listener is closing
	ended          chan struct{} // closed once the broker has finished with the connection
	guard          *packetGuard  // checks the MQTT stream before Mochi reads it (framing.go)
	deferredErr    error         // a read error to report once the guard's queued bytes are read
	customAuth     bool          // the personality is PersonalityMQTTCustomAuth or PersonalityMQTTCustomAuthX509 (CustomAuth)

	// Set once and then only read, on every read and every packet (Mochi sets a deadline before
	// each packet it reads): atomics, so that the steady state takes no lock.
	readSome atomic.Bool // some bytes were read
	replaced atomic.Bool // someone (mochi, after CONNECT) set a deadline of their own

	mu       sync.Mutex
	isEnded  bool     // ended is closed
	afterEnd []func() // called once ended is closed (AfterEnd)
	timedOut bool     // a read hit the listener's CONNECT deadline
	readErr  error    // the last read error
}

var _ net.Conn = (*Conn)(nil)

// newConn wraps a handshaken TLS connection; stopping tells a shutdown from a client hang-up.
// guard may be nil (no MQTT framing checks).
func newConn(tc *tls.Conn, t *Transcript, connectTimeout time.Duration, stopping func() bool, guard *packetGuard) *Conn {
	return &Conn{tls: tc, nc: tc, transcript: t, connectTimeout: connectTimeout, stopping: stopping,
		ended: make(chan struct{}), guard: guard}
}

// Ended is closed once the broker has finished with the connection: its session ended and the
// broker's clean-up after it ran. A new connection taking over the same client id waits for it,
// so that the old session's clean-up cannot remove the new one.
func (c *Conn) Ended() <-chan struct{} { return c.ended }

// AfterEnd calls f once the broker has finished with the connection (when Ended is closed), on
// the goroutine that ends it, or at once if that has happened already: what a goroutine waiting
// on Ended would do, without a goroutine per connection.
func (c *Conn) AfterEnd(f func()) {
	c.mu.Lock()
	if c.isEnded {
		c.mu.Unlock()
		f()
		return
	}
	c.afterEnd = append(c.afterEnd, f)
	c.mu.Unlock()
}

// end closes Ended and runs the AfterEnd functions.
func (c *Conn) end() {
	c.mu.Lock()
	c.isEnded = true
	fs := c.afterEnd
	c.afterEnd = nil
	c.mu.Unlock()
	close(c.ended)
	for _, f := range fs {
		f()
	}
}

// ConnectionState is the TLS state of the connection: PeerCertificates, NegotiatedProtocol,
// ServerName and the rest.
func (c *Conn) ConnectionState() tls.ConnectionState {
	if c.tls == nil {
		if c.wsState != nil {
			return *c.wsState
		}
		return tls.ConnectionState{}
	}
	return c.tls.ConnectionState()
}

// Identity is what authenticated the connection before MQTT began: the value the WebSocket
// upgrade's authenticator returned (see WebSocketAuthenticator), or nil for a connection whose
// identity is its TLS client certificate.
func (c *Conn) Identity() any { return c.identity }

// CustomAuth reports whether the connection's CONNECT is authenticated by a custom authorizer:
// 443 with ALPN mqtt, or a domain configuration with SECURE_MQTT and CUSTOM_AUTH (which may have
// no ALPN at all).
func (c *Conn) CustomAuth() bool { return c.customAuth }

// Transcript is the record of this connection, for the hooks to complete.
func (c *Conn) Transcript() *Transcript { return c.transcript }

// Read reads the MQTT stream through the packet guard (see packetGuard): bytes the guard holds
// back come out once their packet is complete and checked; a stream that breaks its rules ends
// with a *PacketError.
func (c *Conn) Read(p []byte) (int, error) {
	if c.guard == nil {
		return c.readTLS(p)
	}
	for {
		if n := c.guard.pending(p); n > 0 {
			return n, nil
		}
		if err := c.deferredErr; err != nil {
			return 0, err
		}
		n, err := c.readTLS(p)
		if n == 0 {
			return 0, err
		}
		keep, gerr := c.guard.scan(p[:n])
		if gerr != nil {
			c.deferredErr = gerr
			c.transcript.finishUnlessClient(OutcomeClosedBeforeConnect, gerr.Error())
			return 0, gerr
		}
		if err != nil && len(c.guard.out) > 0 {
			c.deferredErr, err = err, nil // the queued bytes first
		}
		if keep > 0 || err != nil {
			return keep, err
		}
	}
}

// readTLS reads from the TLS connection, noting whether anything was read and how reading ended.
func (c *Conn) readTLS(p []byte) (int, error) {
	n, err := c.nc.Read(p)
	if n > 0 && !c.readSome.Load() {
		c.readSome.Store(true)
	}
	if err != nil {
		c.mu.Lock()
		c.readErr = err
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && !c.replaced.Load() {
			c.timedOut = true
		}
		c.mu.Unlock()
	}
	return n, err
}

// Write writes to the TLS connection.
func (c *Conn) Write(p []byte) (int, error) { return c.nc.Write(p) }

// Close closes the TLS connection (sending close_notify) and, if no client id was set yet,
// finishes the transcript: "timeout" when a read hit the CONNECT deadline, "closed before
// CONNECT" when nothing was read. When bytes were read but no client id set (mochi refused the
// first packet), the listener finishes the transcript with mochi's reason instead.
func (c *Conn) Close() error {
	err := c.nc.Close()
	readSome := c.readSome.Load()
	c.mu.Lock()
	timedOut, readErr := c.timedOut, c.readErr
	c.mu.Unlock()
	switch {
	case timedOut:
		c.transcript.finishUnlessClient(OutcomeTimeout, fmt.Sprintf("no MQTT CONNECT within %s", c.connectTimeout))
	case !readSome:
		c.transcript.finishUnlessClient(OutcomeClosedBeforeConnect, closedBeforeConnectDetail(readErr, c.stopping()))
	}
	return err
}

// closedBeforeConnectDetail explains a connection that ended before sending anything.
func closedBeforeConnectDetail(readErr error, stopping bool) string {
	const base = "connection closed before an MQTT CONNECT was read"
	switch {
	case stopping:
		return base + ": the listener is closing"
	case readErr == nil:
		return base
	case errors.Is(readErr, io.EOF):
		return base + ": the client closed the connection"
	default:
		return fmt.Sprintf("%s: %v", base, readErr)
	}
}

// LocalAddr is the listener side address.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// RemoteAddr is the client's address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// SetDeadline sets the read and write deadlines; mochi calls it after CONNECT with its
// keep-alive deadline, replacing the listener's CONNECT deadline. A later read timeout is then
// not a missing CONNECT.
func (c *Conn) SetDeadline(t time.Time) error {
	c.replaceDeadline()
	return c.nc.SetDeadline(t)
}

// SetReadDeadline sets the read deadline, replacing the listener's CONNECT deadline.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.replaceDeadline()
	return c.nc.SetReadDeadline(t)
}

func (c *Conn) replaceDeadline() {
	if !c.replaced.Load() {
		c.replaced.Store(true)
	}
}

// SetWriteDeadline sets the write deadline.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.nc.SetWriteDeadline(t) }
