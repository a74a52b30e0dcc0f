package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/iotcore-local/iotcore-local/bench"
	"github.com/iotcore-local/iotcore-local/bench/compare/stockmochi"
)

// The TLS handshake ceiling: a server that does nothing but the mutual TLS handshake (client
// certificate required and verified against the fleet's CA, the emulator's server certificate
// and key, session tickets off as on the emulator) and answers the first MQTT packet with a
// fixed CONNACK, so that the bench's connect scenario counts it like a broker. What a broker
// spends per connection beyond this server is its own work; connects/s of the emulator against
// this server is the issue-18 target (≥ 0.90 on 8883 and on 443 with ALPN).

const (
	brokerCeiling     = "ceiling"     // the ceiling server's 8883-style port
	variantCeiling443 = "ceiling-443" // its port that negotiates x-amzn-mqtt-ca by ALPN
)

// ceilingConnack is MQTT 3.1.1's CONNACK: session not present, accepted.
var ceilingConnack = []byte{0x20, 0x02, 0x00, 0x00}

// ceilingMaxConnect bounds what the ceiling server reads before it answers (the bench's CONNECT
// is ~100 bytes).
const ceilingMaxConnect = 64 << 10

// serveCeiling is the child mode "serve-tlsceiling", announced as "READY mqtt=… alpn=…".
func serveCeiling(args []string) error {
	fs := flag.NewFlagSet("serve-tlsceiling", flag.ContinueOnError)
	cert := fs.String("cert", "", "server certificate PEM")
	key := fs.String("key", "", "server key PEM")
	ca := fs.String("cafile", "", "CA of the client certificates")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := stockmochi.ServerTLS(*cert, *key, *ca)
	if err != nil {
		return err
	}
	cfg.SessionTicketsDisabled = true // as the emulator's listeners
	alpnCfg := cfg.Clone()
	alpnCfg.NextProtos = []string{bench.ProtocolMQTTCA}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var wg sync.WaitGroup
	var addrs []string
	for _, c := range []*tls.Config{cfg, alpnCfg} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("serve-tlsceiling: %w", err)
		}
		addrs = append(addrs, ln.Addr().String())
		wg.Go(func() { acceptCeiling(ctx, ln, c) })
	}
	fmt.Printf("READY mqtt=%s alpn=%s pid=%d\n", addrs[0], addrs[1], os.Getpid())
	<-ctx.Done()
	wg.Wait()
	return nil
}

// acceptCeiling serves one listener until ctx ends.
func acceptCeiling(ctx context.Context, ln net.Listener, cfg *tls.Config) {
	go func() { <-ctx.Done(); ln.Close() }()
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		go handleCeiling(c, cfg)
	}
}

// handleCeiling does the handshake, reads one MQTT packet, answers CONNACK and reads until the
// client closes.
func handleCeiling(raw net.Conn, cfg *tls.Config) {
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(30 * time.Second))
	c := tls.Server(raw, cfg)
	if err := c.Handshake(); err != nil {
		return
	}
	r := bufio.NewReader(io.LimitReader(c, ceilingMaxConnect))
	if _, err := r.ReadByte(); err != nil { // fixed header
		return
	}
	n, mult := 0, 1
	for i := 0; i < 4; i++ { // remaining length, variable-length encoded
		b, err := r.ReadByte()
		if err != nil {
			return
		}
		n += int(b&0x7f) * mult
		mult *= 128
		if b&0x80 == 0 {
			break
		}
	}
	if _, err := r.Discard(n); err != nil {
		return
	}
	if _, err := c.Write(ceilingConnack); err != nil {
		return
	}
	raw.SetDeadline(time.Time{})
	io.Copy(io.Discard, c)
}

// startCeiling starts the ceiling child with the shared TLS files.
func (l *lab) startCeiling(ctx context.Context) (*server, error) {
	sp := startSpec{
		name:    brokerCeiling,
		argv:    []string{l.self, "serve-tlsceiling", "--cert", l.serverCert, "--key", l.serverKey, "--cafile", l.clientCA},
		logPath: l.path("ceiling.log"),
		pin:     l.pin,
		ready: func(r *bufio.Reader, s *server) error {
			f, err := readyLine(r)
			if err != nil {
				return err
			}
			s.addr, s.alpnAddr = f["mqtt"], f["alpn"]
			return nil
		},
	}
	l.specs[brokerCeiling] = sp
	return l.start(ctx, sp)
}

// writeCeiling writes the connect table against the TLS handshake ceiling, when it was measured:
// connects/s and server CPU per connection on both ports, and the emulator's ratio.
func (r *Report) writeCeiling(w io.Writer, med func(sc, b string) (Median, bool), ratio func(sc, name string) string) {
	if _, ok := med(scConnect, brokerCeiling); !ok {
		return
	}
	val := func(b string) (string, string) {
		m, ok := med(scConnect, b)
		if !ok {
			return "–", "–"
		}
		return formatValue(m.Value), fmt.Sprintf("%.3f", m.CPUPerUnit)
	}
	fmt.Fprintln(w, "| connects (closed after CONNACK) | iotcore-local /s | TLS ceiling /s | iotcore-local / ceiling | server CPU ms/connection, iotcore-local | … ceiling |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|")
	for _, row := range []struct{ label, emu, ceil string }{
		{"8883", brokerEmulator, brokerCeiling},
		{"443 with ALPN x-amzn-mqtt-ca", variantEmulator443, variantCeiling443},
	} {
		ev, ec := val(row.emu)
		cv, cc := val(row.ceil)
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", row.label, ev, cv, ratio(scConnect, row.emu+"/"+row.ceil), ec, cc)
	}
	fmt.Fprintln(w)
}
