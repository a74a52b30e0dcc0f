package e2e

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/iotcore-local/iotcore-local/emulator"
	"github.com/iotcore-local/iotcore-local/listener"
	"github.com/iotcore-local/iotcore-local/shadow"
)

// TestShadowTranscriptsOverMQTT replays the shadow transcripts of testdata/shadow over real MQTT:
// a device publishes each request on its shadow topic through the ALPN port, and a subscriber to
// $aws/things/# must receive exactly the documents the transcript lists, byte for byte, in order.
func TestShadowTranscriptsOverMQTT(t *testing.T) {
	files, err := filepath.Glob("../testdata/shadow/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no shadow transcripts: %v", err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) { replayShadowTranscript(t, path) })
	}
}

func replayShadowTranscript(t *testing.T, path string) {
	var clock atomic.Int64
	emu := startEmulator(t, "", func(c *emulator.Config) { c.Now = func() time.Time { return time.Unix(clock.Load(), 0) } })
	d := openDevice(t, emu)
	got := make(chan paho.Message, 64)
	watcher, err := connectPaho(t, emu.MQTTAddr(), "watcher", tlsConfig(t, d), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := wait(t, watcher.Subscribe("$aws/things/#", 1, collect(got))); err != nil {
		t.Fatal(err)
	}
	dev, err := connectPaho(t, emu.ALPNAddr(), "device", tlsConfig(t, d, listener.ProtocolMQTTCA), nil)
	if err != nil {
		t.Fatal(err)
	}
	// nextAnswer skips the requests themselves, which the watcher sees as ordinary publishes.
	nextAnswer := func(n int) paho.Message {
		for {
			select {
			case m := <-got:
				if _, _, isRequest := shadow.ParseTopic(m.Topic()); !isRequest {
					return m
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("line %d: expected publication never arrived", n)
			}
		}
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		kind, rest, _ := strings.Cut(line, " ")
		switch kind {
		case "@":
			sec, err := strconv.ParseInt(strings.TrimSpace(rest), 10, 64)
			if err != nil {
				t.Fatalf("line %d: %v", n, err)
			}
			clock.Store(sec)
		case ">":
			topic, payload, _ := strings.Cut(rest, " ")
			if err := wait(t, dev.Publish(topic, 1, false, payload)); err != nil {
				t.Fatalf("line %d: publish: %v", n, err)
			}
		case "<", "<!":
			topic, payload, _ := strings.Cut(rest, " ")
			m := nextAnswer(n)
			if m.Topic() != topic || string(m.Payload()) != payload {
				t.Fatalf("line %d: got\n  %s %s\nwant\n  %s %s", n, m.Topic(), m.Payload(), topic, payload)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		if _, _, isRequest := shadow.ParseTopic(m.Topic()); !isRequest {
			t.Fatalf("unexpected publication after the transcript: %s %s", m.Topic(), m.Payload())
		}
	case <-time.After(200 * time.Millisecond):
	}
}
