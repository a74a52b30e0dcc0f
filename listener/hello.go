package listener

import (
	"crypto/tls"
	"encoding/binary"
	"net"
	"sync"
	"sync/atomic"
)

// helloCaptureLimit bounds the bytes of a ClientHello the listener keeps to read the key
// shares from (Go's ClientHelloInfo does not expose them). A larger ClientHello (post-quantum
// key shares with many groups) is read only as far as this.
const helloCaptureLimit = 4096

// helloCapture sits under crypto/tls during the server handshake and keeps a copy of the first
// bytes the client sends, so that the transcript can name the key shares of the ClientHello.
// Capturing stops (and the buffer is released) once the ClientHello has been looked at.
type helloCapture struct {
	net.Conn
	done atomic.Bool // set by release: reads no longer take the lock
	mu   sync.Mutex
	buf  []byte // nil once released
}

func newHelloCapture(c net.Conn) *helloCapture {
	return &helloCapture{Conn: c, buf: make([]byte, 0, 1024)}
}

// Read passes through, copying what it read while capturing.
func (h *helloCapture) Read(p []byte) (int, error) {
	n, err := h.Conn.Read(p)
	if n > 0 && !h.done.Load() {
		h.mu.Lock()
		if h.buf != nil {
			room := helloCaptureLimit - len(h.buf)
			h.buf = append(h.buf, p[:min(n, room)]...)
		}
		h.mu.Unlock()
	}
	return n, err
}

// release stops capturing and returns what was captured.
func (h *helloCapture) release() []byte {
	h.done.Store(true)
	h.mu.Lock()
	defer h.mu.Unlock()
	b := h.buf
	h.buf = nil
	return b
}

// extKeyShare is the TLS 1.3 key_share extension (RFC 8446 §4.2.8).
const extKeyShare = 51

// keyShareGroups returns the groups of the key shares a raw ClientHello carries (TLS records
// as read from the wire), and whether the extension was found within the bytes captured.
func keyShareGroups(raw []byte) ([]tls.CurveID, bool) {
	// Reassemble handshake bytes from consecutive handshake records.
	var hs []byte
	for len(raw) >= 5 && raw[0] == 22 {
		n := int(binary.BigEndian.Uint16(raw[3:5]))
		body := raw[5:]
		if n < len(body) {
			body = body[:n]
		}
		hs = append(hs, body...)
		if n > len(raw)-5 {
			break
		}
		raw = raw[5+n:]
	}
	if len(hs) < 4 || hs[0] != 1 {
		return nil, false
	}
	p := hs[4:]
	skip := func(n int) bool {
		if len(p) < n {
			return false
		}
		p = p[n:]
		return true
	}
	vec := func(lenBytes int) ([]byte, bool) {
		if len(p) < lenBytes {
			return nil, false
		}
		n := 0
		for i := range lenBytes {
			n = n<<8 | int(p[i])
		}
		p = p[lenBytes:]
		if len(p) < n {
			return nil, false
		}
		v := p[:n]
		p = p[n:]
		return v, true
	}
	if !skip(2 + 32) { // legacy_version, random
		return nil, false
	}
	if _, ok := vec(1); !ok { // session id
		return nil, false
	}
	if _, ok := vec(2); !ok { // cipher suites
		return nil, false
	}
	if _, ok := vec(1); !ok { // compression methods
		return nil, false
	}
	exts, ok := vec(2)
	if !ok {
		return nil, false
	}
	for len(exts) >= 4 {
		typ := binary.BigEndian.Uint16(exts[0:2])
		n := int(binary.BigEndian.Uint16(exts[2:4]))
		if len(exts) < 4+n {
			return nil, false
		}
		data := exts[4 : 4+n]
		exts = exts[4+n:]
		if typ != extKeyShare {
			continue
		}
		if len(data) < 2 {
			return nil, false
		}
		shares := data[2:]
		var groups []tls.CurveID
		for len(shares) >= 4 {
			g := tls.CurveID(binary.BigEndian.Uint16(shares[0:2]))
			l := int(binary.BigEndian.Uint16(shares[2:4]))
			if len(shares) < 4+l {
				break
			}
			groups = append(groups, g)
			shares = shares[4+l:]
		}
		return groups, true
	}
	return nil, false
}
