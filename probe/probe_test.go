package probe_test

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iotcore-local/iotcore-local/emulator"
	"github.com/iotcore-local/iotcore-local/listener"
	"github.com/iotcore-local/iotcore-local/probe"
)

// startEmulator runs an emulator with its demo device on loopback ports.
func startEmulator(t *testing.T) *emulator.Emulator {
	t.Helper()
	cfg := emulator.TestConfig(t.TempDir())
	cfg.Demo = true
	cfg.Logger = slog.New(slog.DiscardHandler)
	emu, err := emulator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := emu.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	return emu
}

// demoOptions probes the emulator's ALPN port with the demo device's certificate.
func demoOptions(emu *emulator.Emulator) probe.Options {
	_, port, _ := net.SplitHostPort(emu.ALPNAddr())
	demo := filepath.Join(emu.DataDir(), "demo")
	return probe.Options{
		Target: "localhost:" + port, CAFile: emu.RootCAFile(),
		CertFile: filepath.Join(demo, "certificate.pem.crt"), KeyFile: filepath.Join(demo, "private.pem.key"),
		ClientID: "demo-device", Timeout: 10 * time.Second,
	}
}

func run(t *testing.T, opts probe.Options) []probe.Attempt {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	attempts, err := probe.Run(ctx, opts)
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	return attempts
}

// find returns the attempt with the offered list, version and certificate choice.
func find(t *testing.T, attempts []probe.Attempt, alpn string, version string, withCert bool, sni string) probe.Attempt {
	t.Helper()
	for _, a := range attempts {
		if strings.Join(a.ALPNOffered, ",") == alpn && a.TLSVersionOffered == version && a.SNI == sni && a.CertificateReady == withCert {
			return a
		}
	}
	t.Fatalf("no attempt %q %s cert=%t sni=%q", alpn, version, withCert, sni)
	return probe.Attempt{}
}

func alertCode(a probe.Attempt) int {
	if a.Alert == nil {
		return -1
	}
	return a.Alert.Code
}

// TestProbeEmulator443: every row of the 443 table, as the probe sees it, with and without a
// client certificate, over TLS 1.2 and 1.3, and the SNI variants.
func TestProbeEmulator443(t *testing.T) {
	emu := startEmulator(t)
	attempts := run(t, demoOptions(emu))
	if len(attempts) != 26 {
		t.Fatalf("%d attempts, want 26 (6 lists × 2 certificate choices × 2 versions + 2 SNI variants)", len(attempts))
	}
	for _, a := range attempts {
		if a.Narrative == "" {
			t.Errorf("attempt %+v has no narrative", a)
		}
		if a.ServerCertificate != nil && !a.ServerCertificate.Verified {
			t.Errorf("server certificate does not verify: %s", a.ServerCertificate.VerifyError)
		}
	}
	for _, v := range []string{"TLS 1.2", "TLS 1.3"} {
		// No ALPN and http/1.1: HTTPS without a certificate request.
		for _, alpn := range []string{"", "http/1.1"} {
			a := find(t, attempts, alpn, v, false, "localhost")
			if a.CertificateRequested || a.HTTP == nil || a.HTTP.Status != 200 || a.Alert != nil {
				t.Errorf("%q %s: %+v; want HTTP 200 and no certificate request", alpn, v, a)
			}
		}
		// x-amzn-mqtt-ca with the certificate: CONNACK 0.
		a := find(t, attempts, "x-amzn-mqtt-ca", v, true, "localhost")
		if !a.CertificateRequested || a.ALPNSelected != "x-amzn-mqtt-ca" || a.MQTT == nil || a.MQTT.Connack == nil || *a.MQTT.Connack != 0 {
			t.Errorf("x-amzn-mqtt-ca with certificate %s: %+v", v, a)
		}
		// x-amzn-http-ca with the certificate: HTTP 200.
		a = find(t, attempts, "x-amzn-http-ca", v, true, "localhost")
		if !a.CertificateRequested || a.ALPNSelected != "x-amzn-http-ca" || a.HTTP == nil || a.HTTP.Status != 200 {
			t.Errorf("x-amzn-http-ca with certificate %s: %+v", v, a)
		}
		// Either certificate personality without a certificate: refused with an alert (TLS 1.2
		// in the handshake, TLS 1.3 on the first read: certificate_required).
		for _, alpn := range []string{"x-amzn-mqtt-ca", "x-amzn-http-ca"} {
			a := find(t, attempts, alpn, v, false, "localhost")
			want := 40
			if v == "TLS 1.3" {
				want = 116
			}
			if !a.CertificateRequested || a.CertificateSent || alertCode(a) != want {
				t.Errorf("%s without certificate %s: alert %v, requested %t; want alert %d", alpn, v, a.Alert, a.CertificateRequested, want)
			}
		}
		// An ALPN nobody serves: alert 120 before any certificate request.
		a = find(t, attempts, probe.UnservedALPN, v, false, "localhost")
		if alertCode(a) != 120 || a.CertificateRequested || a.Alert.Name != "no_application_protocol" {
			t.Errorf("unserved ALPN %s: %+v", v, a)
		}
		// mqtt (custom authorizers) never requests a certificate: refused with 120 while the
		// personality is not served, MQTT without a certificate once it is.
		a = find(t, attempts, "mqtt", v, false, "localhost")
		if a.CertificateRequested || (alertCode(a) != 120 && a.ALPNSelected != "mqtt") {
			t.Errorf("mqtt %s: %+v", v, a)
		}
	}
	// SNI variants: none, and the IP literal, both still MQTT with CONNACK 0.
	for _, sni := range []string{"", "127.0.0.1"} {
		a := find(t, attempts, "x-amzn-mqtt-ca", "TLS 1.3", true, sni)
		if a.MQTT == nil || a.MQTT.Connack == nil || *a.MQTT.Connack != 0 {
			t.Errorf("SNI %q: %+v", sni, a)
		}
	}
	// The emulator recorded each attempt; the certificate personalities' alerts name the cause.
	recs := emu.Connections()
	if len(recs) < len(attempts) {
		t.Errorf("%d transcripts for %d attempts", len(recs), len(attempts))
	}
}

