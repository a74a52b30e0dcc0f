package listener

import (
	"bytes"
	"net"
	"testing"
)

// captureConn is a net.Conn that records writes.
type captureConn struct {
	net.Conn
	written bytes.Buffer
}

func (c *captureConn) Write(p []byte) (int, error) { return c.written.Write(p) }

// TestAlertConn: writes pass through until the rejection; the rejection writes exactly the
// alert-120 record once; Go's following alert 80 and anything later is dropped but reported as
// written, so crypto/tls sees no error.
func TestAlertConn(t *testing.T) {
	raw := &captureConn{}
	ac := newAlertConn(raw)

	if n, err := ac.Write([]byte("before")); n != 6 || err != nil {
		t.Fatalf("Write before rejection = %d, %v", n, err)
	}
	if err := ac.rejectNoApplicationProtocol(); err != nil {
		t.Fatal(err)
	}
	alert80 := []byte{0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x50}
	if n, err := ac.Write(alert80); n != len(alert80) || err != nil {
		t.Fatalf("Write after rejection = %d, %v", n, err)
	}
	if err := ac.rejectNoApplicationProtocol(); err != nil {
		t.Fatal(err)
	}
	want := append([]byte("before"), 0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x78)
	if got := raw.written.Bytes(); !bytes.Equal(got, want) {
		t.Errorf("wire = % x, want % x", got, want)
	}
}
