package listener

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestOpenSSLCertificateRequest checks the HTTPS personalities of 443 with a real OpenSSL
// client, as a user would: with ALPN x-amzn-http-ca the server sends a CertificateRequest (and
// the handshake completes with the client's certificate); without ALPN it sends none and the
// handshake completes with no alert. Skipped when openssl is not installed (CI installs it).
func TestOpenSSLCertificateRequest(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	p := newTestPKI(t)
	srv := startListener(t, Config{HTTP: echoHandler(nil)}, readingEstablish(nil))

	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "device.pem.crt"), filepath.Join(dir, "device.pem.key")
	keyDER, err := x509.MarshalPKCS8PrivateKey(p.client.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.client.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}

	// sClient runs openssl s_client with -msg (every handshake message) and an empty stdin, so
	// it closes right after the handshake.
	sClient := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
		defer cancel()
		args = append([]string{"s_client", "-connect", srv.addr, "-servername", testSNI, "-msg"}, args...)
		cmd := exec.CommandContext(ctx, openssl, args...)
		cmd.Stdin = strings.NewReader("")
		out, err := cmd.CombinedOutput()
		if ctx.Err() != nil {
			t.Fatalf("openssl %v: %v\n%s", args, ctx.Err(), out)
		}
		_ = err // s_client's exit status reflects certificate verification, not the handshake
		return string(out)
	}

	t.Run("x-amzn-http-ca", func(t *testing.T) {
		out := sClient("-alpn", ProtocolHTTPCA, "-cert", certFile, "-key", keyFile)
		for _, want := range []string{"CertificateRequest", "New, TLSv1.3", "ALPN protocol: " + ProtocolHTTPCA} {
			if !strings.Contains(out, want) {
				t.Errorf("openssl output lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("no ALPN", func(t *testing.T) {
		out := sClient()
		if strings.Contains(out, "CertificateRequest") {
			t.Errorf("a CertificateRequest was sent without ALPN:\n%s", out)
		}
		for _, want := range []string{"New, TLSv1.3", "No ALPN negotiated"} {
			if !strings.Contains(out, want) {
				t.Errorf("openssl output lacks %q:\n%s", want, out)
			}
		}
		for _, bad := range []string{"fatal", "SSL alert number"} {
			if strings.Contains(out, bad) {
				t.Errorf("openssl output has %q:\n%s", bad, out)
			}
		}
	})
	recs := srv.ring.Records()
	if len(recs) != 2 || recs[0].Personality != PersonalityHTTPSX509 || recs[1].Personality != PersonalityHTTPS {
		t.Errorf("transcripts %+v", recs)
	}
}
