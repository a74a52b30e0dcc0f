package shadow

import (
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"
)

// openTest opens a Service on a fresh file, closed at the end of the test. A nil clock is a fixed
// one at 1700000000.
func openTest(t testing.TB, opts Options) *Service {
	t.Helper()
	return openTestAt(t, filepath.Join(t.TempDir(), "shadows.db"), opts)
}

func openTestAt(t testing.TB, path string, opts Options) *Service {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return time.Unix(1700000000, 0) }
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// fixedClock returns a settable clock for Options.Now.
type fixedClock struct{ t time.Time }

func (c *fixedClock) now() time.Time { return c.t }

// checkResultJSON checks that a Result's body and publications are valid JSON objects, and that an
// error body carries its code.
func checkResultJSON(t testing.TB, r Result) {
	t.Helper()
	var body map[string]any
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r.Body)
	}
	if r.Status != 200 {
		code, ok := body["code"].(float64)
		if !ok || int(code) != r.Status {
			t.Fatalf("error body %s does not carry code %d", r.Body, r.Status)
		}
		if _, ok := body["message"].(string); !ok {
			t.Fatalf("error body %s has no message", r.Body)
		}
	}
	for _, p := range r.Publications {
		var v map[string]any
		if err := json.Unmarshal(p.Payload, &v); err != nil {
			t.Fatalf("publication on %s is not a JSON object: %v: %s", p.Topic, err, p.Payload)
		}
	}
}

// mustJSON decodes JSON text for comparisons in tests.
func mustJSON(t testing.TB, s string) any {
	t.Helper()
	v, err := decodeJSON([]byte(s))
	if err != nil {
		t.Fatalf("bad test JSON %q: %v", s, err)
	}
	return v
}
