// Package e2e tests iotcore-local as its users meet it: real TLS sockets, paho MQTT clients, the
// built command, mosquitto_pub/mosquitto_sub and openssl s_client.
package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/iotcore-local/iotcore-local/emulator"
	"github.com/iotcore-local/iotcore-local/listener"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	removeLambdaTools()
	os.Exit(code)
}

// startEmulator runs an emulator on free loopback ports with state in a fresh folder (or dir,
// when given) and closes it when the test ends.
func startEmulator(t *testing.T, dir string, mutate ...func(*emulator.Config)) *emulator.Emulator {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	cfg := testConfig(t, dir)
	for _, m := range mutate {
		m(&cfg)
	}
	emu, err := emulator.New(cfg)
	if err != nil {
		t.Fatalf("emulator.New: %v", err)
	}
	if err := emu.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { closeWithin(t, emu, 15*time.Second) })
	return emu
}

// testConfig is emulator.TestConfig with logs going to the test's log.
func testConfig(t *testing.T, dir string) emulator.Config {
	cfg := emulator.TestConfig(dir)
	cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	return cfg
}

// closeWithin fails the test if Close does not return in time.
func closeWithin(t *testing.T, emu *emulator.Emulator, d time.Duration) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- emu.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(d):
		var stacks strings.Builder
		_ = pprof.Lookup("goroutine").WriteTo(&stacks, 1)
		t.Errorf("Close did not return within %v; goroutines:\n%s", d, stacks.String())
	}
}

// testWriter sends log output to the test log, once the test is still running.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// thingPolicy lets a thing connect as itself and use topics under things/<name>/ and shared/.
const thingPolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": "iot:Connect", "Resource": "arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}"},
    {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": ["arn:aws:iot:us-east-1:123456789012:topic/shared/*", "arn:aws:iot:us-east-1:123456789012:topic/things/${iot:Connection.Thing.ThingName}/*"]},
    {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": ["arn:aws:iot:us-east-1:123456789012:topicfilter/shared/*", "arn:aws:iot:us-east-1:123456789012:topicfilter/things/${iot:Connection.Thing.ThingName}/*"]}
  ]
}`

// device creates a thing with thingPolicy and an ACTIVE certificate.
func device(t *testing.T, emu *emulator.Emulator, name string) *emulator.Device {
	t.Helper()
	d, err := emu.CreateDevice(name, thingPolicy)
	if err != nil {
		t.Fatalf("CreateDevice %s: %v", name, err)
	}
	return d
}

// tlsConfig is the device's client TLS configuration with the given ALPN list.
func tlsConfig(t *testing.T, d *emulator.Device, alpn ...string) *tls.Config {
	t.Helper()
	cfg, err := d.TLSConfig(alpn...)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// connectPaho connects an MQTT 3.1.1 paho client and disconnects it when the test ends.
func connectPaho(t *testing.T, addr, clientID string, cfg *tls.Config, onLost func(error)) (paho.Client, error) {
	t.Helper()
	opts := paho.NewClientOptions().
		AddBroker("ssl://" + addr).
		SetClientID(clientID).
		SetTLSConfig(cfg).
		SetProtocolVersion(4).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(10 * time.Second).
		SetKeepAlive(30 * time.Second)
	if onLost != nil {
		opts.SetConnectionLostHandler(func(_ paho.Client, err error) { onLost(err) })
	}
	c := paho.NewClient(opts)
	tok := c.Connect()
	if !tok.WaitTimeout(15 * time.Second) {
		return nil, errors.New("connect timed out")
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c, nil
}

// wait waits for a paho token and returns its error.
func wait(t *testing.T, tok paho.Token) error {
	t.Helper()
	if !tok.WaitTimeout(10 * time.Second) {
		t.Fatal("MQTT operation timed out")
	}
	return tok.Error()
}

// rawConnect completes a TLS handshake, sends an MQTT 3.1.1 CONNECT and returns the CONNACK the
// server sent, or nothing when the server closed the connection without one.
func rawConnect(t *testing.T, addr, clientID string, cfg *tls.Config) ([]byte, error) {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if _, err := conn.Write(connectPacket(clientID)); err != nil {
		return nil, err
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	connack := make([]byte, 4)
	n, err := io.ReadFull(conn, connack)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return connack[:n], errors.New("server neither answered CONNECT nor closed the connection")
	}
	return connack[:n], nil
}

// connectPacket is an MQTT 3.1.1 CONNECT with clean session and a 60 s keep-alive.
func connectPacket(clientID string) []byte {
	body := []byte{0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, byte(len(clientID) >> 8), byte(len(clientID))}
	body = append(body, clientID...)
	return append(append([]byte{0x10}, remainingLength(len(body))...), body...)
}

// remainingLength encodes an MQTT remaining length (a variable-length integer).
func remainingLength(n int) []byte {
	var out []byte
	for {
		b := byte(n % 128)
		n /= 128
		if n > 0 {
			b |= 0x80
		}
		out = append(out, b)
		if n == 0 {
			return out
		}
	}
}

// transcriptFor waits for the transcript of the connection whose client id (or, when clientID is
// empty, whose listener and remote match) has finished, and returns it.
func transcriptFor(t *testing.T, emu *emulator.Emulator, match func(listener.Record) bool) listener.Record {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, r := range emu.Connections() {
			if match(r) {
				return r
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	all, _ := json.MarshalIndent(emu.Connections(), "", "  ")
	t.Fatalf("no matching transcript; have:\n%s", all)
	return listener.Record{}
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }

func writeFile(path string, data []byte) error { return os.WriteFile(path, data, 0o600) }
