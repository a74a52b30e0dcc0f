// Package reliability tests what an attacker or a sloppy fleet does to the emulator: silent
// sockets and half handshakes beside a good client, oversized claims before authentication,
// malformed packets after CONNECT (and a decoder fuzz run through a live connection), storms of
// CONNECTs with one client id, cross-site requests to the local API, and SIGKILL during QoS 1
// traffic and API bursts. Every test is bounded in count and time and stops by itself; every
// target is on loopback.
package reliability

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/iotcore-local/iotcore-local/emulator"
)

// allowAll is the policy of the test devices: these tests are about robustness, not policies.
const allowAll = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}`

// waitFor bounds every wait for an answer that should come.
const waitFor = 10 * time.Second

// rig is one running emulator with a device allowed everything.
type rig struct {
	emu *emulator.Emulator
	tls *tls.Config
}

// start runs an emulator on free loopback ports, closed when the test ends.
func start(t *testing.T, mutate ...func(*emulator.Config)) *rig {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelError}))
	r, err := startDetached(t.TempDir(), logger, mutate...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		done := make(chan error, 1)
		go func() { done <- r.emu.Close() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Close: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("Close did not return within 20s")
		}
	})
	return r
}

// startDetached runs an emulator that the caller closes, with a device allowed everything.
func startDetached(dir string, logger *slog.Logger, mutate ...func(*emulator.Config)) (*rig, error) {
	cfg := emulator.TestConfig(dir)
	cfg.Logger = logger
	for _, m := range mutate {
		m(&cfg)
	}
	emu, err := emulator.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("emulator.New: %w", err)
	}
	if err := emu.Start(context.Background()); err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	dev, err := emu.CreateDevice("reliability", allowAll)
	if err != nil {
		emu.Close()
		return nil, fmt.Errorf("CreateDevice: %w", err)
	}
	cfg2, err := dev.TLSConfig()
	if err != nil {
		emu.Close()
		return nil, err
	}
	return &rig{emu: emu, tls: cfg2}, nil
}

// testWriter sends the emulator's log to the test's log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fuzzTarget != nil {
		fuzzTarget.rig.emu.Close()
		os.RemoveAll(fuzzTarget.dir)
	}
	os.Exit(code)
}

// mqttConn is a raw MQTT 3.1.1 connection over mutual TLS.
type mqttConn struct {
	c net.Conn
	r *bufio.Reader
}

// dial completes the TLS handshake with the rig's device certificate.
func (r *rig) dial(t *testing.T) *mqttConn {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: waitFor}, "tcp", r.emu.MQTTAddr(), r.tls)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return &mqttConn{c: c, r: bufio.NewReader(c)}
}

// newReader buffers a connection's reads.
func newReader(c net.Conn) *bufio.Reader { return bufio.NewReader(c) }

// connectPacket is an MQTT 3.1.1 (level 4) or 5 CONNECT with a clean session.
func connectPacket(clientID string, level byte) []byte {
	body := []byte{0, 4, 'M', 'Q', 'T', 'T', level, 0x02, 0, 60}
	if level == 5 {
		body = append(body, 0) // no properties
	}
	body = binary.BigEndian.AppendUint16(body, uint16(len(clientID)))
	body = append(body, clientID...)
	return frame(0x10, body)
}

// frame prefixes body with a fixed header.
func frame(first byte, body []byte) []byte {
	out := []byte{first}
	n := len(body)
	for {
		b := byte(n % 128)
		n /= 128
		if n > 0 {
			b |= 0x80
		}
		out = append(out, b)
		if n == 0 {
			return append(out, body...)
		}
	}
}

// readPacket reads one packet: its first byte and body.
func (m *mqttConn) readPacket(d time.Duration) (byte, []byte, error) {
	_ = m.c.SetReadDeadline(time.Now().Add(d))
	first, err := m.r.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	n, mul := 0, 1
	for i := 0; i < 4; i++ {
		b, err := m.r.ReadByte()
		if err != nil {
			return 0, nil, err
		}
		n += int(b&0x7f) * mul
		if b&0x80 == 0 {
			break
		}
		mul *= 128
	}
	body := make([]byte, n)
	_, err = io.ReadFull(m.r, body)
	return first, body, err
}

// connack sends CONNECT and returns the CONNACK return code, or an error when the connection
// ended (or timed out) without one.
func (m *mqttConn) connack(clientID string, level byte) (byte, error) {
	if _, err := m.c.Write(connectPacket(clientID, level)); err != nil {
		return 0, err
	}
	first, body, err := m.readPacket(waitFor)
	if err != nil {
		return 0, err
	}
	if first>>4 != 2 || len(body) < 2 {
		return 0, errors.New("first packet is not a CONNACK")
	}
	return body[1], nil
}

// alive reports whether the connection answers PINGREQ.
func (m *mqttConn) alive() bool {
	if _, err := m.c.Write([]byte{0xc0, 0}); err != nil {
		return false
	}
	for {
		first, _, err := m.readPacket(waitFor)
		if err != nil {
			return false
		}
		if first>>4 == 13 {
			return true
		}
	}
}
