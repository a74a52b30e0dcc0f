package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"

	"github.com/iotcore-local/iotcore-local/bench/compare/stockmochi"
	"github.com/iotcore-local/iotcore-local/emulator"
	"github.com/iotcore-local/iotcore-local/internal/gcfloor"
)

// The comparison runs every broker in a process of its own, so that each has its own memory
// figure, CPU time and open-file budget. The Go brokers are this very program started again in
// a child mode, so that "go run ./bench/compare" needs nothing built beforehand.

// serveEmulator is the child mode "serve-emulator": the emulator with the configuration of
// "iotcore-local serve" (profile aws, policies on), state in --data, every listener on a free
// loopback port, announced on stdout as "READY mqtt=… alpn=… api=…".
func serveEmulator(args []string) error {
	fs := flag.NewFlagSet("serve-emulator", flag.ContinueOnError)
	data := fs.String("data", "", "state folder")
	level := fs.String("log-level", "warn", "log level of the emulator")
	pprofAddr := fs.String("pprof", "", "serve net/http/pprof on this loopback address, to profile the emulator under load")
	writeQueue := fs.Int("write-queue", 0, "each connection's outbound queue (0: the emulator's default)")
	gcFloor := fs.Int("gc-heap-floor", gcfloor.DefaultMiB, "the emulator's GC heap floor in MiB, as serve's --gc-heap-floor (0: none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := servePprof(*pprofAddr); err != nil {
		return err
	}
	if *data == "" {
		return errors.New("serve-emulator: --data is required")
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		return fmt.Errorf("serve-emulator: --log-level: %w", err)
	}
	cfg := emulator.TestConfig(*data)
	cfg.Profile = "aws"
	cfg.WriteQueue = *writeQueue
	cfg.GCHeapFloorMiB = *gcFloor
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
	emu, err := emulator.New(cfg)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := emu.Start(ctx); err != nil {
		return err
	}
	fmt.Printf("READY mqtt=%s alpn=%s api=%s pid=%d pprof=%s shadow_fsync=%t\n", emu.MQTTAddr(), emu.ALPNAddr(), emu.APIURL(), os.Getpid(), pprofBound,
		emu.Shadows().Durable())
	<-ctx.Done()
	return emu.Close()
}

// serveStockMochi is the child mode "serve-stockmochi": stock Mochi with allow-all behind a
// mutual TLS listener, announced as "READY mqtt=…".
func serveStockMochi(args []string) error {
	fs := flag.NewFlagSet("serve-stockmochi", flag.ContinueOnError)
	var cfg stockmochi.Config
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:0", "listener address")
	fs.StringVar(&cfg.CertFile, "cert", "", "server certificate PEM")
	fs.StringVar(&cfg.KeyFile, "key", "", "server key PEM")
	fs.StringVar(&cfg.CAFile, "cafile", "", "CA of the client certificates")
	pprofAddr := fs.String("pprof", "", "serve net/http/pprof on this loopback address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := servePprof(*pprofAddr); err != nil {
		return err
	}
	srv, err := stockmochi.Start(cfg)
	if err != nil {
		return err
	}
	fmt.Printf("READY mqtt=%s pid=%d pprof=%s\n", srv.Addr(), os.Getpid(), pprofBound)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return srv.Close()
}

// pprofBound is the address servePprof listens on ("" when it does not).
var pprofBound string

// servePprof serves the runtime profiles on addr ("" for none), in the background. The
// comparison reads the brokers' memory statistics there (stacks, live heap, GC goal).
func servePprof(addr string) error {
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--pprof: %w", err)
	}
	pprofBound = ln.Addr().String()
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	go http.Serve(ln, mux)
	return nil
}
