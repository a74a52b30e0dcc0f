package e2e

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iotcore-local/iotcore-local/emulator"
	"github.com/iotcore-local/iotcore-local/listener"
)

// TestTLSFaultsSeedAndAPI: faults from the seed and the configuration are in force from the
// start, the API lists, adds and removes them, bad names are refused naming the field, and a
// connection under a fault says so in its transcript.
func TestTLSFaultsSeedAndAPI(t *testing.T) {
	dir := t.TempDir()
	seed := filepath.Join(dir, "seed.yaml")
	if err := os.WriteFile(seed, []byte("tlsFaults: [\"tls12-only@alpn\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	emu := startEmulator(t, "", func(c *emulator.Config) {
		c.SeedFile = seed
		c.TLSFaults = []string{"expired@mqtts"}
	})
	list := func() []map[string]string {
		t.Helper()
		resp, err := http.Get(emu.APIURL() + "/_iotcore/tls-faults")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct{ Faults []map[string]string }
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return out.Faults
	}
	if got := list(); len(got) != 2 || got[0]["name"] != "expired" || got[1]["target"] != "alpn" {
		t.Fatalf("faults %v; want expired@mqtts and tls12-only@alpn", got)
	}
	// tls12-only on the ALPN port: a TLS 1.3-only client is refused, and the record says why.
	d := device(t, emu, "fault-dev")
	cfg := tlsConfig(t, d, listener.ProtocolMQTTCA)
	cfg.MinVersion = tls.VersionTLS13
	if c, err := tls.Dial("tcp", emu.ALPNAddr(), cfg); err == nil {
		c.Close()
		t.Fatal("a TLS 1.3-only client completed a handshake under tls12-only")
	}
	rec := transcriptFor(t, emu, func(r listener.Record) bool { return len(r.TLSFaults) > 0 && r.Outcome != "" })
	if rec.TLSFaults[0] != "tls12-only" || !strings.Contains(stepDetail(rec, listener.StepTLSFault), "TLS 1.2 at most") {
		t.Errorf("record faults %v, steps %v", rec.TLSFaults, rec.Steps)
	}

	do := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, emu.APIURL()+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := do(http.MethodPost, "/_iotcore/tls-faults", `{"name":"sloppy"}`); code != http.StatusBadRequest || !strings.Contains(body, `\"sloppy\": unknown name`) {
		t.Errorf("bad name: %d %s", code, body)
	}
	if code, body := do(http.MethodPost, "/_iotcore/tls-faults", `{"fault":"weak-ciphers@sensor-1"}`); code != http.StatusOK || !strings.Contains(body, "weak-ciphers") {
		t.Errorf("add: %d %s", code, body)
	}
	if code, _ := do(http.MethodDelete, "/_iotcore/tls-faults?fault=tls12-only@alpn", ""); code != http.StatusOK {
		t.Errorf("delete one: %d", code)
	}
	if code, _ := do(http.MethodDelete, "/_iotcore/tls-faults?fault=tls12-only@alpn", ""); code != http.StatusNotFound {
		t.Errorf("delete again: %d, want 404", code)
	}
	if got := list(); len(got) != 2 {
		t.Errorf("faults after add and delete: %v", got)
	}
	if code, _ := do(http.MethodDelete, "/_iotcore/tls-faults", ""); code != http.StatusOK || len(list()) != 0 {
		t.Error("delete all left faults behind")
	}
	// The ALPN port serves TLS 1.3 again.
	c, err := tls.Dial("tcp", emu.ALPNAddr(), cfg)
	if err != nil {
		t.Fatalf("TLS 1.3 after the faults were removed: %v", err)
	}
	c.Close()

	// A bad fault in a seed file is an error naming the entry.
	if err := os.WriteFile(seed, []byte("tlsFaults: [\"expired@alpn\", \"nope\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := emu.ApplySeedFile(t.Context(), seed); err == nil || !strings.Contains(err.Error(), "tlsFaults[1]") {
		t.Errorf("bad seed fault: %v", err)
	}
	if _, err := emulator.New(emulator.Config{TLSFaults: []string{"bogus"}}); err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Errorf("bad configured fault: %v", err)
	}
}