// TestProbeFaults: a listener with each fault injected, as a device checking the server sees it.
func TestProbeFaults(t *testing.T) {
	emu := startEmulator(t)
	base := demoOptions(emu)
	base.ALPNLists = [][]string{{"x-amzn-mqtt-ca"}}
	for _, tc := range []struct {
		fault string
		check func(t *testing.T, tls12, tls13 probe.Attempt)
	}{
		{"expired", func(t *testing.T, a12, a13 probe.Attempt) { wantVerifyError(t, a13, "expired") }},
		{"wrong-name", func(t *testing.T, a12, a13 probe.Attempt) { wantVerifyError(t, a13, "wrong-name.invalid") }},
		{"untrusted-ca", func(t *testing.T, a12, a13 probe.Attempt) { wantVerifyError(t, a13, "unknown authority") }},
		{"max-fragment", func(t *testing.T, a12, a13 probe.Attempt) {
			if sc := a13.ServerCertificate; sc == nil || sc.Size <= 16384 || !sc.Verified {
				t.Errorf("server certificate %+v; want more than 16384 bytes, verified", sc)
			}
			if a13.MQTT == nil || a13.MQTT.Connack == nil || *a13.MQTT.Connack != 0 {
				t.Errorf("max-fragment: %+v; want CONNACK 0 for a client that reads full records", a13)
			}
		}},
		{"weak-ciphers", func(t *testing.T, a12, a13 probe.Attempt) {
			if alertCode(a13) != 70 {
				t.Errorf("TLS 1.3 attempt: alert %v; want 70 protocol_version", a13.Alert)
			}
			if !strings.HasSuffix(a12.CipherSuite, "_CBC_SHA") {
				t.Errorf("TLS 1.2 cipher suite %q; want a CBC/SHA-1 suite", a12.CipherSuite)
			}
		}},
		{"tls12-only", func(t *testing.T, a12, a13 probe.Attempt) {
			if alertCode(a13) != 70 || a12.TLSVersion != "TLS 1.2" || a12.MQTT == nil || a12.MQTT.Connack == nil {
				t.Errorf("TLS 1.3 alert %v, TLS 1.2 %+v; want 70 and a TLS 1.2 session", a13.Alert, a12)
			}
		}},
	} {
		t.Run(tc.fault, func(t *testing.T) {
			if err := emu.TLSFaults().Add(listener.FaultRule{Name: tc.fault, Target: "alpn"}); err != nil {
				t.Fatal(err)
			}
			defer emu.TLSFaults().Clear()
			attempts := run(t, base)
			var a12, a13 probe.Attempt
			for _, a := range attempts {
				if a.CertificateSent || alertCode(a) == 70 {
					if a.TLSVersionOffered == "TLS 1.2" {
						a12 = a
					} else {
						a13 = a
					}
				}
			}
			tc.check(t, a12, a13)
			// The transcript says which fault was served.
			var seen bool
			for _, r := range emu.Connections() {
				if slices.Contains(r.TLSFaults, tc.fault) {
					for _, s := range r.Steps {
						seen = seen || s.Step == listener.StepTLSFault && strings.HasPrefix(s.Detail, tc.fault)
					}
				}
			}
			if !seen {
				t.Errorf("no transcript with tlsFaults %q and its step", tc.fault)
			}
		})
	}
	// A fault bound to an SNI label applies to that host name only.
	if err := emu.TLSFaults().Add(listener.FaultRule{Name: "expired", Target: "faulty"}); err != nil {
		t.Fatal(err)
	}
	opts := base
	opts.Versions = []uint16{tls.VersionTLS13}
	attempts := run(t, opts)
	if sc := attempts[len(attempts)-1].ServerCertificate; sc == nil || !sc.Verified {
		t.Errorf("SNI localhost got a faulty certificate: %+v", sc)
	}
	opts.SNI = "faulty.localhost"
	attempts = run(t, opts)
	if sc := attempts[len(attempts)-1].ServerCertificate; sc == nil || !strings.Contains(sc.VerifyError, "expired") {
		t.Errorf("SNI faulty.localhost: %+v; want the expired certificate", sc)
	}
}

