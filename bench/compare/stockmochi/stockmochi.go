// Package stockmochi runs stock Mochi MQTT — no iotcore-local hooks, policies or limits, Mochi's
// default options — on a TLS listener that requires client certificates from a given CA, with
// Mochi's allow-all authentication. It is the baseline the emulator is measured against, so that
// the cost of the emulator's own work (identity, policies, AWS behaviour) shows as a ratio. The
// command cmd/stockmochi and the side-by-side comparison (bench/compare) both run it.
package stockmochi

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// Config says where the broker listens and which TLS material it uses.
type Config struct {
	Addr     string // host:port of the MQTT over mutual TLS listener, e.g. 127.0.0.1:18883 (port 0 picks one)
	CertFile string // server certificate PEM
	KeyFile  string // its private key PEM
	CAFile   string // PEM of the CA(s) that sign client certificates
	Logger   *slog.Logger
}

// Server is a running stock Mochi broker.
type Server struct {
	mochi *mqtt.Server
	ln    *listeners.TCP
}

// Start builds the broker with Mochi's defaults, as a user would start it, adds the allow-all
// hook and the mutual TLS listener, and serves in the background.
func Start(cfg Config) (*Server, error) {
	if cfg.Addr == "" || cfg.CertFile == "" || cfg.KeyFile == "" || cfg.CAFile == "" {
		return nil, errors.New("stockmochi: address, certificate, key and CA file are all required")
	}
	tlsConfig, err := ServerTLS(cfg.CertFile, cfg.KeyFile, cfg.CAFile)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	server := mqtt.New(&mqtt.Options{Logger: log}) // Mochi's defaults
	if err := server.AddHook(new(auth.AllowHook), nil); err != nil {
		return nil, fmt.Errorf("stockmochi: add allow-all hook: %w", err)
	}
	ln := listeners.NewTCP(listeners.Config{ID: "mtls", Address: cfg.Addr, TLSConfig: tlsConfig})
	if err := server.AddListener(ln); err != nil {
		return nil, fmt.Errorf("stockmochi: listen on %s: %w", cfg.Addr, err)
	}
	if err := server.Serve(); err != nil {
		return nil, fmt.Errorf("stockmochi: serve: %w", err)
	}
	return &Server{mochi: server, ln: ln}, nil
}

// Addr is the bound address of the listener.
func (s *Server) Addr() string { return s.ln.Address() }

// Close disconnects every client and stops the broker.
func (s *Server) Close() error {
	if err := s.mochi.Close(); err != nil {
		return fmt.Errorf("stockmochi: close: %w", err)
	}
	return nil
}

// ServerTLS is a TLS configuration that presents the server certificate and requires a client
// certificate signed by one of the CAs in caFile. Any ALPN a client offers is accepted (none is
// selected), as devices offering x-amzn-mqtt-ca on every port expect.
func ServerTLS(certFile, keyFile, caFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("stockmochi: server key pair: %w", err)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("stockmochi: client CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("stockmochi: client CA file %s holds no PEM certificate", caFile)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS12,
	}, nil
}
