package reliability

import (
	"crypto/tls"
	"net"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// TestSoakSilentSockets measures what silent peers cost and proves the pre-authentication caps at
// scale: RELIABILITY_SOAK=N holds N TLS-handshaken sockets that never send CONNECT (each uses two
// file descriptors in this process), then 16 connections claiming a 268,435,455-byte CONNECT,
// and reports the heap held per silent socket and after the claims. Off by default (it needs
// 2×N file descriptors); docs/reliability.md has the figures and the command.
func TestSoakSilentSockets(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("RELIABILITY_SOAK"))
	if n <= 0 {
		t.Skip("set RELIABILITY_SOAK=N to hold N silent sockets (docs/reliability.md)")
	}
	r := start(t)
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	socks := make([]net.Conn, 0, n)
	for i := 0; i < n; i++ {
		c, err := tls.Dial("tcp", r.emu.MQTTAddr(), r.tls)
		if err != nil {
			t.Fatalf("socket %d: %v", i, err)
		}
		socks = append(socks, c)
	}
	held := heap()
	t.Logf("%d silent handshaken sockets: heap %d → %d bytes, %.1f KiB per socket (client and server side, one process)",
		n, before, held, float64(held-before)/float64(n)/1024)

	for i := 0; i < 16; i++ {
		c, err := tls.Dial("tcp", r.emu.MQTTAddr(), r.tls)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.Write([]byte{0x10, 0xff, 0xff, 0xff, 0x7f, 0, 4, 'M', 'Q', 'T', 'T'})
		defer c.Close()
	}
	time.Sleep(time.Second)
	t.Logf("after 16 CONNECTs claiming 256 MiB each: heap %d bytes (%+d)", heap(), int64(heap())-int64(held))

	good := r.dial(t)
	if code, err := good.connack("soak-good", 4); err != nil || code != 0 || !good.alive() {
		t.Fatalf("good client beside %d silent sockets: %d %v", n, code, err)
	}
	for _, c := range socks {
		c.Close()
	}
}
