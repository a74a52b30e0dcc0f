package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// health is "health [--endpoint-url URL]": it asks a running serve for /health and exits 0 when
// it answers 200. It needs nothing but the binary, so container images use it as their
// HEALTHCHECK.
func health(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("health", stderr)
	endpointURL := fs.String("endpoint-url", "http://127.0.0.1:4580", "the emulator's HTTP API (a bare host:port means http://host:port)")
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for the answer")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return fmt.Errorf("%w: health takes no arguments", errUsage)
	}
	base := normalizeEndpointURL(*endpointURL)
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/health", nil)
	if err != nil {
		return fmt.Errorf("%w: --endpoint-url %q: %v", errUsage, *endpointURL, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("health of %s: %w", base, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s/health answered %s: %s", base, resp.Status, strings.TrimSpace(string(body)))
	}
	fmt.Fprintf(stdout, "%s is healthy\n", base)
	return nil
}
