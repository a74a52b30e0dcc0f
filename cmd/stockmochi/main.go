// Command stockmochi runs stock Mochi MQTT — no iotcore-local hooks, policies or limits — on a
// TLS listener that requires client certificates from a given CA, with Mochi's allow-all
// authentication. It is the baseline "iotcore-local bench" measures the emulator against, so
// that the cost of the emulator's own work (identity, policies, AWS behaviour) shows as a ratio.
//
// usage: stockmochi --cert server.pem --key server.key --cafile device-ca.pem [--addr 127.0.0.1:18883]
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "stockmochi:", err)
		os.Exit(2)
	}
}

// run parses the flags, serves until SIGINT or SIGTERM, and closes the server.
func run(args []string) error {
	fs := flag.NewFlagSet("stockmochi", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:18883", "address of the MQTT over mutual TLS listener")
	certFile := fs.String("cert", "", "server certificate PEM (required)")
	keyFile := fs.String("key", "", "server private key PEM (required)")
	caFile := fs.String("cafile", "", "PEM of the CA(s) that sign client certificates (required)")
	logLevel := fs.String("log-level", "warn", "debug, info, warn or error (warn keeps logging out of the measurements)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *certFile == "" || *keyFile == "" || *caFile == "" {
		return errors.New("--cert, --key and --cafile are required")
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	tlsConfig, err := serverTLS(*certFile, *keyFile, *caFile)
	if err != nil {
		return err
	}

	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	server := mqtt.New(&mqtt.Options{Logger: log}) // Mochi's defaults, as a user would start it
	if err := server.AddHook(new(auth.AllowHook), nil); err != nil {
		return fmt.Errorf("add allow-all hook: %w", err)
	}
	if err := server.AddListener(listeners.NewTCP(listeners.Config{ID: "mtls", Address: *addr, TLSConfig: tlsConfig})); err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	if err := server.Serve(); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	fmt.Fprintf(os.Stderr, "stockmochi: serving MQTT over mutual TLS on %s (pid %d)\n", *addr, os.Getpid())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	if err := server.Close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	return nil
}

// serverTLS is a TLS configuration that presents the server certificate and requires a client
// certificate signed by one of the CAs in caFile. Any ALPN a client offers is accepted (none is
// selected), as devices offering x-amzn-mqtt-ca on every port expect.
func serverTLS(certFile, keyFile, caFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("server key pair: %w", err)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("--cafile: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--cafile %s holds no PEM certificate", caFile)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS12,
	}, nil
}
