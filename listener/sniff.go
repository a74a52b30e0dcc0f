package listener

import (
	"crypto/tls"
	"errors"
	"net"
	"time"
)

// mqttOnHTTPS is the explanation given when an MQTT CONNECT arrives on an HTTPS personality: the
// commonest mistake on port 443 is a device that speaks MQTT there without offering ALPN.
const mqttOnHTTPS = "an MQTT CONNECT arrived on 443 without ALPN, which is HTTPS there: " +
	"MQTT with a client certificate on 443 must offer ALPN x-amzn-mqtt-ca " +
	"(mosquitto: --tls-alpn x-amzn-mqtt-ca; Go: tls.Config.NextProtos), or use port 8883"

// sniffedConn is an HTTPS connection whose first bytes the listener has already read, to tell an
// MQTT client from an HTTP one; it hands them back first. Like http1Conn it is not a *tls.Conn, so
// net/http serves HTTP/1.x on it with r.TLS filled from ConnectionState (no ALPN was negotiated,
// so HTTP/1.x is all it could be).
type sniffedConn struct {
	*tls.Conn
	head []byte
}

func (c *sniffedConn) Read(p []byte) (int, error) {
	if len(c.head) > 0 {
		n := copy(p, c.head)
		c.head = c.head[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// sniffMQTT reads the first bytes of an HTTPS connection that negotiated no ALPN (the only
// personality an MQTT client without ALPN lands on), waiting at most timeout, the request-header
// deadline it would have had anyway. It returns the connection to hand to the HTTP server, or
// ok false when the client sent an MQTT CONNECT (the caller closes it and explains why) or sent
// nothing in time.
func sniffMQTT(tc *tls.Conn, timeout time.Duration) (c net.Conn, isMQTT bool, err error) {
	if tc.ConnectionState().NegotiatedProtocol != "" {
		return httpConnFor(tc), false, nil
	}
	if err := tc.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return nil, false, err
	}
	buf := make([]byte, 64)
	n, err := tc.Read(buf)
	if n == 0 {
		if err == nil {
			err = errors.New("no bytes read")
		}
		return nil, false, err
	}
	if err := tc.SetReadDeadline(time.Time{}); err != nil {
		return nil, false, err
	}
	// A CONNECT's first byte is 0x10 (type 1, no flags); no HTTP method starts with it.
	if buf[0] == 0x10 {
		return nil, true, nil
	}
	return &sniffedConn{Conn: tc, head: buf[:n]}, false, nil
}
