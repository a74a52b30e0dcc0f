package main

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iotcore-local/iotcore-local/api"
	"github.com/iotcore-local/iotcore-local/shadow"
)

// shadowServer runs the HTTP API with a shadow service on a fixed clock and returns its URL.
func shadowServer(t *testing.T) string {
	t.Helper()
	now := func() time.Time { return time.Unix(1700000000, 0) }
	svc, err := shadow.Open(filepath.Join(t.TempDir(), "shadows.db"), shadow.Options{Now: now, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	srv := httptest.NewServer(api.New(api.Config{Shadows: svc, ShadowNow: now, Logger: slog.New(slog.DiscardHandler)}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// runShadow runs "shadow ARGS... --endpoint-url URL" with stdin and returns its output.
func runShadow(t *testing.T, url, stdin string, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	args = append(args, "--endpoint-url", url)
	err := shadowCmd(t.Context(), args, strings.NewReader(stdin), &stdout, &stderr)
	return stdout.String(), err
}

func TestShadowVerbs(t *testing.T) {
	url := shadowServer(t)
	step := func(stdin string, args []string, want ...string) {
		t.Helper()
		out, err := runShadow(t, url, stdin, args...)
		if err != nil {
			t.Fatalf("shadow %v: %v", args, err)
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Fatalf("shadow %v: output lacks %q:\n%s", args, w, out)
			}
		}
	}
	step("", []string{"update", "lamp", "--state", `{"desired":{"color":"red"}}`},
		`"desired": {`, `"color": "red"`, `"version": 1,`, `"timestamp": 1700000000`)
	doc := filepath.Join(t.TempDir(), "doc.json")
	if err := os.WriteFile(doc, []byte(`{"state":{"reported":{"angle":90}},"clientToken":"cli"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	step("", []string{"update", "lamp", "--name", "arm", "--document", doc}, `"angle": 90`, `"clientToken": "cli"`)
	step(`{"state":{"reported":{"angle":45}}}`, []string{"update", "--name", "base", "lamp", "--document", "-"}, `"angle": 45`)
	step("", []string{"get", "lamp"}, `"delta": {`, `"color": "red"`)
	step("", []string{"get", "lamp", "--name", "arm"}, `"reported": {`, `"angle": 90`)
	step("", []string{"list", "lamp", "--page-size", "1"}, "\"results\": [\n    \"arm\",\n    \"base\"\n  ]", `"timestamp": 1700000000`)
	step("", []string{"delete", "lamp", "--name", "arm"}, "{\n  \"version\": 1,\n  \"timestamp\": 1700000000\n}\n")
	step("", []string{"list", "lamp"}, "\"results\": [\n    \"base\"\n  ]")

	// API errors: not usage errors, and they carry AWS's exception and message.
	_, err := runShadow(t, url, "", "get", "lamp", "--name", "arm")
	if err == nil || errors.Is(err, errUsage) || !strings.Contains(err.Error(), "ResourceNotFoundException") ||
		!strings.Contains(err.Error(), "No shadow exists with name: 'arm'") {
		t.Fatalf("get of a deleted shadow: %v", err)
	}
	_, err = runShadow(t, url, "", "update", "lamp", "--state", `{"desired":{"x":1}}`, "--region", "eu-west-1")
	if err != nil {
		t.Fatalf("update with --region: %v", err)
	}
	_, err = runShadow(t, url, `{"state":{"delta":{}}}`, "update", "lamp", "--document", "-")
	if err == nil || errors.Is(err, errUsage) || !strings.Contains(err.Error(), "InvalidRequestException") ||
		!strings.Contains(err.Error(), "State contains an invalid node: 'delta'") {
		t.Fatalf("update with a delta node: %v", err)
	}

	// The verb is reached from the command line's top level.
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), []string{"shadow", "get", "lamp", "--endpoint-url", url}, &stdout, &stderr); err != nil ||
		!strings.Contains(stdout.String(), `"version": 2`) {
		t.Fatalf("run shadow get: %v\n%s", err, stdout.String())
	}
}

func TestShadowUsageErrors(t *testing.T) {
	url := shadowServer(t)
	for _, args := range [][]string{
		{},
		{"frob", "lamp"},
		{"get"},
		{"get", "a", "b"},
		{"delete", "lamp", "--bogus"},
		{"update", "lamp"},
		{"update", "lamp", "--state", "{", "--name", "x"},
		{"update", "lamp", "--state", "{}", "--document", "-"},
		{"list"},
		{"list", "lamp", "--name", "x"},
		{"list", "lamp", "--page-size", "101"},
	} {
		_, err := runShadow(t, url, "", args...)
		if !errors.Is(err, errUsage) {
			t.Errorf("shadow %q: error %v, want a usage error", args, err)
		}
	}
	_, err := runShadow(t, url, "", "update", "lamp", "--document", filepath.Join(t.TempDir(), "missing.json"))
	if err == nil || errors.Is(err, errUsage) || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("missing document file: %v", err)
	}
}
