package emulator

import (
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
)

// Issue 11, item 15: the banner lists every listener, says whether the CA is new, and shows
// paths by one rule: relative inside the working directory, absolute outside it.
func TestBanner(t *testing.T) {
	work := t.TempDir()
	t.Chdir(work)
	outside := t.TempDir()
	start := func(dir string) (*Emulator, string) {
		t.Helper()
		cfg := TestConfig(dir)
		cfg.Logger = slog.New(slog.DiscardHandler)
		cfg.Demo = true
		emu, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := emu.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { emu.Close() })
		return emu, emu.Banner()
	}

	emu, banner := start("state")
	for _, want := range []string{
		"MQTT         " + emu.MQTTAddr(), "ALPN port    " + emu.ALPNAddr(), "x-amzn-http-ca", "no ALPN: HTTPS with SigV4",
		"HTTPS        " + emu.HTTPSAddr(), "API          " + emu.APIURL(), "data         state\n",
		"CA file      " + filepath.Join("state", "root-ca.pem") + " (new:",
		"--cafile " + filepath.Join("state", "root-ca.pem") + " --cert " + filepath.Join("state", "demo", "certificate.pem.crt"),
		"the server certificate names 127.0.0.1, ::1, localhost",
	} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %q:\n%s", want, banner)
		}
	}
	if strings.Contains(banner, work) {
		t.Errorf("banner shows an absolute path inside the working directory:\n%s", banner)
	}
	lines := strings.Split(strings.TrimSpace(banner), "\n")
	if !strings.Contains(lines[len(lines)-1], "try it") {
		t.Errorf("the last line is not \"try it\":\n%s", banner)
	}
	emu.Close()

	_, banner = start("state")
	if !strings.Contains(banner, "(reused from an earlier start)") {
		t.Errorf("second start does not say the CA is reused:\n%s", banner)
	}

	_, banner = start(filepath.Join(outside, "elsewhere"))
	if !strings.Contains(banner, "CA file      "+filepath.Join(outside, "elsewhere", "root-ca.pem")) ||
		!strings.Contains(banner, "--cert "+filepath.Join(outside, "elsewhere", "demo", "certificate.pem.crt")) {
		t.Errorf("paths outside the working directory are not absolute:\n%s", banner)
	}
}
