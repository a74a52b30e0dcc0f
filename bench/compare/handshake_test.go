package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log/slog"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/iotcore-local/iotcore-local/listener"
	"github.com/iotcore-local/iotcore-local/pki"
)

// BenchmarkHandshake measures one mutual TLS handshake over loopback, client and server in this
// process, through the emulator's listener (package listener used as a library: ClientHello
// dispatch, deadlines, transcript) on the 8883 rules and on the 443 rules with x-amzn-mqtt-ca,
// with the server key ECDSA P-256 (the default) or RSA-2048; and, for reference, through a bare
// crypto/tls server, and with TLS session resumption (tickets), which AWS IoT Core does not
// offer and the emulator therefore refuses. Each operation ends when the server has finished
// its side (it writes one byte once its handshake is over), so both sides' work is in ns/op.
// Profile the server's share with:
//
//	go test ./bench/compare -run '^$' -bench 'Handshake/listener-8883-ecdsa$' -benchtime 3000x -cpuprofile /tmp/hs.cpu
//	go tool pprof -top -focus 'listener.\(\*Listener\).handle' /tmp/hs.cpu
func BenchmarkHandshake(b *testing.B) {
	clientCert := selfSignedClient(b)
	for _, bc := range []struct {
		name    string
		keyType string
		kind    listener.Kind
		alpn    []string
		bare    bool // a plain crypto/tls server instead of the emulator's listener
		resume  bool // bare server with session tickets, client with a session cache
		p256    bool // the client offers only P-256 for the key exchange (no X25519)
	}{
		{name: "listener-8883-ecdsa", keyType: pki.KeyECDSA, kind: listener.KindMQTTS},
		{name: "listener-443-alpn-ecdsa", keyType: pki.KeyECDSA, kind: listener.KindALPN, alpn: []string{listener.ProtocolMQTTCA}},
		{name: "listener-8883-ecdsa-p256kx", keyType: pki.KeyECDSA, kind: listener.KindMQTTS, p256: true},
		{name: "listener-8883-rsa2048", keyType: pki.KeyRSA, kind: listener.KindMQTTS},
		{name: "listener-443-alpn-rsa2048", keyType: pki.KeyRSA, kind: listener.KindALPN, alpn: []string{listener.ProtocolMQTTCA}},
		{name: "bare-tls-ecdsa", keyType: pki.KeyECDSA, bare: true},
		{name: "bare-tls-ecdsa-resumed", keyType: pki.KeyECDSA, bare: true, resume: true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			auth, err := pki.Load(pki.Options{Dir: b.TempDir(), KeyType: bc.keyType, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			var addr string
			if bc.bare {
				addr = bareServer(b, auth.ServerCertificate(), bc.resume)
			} else {
				addr = listenerServer(b, bc.kind, auth.ServerCertificate())
			}
			roots := x509.NewCertPool()
			roots.AppendCertsFromPEM(auth.RootCAPEM())
			cfg := &tls.Config{Certificates: []tls.Certificate{clientCert}, RootCAs: roots, ServerName: "localhost",
				NextProtos: bc.alpn, CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256}, MinVersion: tls.VersionTLS12}
			if bc.p256 {
				cfg.CurvePreferences = []tls.CurveID{tls.CurveP256}
			}
			if bc.resume {
				cfg.ClientSessionCache = tls.NewLRUClientSessionCache(1)
				handshakeOnce(b, addr, cfg) // prime the session cache
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				handshakeOnce(b, addr, cfg)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
		})
	}
}

// handshakeOnce connects, completes the handshake and waits for the server's byte.
func handshakeOnce(b *testing.B, addr string, cfg *tls.Config) {
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	c := tls.Client(raw, cfg)
	if err := c.Handshake(); err != nil {
		b.Fatal(err)
	}
	var one [1]byte
	if _, err := io.ReadFull(c, one[:]); err != nil {
		b.Fatal(err)
	}
	c.Close()
}

// listenerServer runs the emulator's listener with an "establish" that writes one byte and
// returns, as if mochi had refused the session at once.
func listenerServer(b *testing.B, kind listener.Kind, cert *tls.Certificate) string {
	ln := listener.New(listener.Config{ID: "bench", Address: "127.0.0.1:0", Kind: kind,
		Certificate: func() *tls.Certificate { return cert }, Logger: slog.New(slog.DiscardHandler)})
	if err := ln.Init(slog.New(slog.DiscardHandler)); err != nil {
		b.Fatal(err)
	}
	go ln.Serve(func(_ string, c net.Conn) error {
		_, err := c.Write([]byte{0x20})
		return err
	})
	b.Cleanup(func() { ln.Close(nil) })
	return ln.Address()
}

// bareServer is crypto/tls with the emulator's TLS settings (any client certificate,
// TLS 1.2+), without the listener; resume turns session tickets on.
func bareServer(b *testing.B, cert *tls.Certificate, resume bool) string {
	cfg := &tls.Config{Certificates: []tls.Certificate{*cert}, ClientAuth: tls.RequireAnyClientCert,
		MinVersion: tls.VersionTLS12, SessionTicketsDisabled: !resume}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		b.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				if err := c.(*tls.Conn).Handshake(); err != nil {
					return
				}
				c.Write([]byte{0x20})
			}()
		}
	}()
	b.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

// selfSignedClient is a P-256 client certificate, as the bench fleet's.
func selfSignedClient(tb testing.TB) tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench-0"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