func wantVerifyError(t *testing.T, a probe.Attempt, substr string) {
	t.Helper()
	sc := a.ServerCertificate
	if sc == nil || sc.Verified || !strings.Contains(sc.VerifyError, substr) {
		t.Errorf("server certificate %+v; want a verification error containing %q", sc, substr)
	}
	if !strings.Contains(a.Narrative, "would reject it") {
		t.Errorf("narrative %q does not say a device would reject the server", a.Narrative)
	}
}

// TestProbeOpenSSLServer: the probe against a plain openssl s_server (not the emulator), with a
// required client certificate and one ALPN id.
func TestProbeOpenSSLServer(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("openssl is not installed (CI must install it)")
		}
		t.Skip("openssl is not installed")
	}
	emu := startEmulator(t) // its CA material and demo certificate serve as files for openssl
	dir := emu.DataDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "openssl", "s_server", "-accept", addr, "-naccept", "8",
		"-cert", filepath.Join(dir, "server.pem"), "-key", filepath.Join(dir, "server.key"),
		"-Verify", "1", "-CAfile", filepath.Join(dir, "device-ca.pem"), "-alpn", "x-amzn-mqtt-ca", "-www")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("openssl s_server did not listen on %s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	opts := demoOptions(emu)
	opts.Target = "localhost:" + port
	opts.ALPNLists = [][]string{{"x-amzn-mqtt-ca"}, {probe.UnservedALPN}}
	opts.Versions = []uint16{tls.VersionTLS13}
	opts.Timeout = 2 * time.Second
	attempts := run(t, opts)
	a := find(t, attempts, "x-amzn-mqtt-ca", "TLS 1.3", true, "localhost")
	if !a.CertificateRequested || !a.CertificateSent || a.ALPNSelected != "x-amzn-mqtt-ca" {
		t.Errorf("s_server x-amzn-mqtt-ca: %+v", a)
	}
	// OpenSSL 3 refuses an ALPN id it does not serve as AWS does: alert 120, no certificate request.
	u := find(t, attempts, probe.UnservedALPN, "TLS 1.3", false, "localhost")
	if alertCode(u) != 120 || u.CertificateRequested {
		t.Errorf("s_server unserved ALPN: %+v; want alert 120 before any certificate request", u)
	}
	// Its -www server does not speak MQTT: the CONNECT gets no answer.
	if a.MQTT == nil || a.MQTT.Connack != nil {
		t.Errorf("s_server answered the MQTT CONNECT: %+v", a.MQTT)
	}
}

// TestProbeRefusesRemote: a target off loopback needs AllowRemote.
func TestProbeRefusesRemote(t *testing.T) {
	_, err := probe.Run(context.Background(), probe.Options{Target: "192.0.2.1:443"})
	if err == nil || !strings.Contains(err.Error(), "--remote") {
		t.Fatalf("err = %v; want a refusal naming --remote", err)
	}
}
