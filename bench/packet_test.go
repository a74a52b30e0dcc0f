package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"testing"
)

// TestPublishRoundTrip encodes PUBLISH packets whose remaining length needs one to three bytes
// and reads them back.
func TestPublishRoundTrip(t *testing.T) {
	for _, size := range []int{0, 100, 200, 20000, 130000} {
		for _, qos := range []byte{0, 1} {
			payload := bytes.Repeat([]byte{'p'}, size)
			pkt := appendPublish(nil, "bench/abc/all/bench-1", qos, 0x1234, payload)
			header, body, err := readPacket(bufio.NewReader(bytes.NewReader(pkt)), nil)
			must(t, err)
			if header>>4 != packetPUBLISH {
				t.Fatalf("type %d", header>>4)
			}
			p, err := parsePublish(header, body)
			must(t, err)
			if string(p.topic) != "bench/abc/all/bench-1" || p.qos != qos || !bytes.Equal(p.payload, payload) || (qos == 1 && p.id != 0x1234) {
				t.Fatalf("size %d qos %d: got topic %q qos %d id %x payload %d bytes", size, qos, p.topic, p.qos, p.id, len(p.payload))
			}
		}
	}
}

func TestReadPacketRefusesBrokenStreams(t *testing.T) {
	for name, in := range map[string][]byte{
		"too large":        appendRemainingLength([]byte{0x30}, maxPacketSize+1),
		"five-byte":        {0x30, 0xff, 0xff, 0xff, 0xff, 0x01},
		"truncated body":   {0x30, 10, 0, 1},
		"truncated length": {0x30, 0x80},
	} {
		if _, _, err := readPacket(bufio.NewReader(bytes.NewReader(in)), nil); err == nil || err == io.EOF {
			t.Errorf("%s: got %v, want an error other than EOF", name, err)
		}
	}
	if _, err := parsePublish(0x32, []byte{0, 5, 'a'}); err == nil {
		t.Error("PUBLISH shorter than its topic accepted")
	}
}

func TestConnectPacket(t *testing.T) {
	got := appendConnect(nil, "thing-1", 60)
	want := []byte{0x10, 19, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, 7, 't', 'h', 'i', 'n', 'g', '-', '1'}
	if !bytes.Equal(got, want) {
		t.Fatalf("CONNECT % x, want % x", got, want)
	}
	if sub := appendSubscribe(nil, 1, "a/#", 1); !bytes.Equal(sub, []byte{0x82, 8, 0, 1, 0, 3, 'a', '/', '#', 1}) {
		t.Fatalf("SUBSCRIBE % x", sub)
	}
}

func TestFailureCause(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&StageError{"tcp", fmt.Errorf("dial: %w", syscall.ECONNREFUSED)}, "tcp: connection refused"},
		{&StageError{"tcp", fmt.Errorf("dial: %w", os.ErrDeadlineExceeded)}, "tcp: timeout"},
		{&StageError{"tls", tls.AlertError(42)}, "tls: alert: tls: bad certificate"},
		{&StageError{"connack", io.EOF}, "connack: closed without CONNACK"},
		{&StageError{"connack", &ConnackError{Code: 5}}, "connack: CONNACK refused: not authorized (5)"},
		{&StageError{"tls", context.DeadlineExceeded}, "tls: timeout"},
		{&StageError{"tcp", errors.New("odd")}, "tcp: odd"},
	} {
		if got := failureCause(tc.err); got != tc.want {
			t.Errorf("failureCause(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
