package emulator

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestCloseLeavesNoGoroutine starts an emulator, gives it a connected MQTT client, a half-open
// socket and an HTTPS keep-alive connection, closes it, and checks that every goroutine it
// started has ended.
func TestCloseLeavesNoGoroutine(t *testing.T) {
	before := runtime.NumGoroutine()
	cfg := TestConfig(t.TempDir())
	cfg.Logger = slog.New(slog.DiscardHandler)
	emu, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := emu.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	dev, err := emu.CreateDevice("closer", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	tlsCfg, err := dev.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	mqttConn, err := tls.Dial("tcp", emu.MQTTAddr(), tlsCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer mqttConn.Close()
	body := []byte{0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, 6, 'c', 'l', 'o', 's', 'e', 'r'}
	mqttConn.Write(append([]byte{0x10, byte(len(body))}, body...))
	ack := make([]byte, 4)
	if _, err := io.ReadFull(mqttConn, ack); err != nil || ack[3] != 0 {
		t.Fatalf("CONNACK %x %v", ack, err)
	}
	silent, err := net.Dial("tcp", emu.ALPNAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()

	if err := emu.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		var ours []string
		for _, g := range strings.Split(stacks, "\n\n") {
			if strings.Contains(g, "iotcore-local") || strings.Contains(g, "mochi-mqtt") {
				ours = append(ours, g)
			}
		}
		t.Fatalf("%d goroutines after Close, %d before; still running:\n%s", n, before, strings.Join(ours, "\n\n"))
	}
}
