//go:build unix

package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/gorilla/websocket"

	"github.com/iotcore-local/iotcore-local/authorizers"
	"github.com/iotcore-local/iotcore-local/emulator"
)

// Benchmarks of 443's certificate-less personalities against mTLS, in one run on one machine:
//
//	go test ./e2e -run '^$' -bench 'Port443' -benchtime 2000x
//
// connects/s is a full TLS handshake (+ WebSocket upgrade), CONNECT, CONNACK and close, one at a
// time (custom auth: one device reconnecting, so the answer cache can serve it); msgs/s is QoS 1 publishes with up to 64 unacknowledged, to a topic the client subscribes to.

func benchEmulator(b *testing.B, mutate ...func(*emulator.Config)) *emulator.Emulator {
	b.Helper()
	cfg := emulator.TestConfig(b.TempDir())
	cfg.Demo = false
	cfg.Logger = discardLogger()
	cfg.Credentials = map[string]string{wsKeyOpen: wsSecret}
	for _, m := range mutate {
		m(&cfg)
	}
	emu, err := emulator.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := emu.Start(b.Context()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { emu.Close() })
	return emu
}

func reportRate(b *testing.B, unit string) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), unit)
}

func BenchmarkPort443ConnectMTLS(b *testing.B) {
	emu := benchEmulator(b)
	d, err := emu.CreateDevice("bench", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}`)
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := d.TLSConfig("x-amzn-mqtt-ca")
	if err != nil {
		b.Fatal(err)
	}
	cfg.ClientSessionCache = nil
	b.ResetTimer()
	for i := range b.N {
		c, err := tls.Dial("tcp", emu.ALPNAddr(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		c.Write(connectPacket(fmt.Sprintf("m%d", i)))
		ack := make([]byte, 4)
		if _, err := io.ReadFull(c, ack); err != nil || ack[3] != 0 {
			b.Fatalf("CONNACK %x %v", ack, err)
		}
		c.Close()
	}
	reportRate(b, "connects/s")
}

func BenchmarkPort443ConnectWebSocket(b *testing.B) {
	emu := benchEmulator(b)
	pool := benchTrust(b, emu)
	u := presignWS(b, "wss", emu.ALPNAddr(), wsKeyOpen, wsSecret, "", time.Now())
	d := websocket.Dialer{TLSClientConfig: pool, Subprotocols: []string{"mqtt"}}
	b.ResetTimer()
	for i := range b.N {
		c, _, err := d.Dial(u, nil)
		if err != nil {
			b.Fatal(err)
		}
		c.WriteMessage(websocket.BinaryMessage, connectPacket(fmt.Sprintf("w%d", i)))
		_, msg, err := c.ReadMessage()
		if err != nil || len(msg) != 4 || msg[3] != 0 {
			b.Fatalf("CONNACK %x %v", msg, err)
		}
		c.Close()
	}
	reportRate(b, "connects/s")
}

func benchQoS1(b *testing.B, opts *paho.ClientOptions) {
	c := paho.NewClient(opts.SetClientID(fmt.Sprintf("q%d", time.Now().UnixNano())).SetProtocolVersion(4).SetAutoReconnect(false))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		b.Fatalf("connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	received := make(chan struct{}, 1024)
	if tok := c.Subscribe("bench/q", 1, func(paho.Client, paho.Message) { received <- struct{}{} }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		b.Fatal(tok.Error())
	}
	window := make(chan paho.Token, 64)
	done := make(chan struct{})
	go func() {
		for tok := range window {
			tok.Wait()
		}
		close(done)
	}()
	go func() {
		for range b.N {
			<-received
		}
	}()
	payload := make([]byte, 64)
	b.ResetTimer()
	for range b.N {
		window <- c.Publish("bench/q", 1, false, payload)
	}
	close(window)
	<-done
	reportRate(b, "msgs/s")
}

func BenchmarkPort443QoS1MTLS(b *testing.B) {
	emu := benchEmulator(b)
	d, err := emu.CreateDevice("bench", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}`)
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := d.TLSConfig("x-amzn-mqtt-ca")
	if err != nil {
		b.Fatal(err)
	}
	benchQoS1(b, paho.NewClientOptions().AddBroker("ssl://"+emu.ALPNAddr()).SetTLSConfig(cfg))
}

func BenchmarkPort443QoS1WebSocket(b *testing.B) {
	emu := benchEmulator(b)
	benchQoS1(b, paho.NewClientOptions().AddBroker(presignWS(b, "wss", emu.ALPNAddr(), wsKeyOpen, wsSecret, "", time.Now())).SetTLSConfig(benchTrust(b, emu)))
}

// benchCustomAuth measures custom-auth connects through the authorizer behind the real RIE.
func benchCustomAuth(b *testing.B, cache bool) {
	rie := startRIE(b)
	emu := benchEmulator(b, func(c *emulator.Config) {
		c.Functions = map[string]string{authorizerARN: rie}
		c.AuthorizerCache = &cache
	})
	if _, err := emu.Authorizers().Create(authorizersOpen()); err != nil {
		b.Fatal(err)
	}
	cfg := benchTrust(b, emu)
	cfg.NextProtos = []string{"mqtt"}
	b.ResetTimer()
	for range b.N {
		c, err := tls.Dial("tcp", emu.ALPNAddr(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		c.Write(connectPacketUser("reconnecting-device", "d?x-amz-customauthorizer-name=open&token=allow1", 4))
		ack := make([]byte, 4)
		if _, err := io.ReadFull(c, ack); err != nil || ack[3] != 0 {
			b.Fatalf("CONNACK %x %v", ack, err)
		}
		c.Close()
	}
	reportRate(b, "connects/s")
}

func BenchmarkPort443CustomAuthCached(b *testing.B)   { benchCustomAuth(b, true) }
func BenchmarkPort443CustomAuthUncached(b *testing.B) { benchCustomAuth(b, false) }

// discardLogger drops the emulator's logs during benchmarks.
func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// benchTrust trusts the emulator's root CA for localhost.
func benchTrust(b *testing.B, emu *emulator.Emulator) *tls.Config {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(emu.RootCAPEM()) {
		b.Fatal("no root CA")
	}
	return &tls.Config{RootCAs: pool, ServerName: "localhost"}
}

// authorizersOpen is the signing-disabled authorizer of the benchmarks.
func authorizersOpen() authorizers.CreateInput {
	return authorizers.CreateInput{Name: "open", FunctionARN: authorizerARN, TokenKeyName: "token", SigningDisabled: true}
}
