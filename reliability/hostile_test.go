package reliability

import (
	"crypto/tls"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/iotcore-local/iotcore-local/emulator"
)

// TestSilentSocketsBesideAGoodClient: hundreds of peers that never finish what they start — TCP
// sockets that send nothing, half a ClientHello, a TLS handshake and then no CONNECT — are all
// closed by the server on its deadlines, while a good client connects and is served meanwhile,
// and the goroutines they held are gone afterwards.
func TestSilentSocketsBesideAGoodClient(t *testing.T) {
	r := start(t, func(c *emulator.Config) {
		c.HandshakeTimeout, c.ConnectTimeout = 3*time.Second, 3*time.Second
	})
	baseline := runtime.NumGoroutine()
	addr := r.emu.MQTTAddr()
	const each = 100
	var socks []net.Conn
	var mu sync.Mutex
	var wg sync.WaitGroup
	keep := func(c net.Conn) {
		mu.Lock()
		socks = append(socks, c)
		mu.Unlock()
	}
	for i := 0; i < each; i++ {
		wg.Add(3)
		go func() { // silent TCP
			defer wg.Done()
			if c, err := net.Dial("tcp", addr); err == nil {
				keep(c)
			}
		}()
		go func() { // the first bytes of a ClientHello record, then nothing
			defer wg.Done()
			if c, err := net.Dial("tcp", addr); err == nil {
				_, _ = c.Write([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03})
				keep(c)
			}
		}()
		go func() { // a complete handshake, then no CONNECT
			defer wg.Done()
			c, err := tls.Dial("tcp", addr, r.tls)
			if err == nil && c.Handshake() == nil {
				keep(c)
			}
		}()
	}
	wg.Wait()
	if len(socks) < 3*each*9/10 {
		t.Fatalf("only %d of %d hostile connections were opened", len(socks), 3*each)
	}

	good := r.dial(t)
	if code, err := good.connack("good-client", 4); err != nil || code != 0 {
		t.Fatalf("good client beside %d silent peers: CONNACK %d, %v", len(socks), code, err)
	}
	if !good.alive() {
		t.Fatal("good client not served beside the silent peers")
	}

	// Every hostile connection is closed by the server once its deadline passes.
	for _, c := range socks {
		_ = c.SetReadDeadline(time.Now().Add(waitFor))
		buf := make([]byte, 64)
		for {
			if _, err := c.Read(buf); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Fatalf("a hostile connection is still open %v after its deadlines", waitFor)
				}
				break
			}
		}
		c.Close()
	}
	if !good.alive() {
		t.Fatal("good client dropped")
	}
	deadline := time.Now().Add(waitFor)
	for runtime.NumGoroutine() > baseline+10 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > baseline+10 {
		t.Fatalf("%d goroutines after the silent peers were closed, %d before", n, baseline)
	}
}
