package reliability

import (
	"crypto/tls"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/iotcore-local/iotcore-local/emulator"
)

// malformed are packets a broken or hostile client sends after a successful CONNECT, MQTT 3.1.1
// and 5 alike: each must end (at most) its own connection.
var malformed = [][]byte{
	{0x82, 0x06, 0x00, 0x01, 0x00, 0x00, 0x01, 0x61}, // MQTT 5 SUBSCRIBE without its options byte (Mochi #501)
	{0x82, 0x02, 0x00, 0x01},                         // SUBSCRIBE without a filter
	{0x82, 0x05, 0x00, 0x01, 0x00, 0x09, 0x61},       // filter length past the end
	{0xa2, 0x02, 0x00, 0x01},                         // UNSUBSCRIBE without a filter
	{0xa2, 0x04, 0x00, 0x01, 0x00, 0x05},             // UNSUBSCRIBE filter length past the end
	{0x30, 0x02, 0x00, 0x09},                         // PUBLISH topic length past the end
	{0x32, 0x03, 0x00, 0x01, 0x61},                   // QoS 1 PUBLISH without a packet id
	{0x30, 0x04, 0x00, 0x02, 0xff, 0xfe},             // topic not UTF-8
	{0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01},       // QoS 3
	{0x00, 0x00},                               // reserved type 0
	{0xf0, 0x02, 0x00, 0x00},                   // AUTH (3.1.1: no such packet)
	{0xf0, 0x05, 0x18, 0x03, 0x15, 0x00, 0x09}, // AUTH with a method length past the end
	{0x60, 0x02, 0x00, 0x01},                   // PUBREL with wrong flags
	{0x10, 0x0c, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3c, 0x00, 0x00}, // a second CONNECT
	{0xe0, 0x01, 0x99},                                                 // DISCONNECT with a bad reason
	{0x30, 0xff, 0xff, 0xff, 0xff, 0x7f},                               // Remaining Length of five bytes
	{0x30, 0x80, 0x80, 0x80, 0x01},                                     // a 2 MiB PUBLISH claim, over the packet limit
	{0x82, 0x0a, 0x00, 0x01, 0x05, 0x0b, 0xff, 0xff, 0xff, 0xff, 0x7f}, // MQTT 5 subscription identifier overflow
}

// liveTarget is one emulator shared by the malformed-packet test and the live fuzz target, with a
// bystander connection that must stay served.
type liveTarget struct {
	rig       *rig
	bystander *mqttConn
	dir       string // the data folder of a target that outlives one test (the fuzz target)
}

// hit sends raw after a CONNECT at the given level on a fresh connection, waits until the server
// closes it or stays quiet for a moment, and reports whether the bystander is still served.
func (lt *liveTarget) hit(t *testing.T, level byte, raw []byte) bool {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: waitFor}, "tcp", lt.rig.emu.MQTTAddr(), lt.rig.tls)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	m := &mqttConn{c: c, r: newReader(c)}
	if code, err := m.connack("", level); err != nil || code != 0 {
		t.Fatalf("CONNECT (level %d): CONNACK %d, %v", level, code, err)
	}
	_, _ = c.Write(raw)
	_ = c.SetReadDeadline(time.Now().Add(150 * time.Millisecond))
	buf := make([]byte, 512)
	for {
		if _, err := c.Read(buf); err != nil {
			break
		}
	}
	return lt.bystander.alive()
}

// TestMalformedPacketsAfterConnect: each malformed packet, sent after CONNECT under MQTT 3.1.1 and
// 5 and in both profiles, ends at most its own connection; a bystander is served throughout.
func TestMalformedPacketsAfterConnect(t *testing.T) {
	for _, profile := range []string{"aws", "mqtt"} {
		t.Run(profile, func(t *testing.T) {
			lt := newLiveTarget(t, profile)
			for _, level := range []byte{4, 5} {
				for _, raw := range malformed {
					if !lt.hit(t, level, raw) {
						t.Fatalf("bystander lost after % x (level %d)", raw, level)
					}
				}
			}
		})
	}
}

func newLiveTarget(t *testing.T, profile string) *liveTarget {
	r := start(t, func(c *emulator.Config) { c.Profile = profile })
	by := r.dial(t)
	if code, err := by.connack("bystander", 5); err != nil || code != 0 {
		t.Fatalf("bystander CONNECT: %d, %v", code, err)
	}
	return &liveTarget{rig: r, bystander: by}
}

var (
	fuzzOnce   sync.Once
	fuzzTarget *liveTarget
)

// newLiveTargetOutlived is newLiveTarget for the fuzz target: one emulator for every input of the
// run (a fuzz input is one call), closed by TestMain.
func newLiveTargetOutlived(t *testing.T) *liveTarget {
	dir, err := os.MkdirTemp("", "iotcore-reliability-fuzz-")
	if err != nil {
		t.Fatal(err)
	}
	r, err := startDetached(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.Dial("tcp", r.emu.MQTTAddr(), r.tls)
	if err != nil {
		t.Fatal(err)
	}
	by := &mqttConn{c: c, r: newReader(c)}
	if code, err := by.connack("bystander", 5); err != nil || code != 0 {
		t.Fatalf("bystander CONNECT: %d, %v", code, err)
	}
	return &liveTarget{rig: r, bystander: by, dir: dir}
}

// FuzzLiveConnection sends arbitrary bytes after a CONNECT (MQTT 3.1.1 or 5, profile aws) to a
// running emulator and requires that a bystander stays served: no input may take the process
// down or disturb another connection. Plain `go test` runs the seeds; a campaign is
// `go test -run '^$' -fuzz FuzzLiveConnection -fuzztime 10m ./reliability` (docs/reliability.md).
func FuzzLiveConnection(f *testing.F) {
	for _, raw := range malformed {
		f.Add(true, raw)
		f.Add(false, raw)
	}
	f.Fuzz(func(t *testing.T, v5 bool, raw []byte) {
		fuzzOnce.Do(func() { fuzzTarget = newLiveTargetOutlived(t) })
		level := byte(4)
		if v5 {
			level = 5
		}
		if !fuzzTarget.hit(t, level, raw) {
			t.Fatalf("bystander lost after % x (level %d)", raw, level)
		}
	})
}
