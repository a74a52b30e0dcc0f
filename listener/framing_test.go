package listener

import (
	"bytes"
	"errors"
	"testing"
)

// guardStream runs stream through a packet guard in chunks of the given size, the way Conn.Read
// does, and returns what the reader would have received and the first error.
func guardStream(g *packetGuard, stream []byte, chunk int) ([]byte, error) {
	var got []byte
	buf := make([]byte, chunk)
	for len(stream) > 0 || len(g.out) > 0 {
		if n := g.pending(buf); n > 0 {
			got = append(got, buf[:n]...)
			continue
		}
		n := copy(buf, stream)
		stream = stream[n:]
		keep, err := g.scan(buf[:n])
		if err != nil {
			return got, err
		}
		got = append(got, buf[:keep]...)
	}
	return got, nil
}

var (
	connect311 = []byte{0x10, 0x0e, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, 2, 'i', 'd'}
	connect5   = []byte{0x10, 0x0f, 0, 4, 'M', 'Q', 'T', 'T', 5, 2, 0, 60, 0, 0, 2, 'i', 'd'}
	publish    = []byte{0x30, 0x05, 0, 1, 'a', 'h', 'i'}
	subscribe  = []byte{0x82, 0x06, 0, 1, 0, 1, 'a', 1}
	pingreq    = []byte{0xc0, 0x00}
	badSub5    = []byte{0x82, 0x06, 0x00, 0x01, 0x00, 0x00, 0x01, 0x61}
)

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestPacketGuard(t *testing.T) {
	bigPublish := cat([]byte{0x30, 0x83, 0x80, 0x01}, make([]byte, 16387)) // 16387-byte body
	cases := []struct {
		name    string
		stream  []byte
		connect int // MaxConnectBytes
		packet  int // MaxPacketBytes
		wantErr bool
	}{
		{"3.1.1 session", cat(connect311, subscribe, publish, publish, pingreq), 1024, 1024, false},
		{"MQTT 5 session", cat(connect5, []byte{0x82, 0x07, 0, 1, 0, 0, 1, 'a', 1}, publish), 1024, 1024, false},
		{"large publish passes through uncopied", cat(connect311, bigPublish, pingreq), 1024, 1 << 20, false},
		{"CONNECT over the cap", cat([]byte{0x10, 0xff, 0xff, 0xff, 0x7f}, connect311[2:]), 1024, 1024, true},
		{"CONNECT just over the cap", connect311, len(connect311) - 1, 1024, true},
		{"CONNECT at the cap", connect311, len(connect311), 1024, false},
		{"SUBSCRIBE over the packet cap", cat(connect311, []byte{0x82, 0x80, 0x08}), 1024, 1024, true},
		{"malformed MQTT 5 SUBSCRIBE", cat(connect5, badSub5), 1024, 1024, true},
		{"same bytes under 3.1.1 are Mochi's to refuse", cat(connect311, badSub5), 1024, 1024, false},
		{"Remaining Length of five bytes", cat(connect311, []byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x01}), 1024, 1024, true},
		{"first packet not a CONNECT is Mochi's to refuse", cat(publish, pingreq), 1024, 1024, false},
	}
	for _, tc := range cases {
		for _, chunk := range []int{1, 2, 3, 7, 1024} {
			g := newPacketGuard(tc.connect, tc.packet)
			got, err := guardStream(g, tc.stream, chunk)
			var pe *PacketError
			switch {
			case tc.wantErr && !errors.As(err, &pe):
				t.Errorf("%s (chunks of %d): error %v, want a *PacketError", tc.name, chunk, err)
			case !tc.wantErr && err != nil:
				t.Errorf("%s (chunks of %d): %v", tc.name, chunk, err)
			case !tc.wantErr && !bytes.Equal(got, tc.stream):
				t.Errorf("%s (chunks of %d): reader got %d bytes, want the %d-byte stream unchanged", tc.name, chunk, len(got), len(tc.stream))
			case tc.wantErr && !bytes.HasPrefix(tc.stream, got):
				t.Errorf("%s (chunks of %d): reader got %d bytes, not a prefix of the stream", tc.name, chunk, len(got))
			}
		}
	}
}

// TestPacketGuardHoldsOnlyWhatArrived: a CONNECT under the cap that has not fully arrived is held
// at the size of what arrived, not of what its header claims.
func TestPacketGuardHoldsOnlyWhatArrived(t *testing.T) {
	g := newPacketGuard(64*1024, 0)
	head := []byte{0x10, 0xfb, 0xff, 0x03} // claims 65531 bytes after its 4-byte header
	if keep, err := g.scan(append(head, make([]byte, 100)...)); err != nil || keep != 0 {
		t.Fatalf("scan: keep %d, err %v", keep, err)
	}
	if c := cap(g.held); c > 4096 {
		t.Fatalf("guard holds a %d-byte buffer for 104 bytes received", c)
	}
}

// FuzzPacketGuard: whatever the stream and however it is cut, the guard never panics and hands
// the reader a prefix of the stream (all of it when it reports no error, but for a packet it is
// still collecting).
func FuzzPacketGuard(f *testing.F) {
	f.Add(cat(connect5, badSub5), 3)
	f.Add(cat(connect311, subscribe, publish, pingreq), 1)
	f.Add(cat(connect5, []byte{0xf0, 0x02, 0x00, 0x00}, publish), 5)
	f.Add(cat(connect5, []byte{0xa2, 0x04, 0, 1, 0, 0}), 2)
	f.Fuzz(func(t *testing.T, stream []byte, chunk int) {
		if chunk <= 0 || chunk > 4096 {
			chunk = 16
		}
		g := newPacketGuard(1024, 4096)
		got, err := guardStream(g, stream, chunk)
		if !bytes.HasPrefix(stream, got) {
			t.Fatalf("reader got % x, not a prefix of % x", got, stream)
		}
		// Without an error, all of the stream reached the reader but a packet still being
		// collected when the stream ended.
		if err == nil && len(stream)-len(got) != len(g.held) {
			t.Fatalf("no error, yet the reader got %d of %d bytes with %d held", len(got), len(stream), len(g.held))
		}
	})
}
