// Command compare measures iotcore-local side by side with stock Mochi and Mosquitto, in one run
// on one machine, and reports ratios as well as absolute figures:
//
//	go run ./bench/compare [--rounds 3] [--quick] [--json compare.json] [--markdown compare.md]
//	go run ./bench/compare scale [--steps 2000,5000,10000,15000,19900]
//	go run ./bench/compare split [--set handshake|broker] [--root REGEXP] BINARY PROFILE
//
// Three brokers run as processes of their own, all on loopback and all given the same TLS
// material — the emulator's server certificate and key, and a fleet of ECDSA P-256 device
// certificates signed by a bench CA and registered with the emulator:
//
//   - the emulator (this program started again as "serve-emulator": the configuration of
//     "iotcore-local serve", profile aws, every device holding its own certificate with the
//     thing-scoped bench policy attached);
//   - stock Mochi ("serve-stockmochi", the broker of cmd/stockmochi: Mochi's defaults, allow-all,
//     a TLS listener that requires a client certificate from the bench CA);
//   - Mosquitto ("mosquitto -c FILE": require_certificate, use_identity_as_username and an ACL
//     file with the bench policy's topics);
//   - for the connect scenario only, the TLS handshake ceiling ("serve-tlsceiling", ceiling.go):
//     a Go server doing only the mutual TLS handshake and a fixed CONNACK.
//
// The shadow scenario group (shadow.go) measures the emulator alone, as the other brokers have no
// Device Shadow service: devices updating their classic shadow in a closed loop, and one device
// alone; a run in which any update is not accepted, or versions do not rise in order, fails the
// comparison (exit status 1, after the report).
//
// Every scenario runs once per broker per round, brokers alternating (the order rotates from
// round to round), for N rounds; each round's ratios are computed from that round's runs and the
// report gives their median. The run is bounded by --timeout, stops every process it started
// and removes its temporary folder (unless --keep).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	var err error
	mode := ""
	if len(os.Args) > 1 && !strings.HasPrefix(os.Args[1], "-") {
		mode = os.Args[1]
	}
	switch mode {
	case "serve-emulator":
		err = serveEmulator(os.Args[2:])
	case "serve-stockmochi":
		err = serveStockMochi(os.Args[2:])
	case "serve-tlsceiling":
		err = serveCeiling(os.Args[2:])
	case "scale":
		err = runScale(os.Args[2:])
	case "split":
		err = runSplit(os.Args[2:])
	case "":
		err = runCompare(os.Args[1:])
	default:
		err = fmt.Errorf("unknown mode %q: use no mode (the comparison), scale or split", mode)
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}

// pinnedEnv marks a process already moved to the load generator's CPU by --pin.
const pinnedEnv = "IOTCORE_COMPARE_PINNED"

// pinSelf re-executes this program under "taskset -c cpus" once, so that the load generator
// keeps off the brokers' CPU. It returns only when no re-execution is needed.
func pinSelf(cpus string) error {
	if os.Getenv(pinnedEnv) != "" {
		return nil
	}
	taskset, err := lookPath("taskset")
	if err != nil {
		return fmt.Errorf("--pin needs taskset (util-linux): %w", err)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	argv := append([]string{"taskset", "-c", cpus, self}, os.Args[1:]...)
	return syscall.Exec(taskset, argv, append(os.Environ(), pinnedEnv+"=1"))
}

// runContext is the context of a whole run: cancelled by SIGINT/SIGTERM or after timeout.
func runContext(timeout time.Duration) (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	return ctx, func() { cancel(); stop() }
}
