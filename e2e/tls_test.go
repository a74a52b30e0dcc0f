package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/iotcore-local/iotcore-local/emulator"
	"github.com/iotcore-local/iotcore-local/listener"
)

// TestALPNPortTerminatesOtherProtocols: on 443, ALPN lists the emulator does not serve (unknown
// names) end the handshake with alert 120 (no_application_protocol); under --alpn-strict
// everything but x-amzn-mqtt-ca does, mqtt (custom authentication) included. No client
// certificate is ever requested for them. (mqtt without --alpn-strict is served:
// TestCustomAuthorizers.)
func TestALPNPortTerminatesOtherProtocols(t *testing.T) {
	for _, strict := range []bool{false, true} {
		emu := startEmulator(t, "", func(c *emulator.Config) { c.ALPNStrict = strict })
		d := device(t, emu, "prober")
		lists := [][]string{{"foo"}}
		if strict {
			lists = append(lists, []string{"mqtt"}, nil, []string{"http/1.1"}, []string{"h2"}, []string{"x-amzn-http-ca"})
		}
		for _, alpn := range lists {
			t.Run(fmt.Sprintf("strict=%v/%s", strict, strings.Join(append([]string{"alpn"}, alpn...), "=")), func(t *testing.T) {
				cfg := tlsConfig(t, d, alpn...)
				asked := false
				cert := cfg.Certificates[0]
				cfg.Certificates = nil
				cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
					asked = true
					return &cert, nil
				}
				conn, err := tls.Dial("tcp", emu.ALPNAddr(), cfg)
				if err == nil {
					conn.Close()
					t.Fatal("handshake succeeded")
				}
				if !strings.Contains(err.Error(), "no application protocol") {
					t.Fatalf("handshake error %q, want alert no_application_protocol", err)
				}
				if asked {
					t.Fatal("the server requested a client certificate")
				}
			})
		}
	}
}

// TestALPNPortRequiresCertificate: x-amzn-mqtt-ca without a client certificate fails (TLS 1.2 in
// the handshake; TLS 1.3 on the client's first read).
func TestALPNPortRequiresCertificate(t *testing.T) {
	emu := startEmulator(t, "")
	d := device(t, emu, "certless")
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		cfg := tlsConfig(t, d, listener.ProtocolMQTTCA)
		cfg.Certificates = nil
		cfg.MinVersion, cfg.MaxVersion = version, version
		conn, err := tls.Dial("tcp", emu.ALPNAddr(), cfg)
		if err == nil {
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			conn.Write(connectPacket("certless"))
			_, err = conn.Read(make([]byte, 1))
			conn.Close()
		}
		// Go's server answers a missing certificate with handshake_failure in TLS 1.2 and
		// certificate_required in TLS 1.3.
		if err == nil || !strings.Contains(err.Error(), "certificate") && !strings.Contains(err.Error(), "handshake failure") {
			t.Fatalf("TLS %x: error %v, want a certificate-required failure", version, err)
		}
	}
}

// TestDeadlines: a silent TCP socket and a socket that completes TLS but sends no CONNECT are
// closed by the server, and Close returns while such sockets are open.
func TestDeadlines(t *testing.T) {
	emu := startEmulator(t, "", func(c *emulator.Config) {
		c.HandshakeTimeout = 300 * time.Millisecond
		c.ConnectTimeout = 300 * time.Millisecond
	})
	d := device(t, emu, "quiet")

	silent, err := net.Dial("tcp", emu.ALPNAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	assertClosedByServer(t, silent)
	transcriptFor(t, emu, func(r listener.Record) bool {
		return r.Outcome == "timeout" && strings.Contains(r.Detail, "handshake")
	})

	quiet, err := tls.Dial("tcp", emu.MQTTAddr(), tlsConfig(t, d))
	if err != nil {
		t.Fatal(err)
	}
	defer quiet.Close()
	assertClosedByServer(t, quiet)
	transcriptFor(t, emu, func(r listener.Record) bool {
		return r.Outcome == "timeout" && strings.Contains(r.Detail, "CONNECT")
	})
}

// assertClosedByServer reads until the server ends the connection; the test's own deadline is
// far longer than the server's, so reaching it means the server never closed.
func assertClosedByServer(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("server did not close the connection")
	}
}

