package e2e

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/iotcore-local/iotcore-local/emulator"
)

// TestDroppedMessagesAreExplained (issue 11, item 12's last point): a subscriber that never
// acknowledges its QoS 1 messages fills its queue; the emulator's log then says what the drops
// mean and names --write-queue, once a second instead of once per message, and sums them up at
// shutdown.
func TestDroppedMessagesAreExplained(t *testing.T) {
	logs := new(lockedBuffer)
	emu := startEmulator(t, "", func(c *emulator.Config) {
		c.Logger = slog.New(slog.NewTextHandler(io.MultiWriter(logs, testWriter{t}), &slog.HandlerOptions{Level: slog.LevelInfo}))
		c.WriteQueue = 1024 // the PUBACK-awaiting bound stays at Mochi's 8192 at least
	})
	sub := device(t, emu, "slow-sub")
	pub := device(t, emu, "fast-pub")
	opts := paho.NewClientOptions().AddBroker("ssl://" + emu.MQTTAddr()).SetClientID("slow-sub").
		SetTLSConfig(tlsConfig(t, sub)).SetProtocolVersion(4).SetAutoReconnect(false).
		SetAutoAckDisabled(true).SetOrderMatters(false)
	subClient := paho.NewClient(opts)
	if err := wait(t, subClient.Connect()); err != nil {
		t.Fatal(err)
	}
	defer subClient.Disconnect(100)
	if err := wait(t, subClient.Subscribe("shared/burst", 1, func(paho.Client, paho.Message) {})); err != nil {
		t.Fatal(err)
	}
	pubClient, err := connectPaho(t, emu.MQTTAddr(), "fast-pub", tlsConfig(t, pub), nil)
	if err != nil {
		t.Fatal(err)
	}
	const total = 8192 + 200
	var last paho.Token
	for i := 0; i < total; i++ {
		last = pubClient.Publish("shared/burst", 1, false, "x")
		if i%500 == 0 {
			if err := wait(t, last); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := wait(t, last); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(logs.String(), "message dropped: the subscriber's queue is full") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	out := logs.String()
	if !strings.Contains(out, "message dropped: the subscriber's queue is full") || !strings.Contains(out, "--write-queue") || !strings.Contains(out, "client=slow-sub") {
		t.Fatalf("no explained drop in the log:\n%s", out)
	}
	if n := strings.Count(out, "message dropped"); n >= 200 {
		t.Fatalf("%d drop lines for at most 200 drops: not rate-limited", n)
	}
	if strings.Contains(out, "client store quota reached") {
		t.Fatal("Mochi's raw line is still logged")
	}
	subClient.Disconnect(100)
	closeWithin(t, emu, 15*time.Second)
	if out := logs.String(); !strings.Contains(out, "messages dropped during this run") || !strings.Contains(out, "awaiting_puback_full=") {
		t.Fatalf("no drop summary at shutdown:\n%s", out[max(0, len(out)-2000):])
	}
}
