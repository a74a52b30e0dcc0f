package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/iotcore-local/iotcore-local/bench"
	"github.com/iotcore-local/iotcore-local/pki"
)

// The ceiling server answers a CONNECT with CONNACK after a mutual TLS handshake, negotiates
// x-amzn-mqtt-ca on its ALPN port, and refuses a client without a certificate.
func TestCeilingServer(t *testing.T) {
	auth, err := pki.Load(pki.Options{Dir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	client := selfSignedClient(t)
	leaf, _ := x509.ParseCertificate(client.Certificate[0])
	cas := x509.NewCertPool()
	cas.AddCert(leaf)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(auth.RootCAPEM())
	srv := &tls.Config{Certificates: []tls.Certificate{*auth.ServerCertificate()}, ClientAuth: tls.RequireAndVerifyClientCert,
		ClientCAs: cas, SessionTicketsDisabled: true, NextProtos: []string{bench.ProtocolMQTTCA}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { acceptCeiling(ctx, ln, srv); close(done) }()
	defer func() { cancel(); <-done }()

	// MQTT 3.1.1 CONNECT, client id "c", clean session, keep-alive 60.
	connect := []byte{0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, 1, 'c'}
	cfg := &tls.Config{Certificates: []tls.Certificate{client}, RootCAs: roots, ServerName: "localhost", NextProtos: []string{bench.ProtocolMQTTCA}}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", ln.Addr().String(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if p := c.ConnectionState().NegotiatedProtocol; p != bench.ProtocolMQTTCA {
		t.Errorf("ALPN %q, want %q", p, bench.ProtocolMQTTCA)
	}
	if _, err := c.Write(connect); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, 4)
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, ceilingConnack) {
		t.Fatalf("answer % x (%v), want CONNACK % x", got, err, ceilingConnack)
	}

	noCert := &tls.Config{RootCAs: roots, ServerName: "localhost"}
	c2, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", ln.Addr().String(), noCert)
	if err == nil {
		// TLS 1.3: the client learns of the refusal on its first read.
		c2.Write(connect)
		c2.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = c2.Read(make([]byte, 4))
		c2.Close()
	}
	if err == nil {
		t.Fatal("a client without a certificate was served")
	}
}
