package main

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/iotcore-local/iotcore-local/emulator"
)

// startAPI runs an emulator in-process and returns its API address without a scheme.
func startAPI(t *testing.T) string {
	t.Helper()
	cfg := emulator.TestConfig(t.TempDir())
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.Demo = false
	emu, err := emulator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := emu.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	return strings.TrimPrefix(emu.APIURL(), "http://")
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func runCLI(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), args, &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

// Issue 11, item 14: the admin verbs' errors carry the AWS error name and message without the
// SDK's wording, a refused connection asks whether serve runs, and --endpoint-url takes a bare
// host:port.
func TestAdminErrorsForPeople(t *testing.T) {
	api := startAPI(t)
	if out, _, err := runCLI(t, "thing", "create", "lamp", "--endpoint-url", api); err != nil || !strings.Contains(out, `"thingName": "lamp"`) {
		t.Fatalf("thing create with a bare host:port: %v %s", err, out)
	}
	_, _, err := runCLI(t, "cert", "update", strings.Repeat("ab", 32), "--status", "INACTIVE", "--endpoint-url", api)
	if err == nil {
		t.Fatal("cert update of an unknown certificate succeeded")
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "update certificate "+strings.Repeat("ab", 32)+": ResourceNotFoundException: ") {
		t.Errorf("error %q does not read \"update certificate ID: ResourceNotFoundException: ...\"", msg)
	}
	for _, noise := range []string{"operation error", "RequestID", "StatusCode", "https response error"} {
		if strings.Contains(msg, noise) {
			t.Errorf("error %q still holds %q", msg, noise)
		}
	}

	down := closedAddr(t)
	for _, args := range [][]string{
		{"thing", "create", "x", "--endpoint-url", down},
		{"cert", "create", "--out", t.TempDir(), "--endpoint-url", "http://" + down},
		{"shadow", "get", "x", "--endpoint-url", down},
		{"health", "--endpoint-url", down},
	} {
		_, _, err := runCLI(t, args...)
		if err == nil || !strings.Contains(err.Error(), "is serve running?") || !strings.Contains(err.Error(), "--endpoint-url") ||
			!strings.Contains(err.Error(), "http://"+down) || strings.Contains(err.Error(), "operation error") {
			t.Errorf("%v: error %v, want \"is serve running? (... --endpoint-url ...)\" naming http://%s", args[:2], err, down)
		}
	}
}

func TestVersionAndHealthVerbs(t *testing.T) {
	out, _, err := runCLI(t, "--version")
	if err != nil || !strings.HasPrefix(out, "iotcore-local ") || !strings.Contains(out, " go1.") {
		t.Fatalf("--version: %v %q", err, out)
	}
	api := startAPI(t)
	out, _, err = runCLI(t, "health", "--endpoint-url", api)
	if err != nil || !strings.Contains(out, "healthy") {
		t.Fatalf("health: %v %q", err, out)
	}
}

func TestServeFlagErrors(t *testing.T) {
	_, _, err := runCLI(t, "serve", "--log-level", "verbose", "--data", t.TempDir())
	if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "debug, info, warn or error") {
		t.Fatalf("--log-level verbose: %v", err)
	}
	_, _, err = runCLI(t, "serve", "--mqtt-addr", "8883", "--data", t.TempDir())
	if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "--mqtt-addr 127.0.0.1:8883") {
		t.Fatalf("--mqtt-addr 8883: %v", err)
	}
}

func TestBenchTargetAndActionSlips(t *testing.T) {
	_, _, err := runCLI(t, "bench", "connect", "--provision", "http://127.0.0.1:1", "--target", "8883")
	if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "--target 127.0.0.1:8883") {
		t.Fatalf("bench --target 8883: %v", err)
	}
	_, _, err = runCLI(t, "policy", "test", "--cert", "x", "--action", "iot:Publsh", "--resource", "topic/a")
	if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), `did you mean "iot:Publish"?`) {
		t.Fatalf("policy test --action iot:Publsh: %v", err)
	}
}
