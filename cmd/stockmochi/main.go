// Command stockmochi runs stock Mochi MQTT — no iotcore-local hooks, policies or limits — on a
// TLS listener that requires client certificates from a given CA, with Mochi's allow-all
// authentication. It is the baseline "iotcore-local bench" measures the emulator against, so that
// the cost of the emulator's own work (identity, policies, AWS behaviour) shows as a ratio. The
// side-by-side comparison (go run ./bench/compare) runs the same broker (package
// bench/compare/stockmochi).
//
// usage: stockmochi --cert server.pem --key server.key --cafile device-ca.pem [--addr 127.0.0.1:18883]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/iotcore-local/iotcore-local/bench/compare/stockmochi"
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
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	server, err := stockmochi.Start(stockmochi.Config{Addr: *addr, CertFile: *certFile, KeyFile: *keyFile, CAFile: *caFile, Logger: log})
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "stockmochi: serving MQTT over mutual TLS on %s (pid %d)\n", server.Addr(), os.Getpid())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return server.Close()
}
