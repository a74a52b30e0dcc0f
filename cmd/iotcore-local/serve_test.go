package main

import (
	"bytes"
	"net"
	"strings"
	"testing"
)

// Issue 11, item 15: a start that fails shows its error, not the routine lines logged before it.
func TestFailedStartShowsTheErrorAlone(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	var stdout, stderr bytes.Buffer
	err = run(t.Context(), []string{"serve", "--data", t.TempDir(), "--mqtt-addr", "127.0.0.1:0", "--alpn-addr", "127.0.0.1:0",
		"--https-addr", busy.Addr().String(), "--api-addr", "127.0.0.1:0"}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "--https-addr") || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("serve = %v, want the address-in-use error naming --https-addr", err)
	}
	if stderr.Len() != 0 || stdout.Len() != 0 {
		t.Fatalf("a failed start printed before its error:\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	}
}
