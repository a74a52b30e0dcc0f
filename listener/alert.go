package listener

import (
	"net"
	"sync/atomic"
)

// noApplicationProtocolAlert is a complete TLS record carrying the fatal alert 120
// no_application_protocol (RFC 7301 §3.2): content type 21 (alert), legacy version TLS 1.2,
// length 2, level 2 (fatal), description 120.
var noApplicationProtocolAlert = []byte{0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x78}

// alertConn is the raw connection as crypto/tls sees it during the server handshake. It exists
// for one case Go cannot express: refusing a ClientHello that carries no ALPN extension with
// alert 120. Go completes such a handshake with no protocol, and when GetConfigForClient returns
// an error it sends alert 80 internal_error instead. So GetConfigForClient calls
// rejectNoApplicationProtocol, which writes the alert-120 record itself; from then on every write
// (Go's own alert 80, and anything after it) is dropped, so the client sees exactly one alert.
type alertConn struct {
	net.Conn
	rejected atomic.Bool
}

// newAlertConn wraps raw for use as the transport of a tls.Server.
func newAlertConn(raw net.Conn) *alertConn { return &alertConn{Conn: raw} }

// rejectNoApplicationProtocol sends the fatal alert 120 record and mutes the connection for
// writes. Only the first call writes; later calls do nothing.
func (a *alertConn) rejectNoApplicationProtocol() error {
	if !a.rejected.CompareAndSwap(false, true) {
		return nil
	}
	_, err := a.Conn.Write(noApplicationProtocolAlert)
	return err
}

// Write passes p to the connection unless the handshake was rejected, in which case it reports
// success without sending anything: what follows the rejection is Go's alert 80, which must not
// reach the client after the alert 120 already sent.
func (a *alertConn) Write(p []byte) (int, error) {
	if a.rejected.Load() {
		return len(p), nil
	}
	return a.Conn.Write(p)
}
