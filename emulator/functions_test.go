package emulator

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFunctionRoutes checks that routes from Config.Functions and from the seed's functions:
// reach the emulator's Invoker, the command line's route winning over the seed's.
func TestFunctionRoutes(t *testing.T) {
	answer := func(s string) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			io.WriteString(w, `{"from":"`+s+`","got":`+string(body)+`}`)
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	flagSrv, seedSrv, otherSrv := answer("flag"), answer("seed"), answer("other")
	dir := t.TempDir()
	seed := filepath.Join(dir, "seed.yaml")
	text := "functions:\n" +
		"  - arn: arn:aws:lambda:us-east-1:123456789012:function:both\n    url: " + otherSrv.URL + "\n" +
		"  - arn: seeded\n    url: " + seedSrv.URL + "\n"
	if err := os.WriteFile(seed, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := TestConfig(filepath.Join(dir, "data"))
	cfg.Demo = false
	cfg.SeedFile = seed
	cfg.Functions = map[string]string{"arn:aws:lambda:us-east-1:123456789012:function:both": flagSrv.URL}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	emu, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := emu.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	for arn, want := range map[string]string{
		"arn:aws:lambda:us-east-1:123456789012:function:both":   `{"from":"flag","got":{"x":1}}`,
		"arn:aws:lambda:us-east-1:123456789012:function:seeded": `{"from":"seed","got":{"x":1}}`,
	} {
		out, err := emu.Functions().Invoke(t.Context(), arn, []byte(`{"x":1}`))
		if err != nil || string(out) != want {
			t.Errorf("%s: %s %v, want %s", arn, out, err, want)
		}
	}
}

func TestFunctionRouteErrors(t *testing.T) {
	if _, err := New(Config{Functions: map[string]string{"f": "not a url"}}); err == nil || !strings.Contains(err.Error(), "function") {
		t.Errorf("bad --function accepted: %v", err)
	}
	if _, err := ParseSeed([]byte("functions:\n  - arn: f\n    uri: http://x\n")); err == nil || !strings.Contains(err.Error(), "uri") {
		t.Errorf("misspelt seed field accepted: %v", err)
	}
	s, err := ParseSeed([]byte("functions:\n  - arn: f\n    url: ftp://x\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.validate(func(string, string) bool { return false }); err == nil || !strings.Contains(err.Error(), "functions[0]") {
		t.Errorf("bad seed route accepted: %v", err)
	}
}