// TestCloseWithHalfOpenSockets: Close returns while a silent socket and a TLS-only socket are
// open (the emulator is built with long deadlines so only Close can end them).
func TestCloseWithHalfOpenSockets(t *testing.T) {
	emu, err := emulator.New(testConfig(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if err := emu.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	d, err := emu.CreateDevice("half-open", thingPolicy)
	if err != nil {
		t.Fatal(err)
	}
	silent, err := net.Dial("tcp", emu.ALPNAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	tlsOnly, err := tls.Dial("tcp", emu.MQTTAddr(), tlsConfig(t, d))
	if err != nil {
		t.Fatal(err)
	}
	defer tlsOnly.Close()
	closeWithin(t, emu, 10*time.Second)
}

// TestGarbageClientHello: bytes that are not TLS get a transcript and do not disturb the listener.
func TestGarbageClientHello(t *testing.T) {
	emu := startEmulator(t, "")
	d := device(t, emu, "after-garbage")
	c, err := net.Dial("tcp", emu.ALPNAddr())
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	assertClosedByServer(t, c)
	c.Close()
	transcriptFor(t, emu, func(r listener.Record) bool {
		return strings.HasPrefix(r.Outcome, "handshake_failed") || r.Outcome == "alert"
	})
	got, err := rawConnect(t, emu.ALPNAddr(), "after-garbage", tlsConfig(t, d, listener.ProtocolMQTTCA))
	if err != nil || len(got) < 4 || got[0] != 0x20 || got[3] != 0 {
		t.Fatalf("next connection: %x %v, want CONNACK accepted", got, err)
	}
}

// TestRestartKeepsState: a second emulator on the same folder keeps the CA, the registry and the
// device, and the same certificate connects again.
func TestRestartKeepsState(t *testing.T) {
	dir := t.TempDir()
	first, err := emulator.New(testConfig(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	d, err := first.CreateDevice("survivor", thingPolicy)
	if err != nil {
		t.Fatal(err)
	}
	rootBefore := string(first.RootCAPEM())
	closeWithin(t, first, 10*time.Second)

	second := startEmulator(t, dir)
	if string(second.RootCAPEM()) != rootBefore {
		t.Fatal("root CA changed across restart")
	}
	if _, err := second.Registry().DescribeThing("survivor"); err != nil {
		t.Fatalf("thing lost: %v", err)
	}
	if _, err := second.Registry().GetPolicy("survivor-policy"); err != nil {
		t.Fatalf("policy lost: %v", err)
	}
	got, err := rawConnect(t, second.ALPNAddr(), "survivor", tlsConfig(t, d, listener.ProtocolMQTTCA))
	if err != nil || len(got) < 4 || got[0] != 0x20 || got[3] != 0 {
		t.Fatalf("reconnect after restart: %x %v, want CONNACK accepted", got, err)
	}
}

// TestServerKeyType: with --server-key rsa the emulator presents an RSA-2048 certificate on 8883
// and on 443 with x-amzn-mqtt-ca, devices connect with it, and a restart with the default key
// type reissues an ECDSA P-256 certificate under the same root, which the same device trusts.
func TestServerKeyType(t *testing.T) {
	dir := t.TempDir()
	for _, step := range []struct {
		keyType string
		want    x509.PublicKeyAlgorithm
	}{{"rsa", x509.RSA}, {"", x509.ECDSA}} {
		emu, err := emulator.New(func() emulator.Config { c := testConfig(t, dir); c.ServerKey = step.keyType; return c }())
		if err != nil {
			t.Fatal(err)
		}
		if err := emu.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		d, err := emu.CreateDevice("keyed-"+step.want.String(), thingPolicy)
		if err != nil {
			t.Fatal(err)
		}
		for _, port := range []struct {
			addr string
			alpn []string
		}{{emu.MQTTAddr(), nil}, {emu.ALPNAddr(), []string{listener.ProtocolMQTTCA}}} {
			conn, err := tls.Dial("tcp", port.addr, tlsConfig(t, d, port.alpn...))
			if err != nil {
				t.Fatalf("server key %q, %s: handshake: %v", step.keyType, port.addr, err)
			}
			leaf := conn.ConnectionState().PeerCertificates[0]
			conn.Close()
			if leaf.PublicKeyAlgorithm != step.want {
				t.Fatalf("server key %q: certificate key %v, want %v", step.keyType, leaf.PublicKeyAlgorithm, step.want)
			}
			c, err := connectPaho(t, port.addr, d.ThingName, tlsConfig(t, d, port.alpn...), nil)
			if err != nil {
				t.Fatalf("server key %q, %s: MQTT connect: %v", step.keyType, port.addr, err)
			}
			c.Disconnect(50)
		}
		closeWithin(t, emu, 10*time.Second)
	}
}
