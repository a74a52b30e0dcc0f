package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestContainerImageSettings (issue 11, item 16). No container engine runs here, so this runs
// the image's own command line (the Dockerfile's CMD, listen addresses and data folder swapped
// for free loopback ports and a temporary folder) and checks what a device in another container
// needs: the server certificate verifies as iotcore-local, and the HEALTHCHECK of the Dockerfile
// and of docker-compose.yml ("iotcore-local health") answers healthy.
func TestContainerImageSettings(t *testing.T) {
	dockerfile, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^CMD (\[.*\])$`).FindSubmatch(dockerfile)
	if m == nil {
		t.Fatal("Dockerfile has no CMD [...] line")
	}
	var cmd []string
	if err := json.Unmarshal(m[1], &cmd); err != nil {
		t.Fatalf("Dockerfile CMD: %v", err)
	}
	if len(cmd) == 0 || cmd[0] != "serve" {
		t.Fatalf("Dockerfile CMD %q does not run serve", cmd)
	}
	var extra []string // the CMD's flags except those startServe sets itself
	for i := 1; i < len(cmd); i++ {
		switch cmd[i] {
		case "--data", "--mqtt-addr", "--alpn-addr", "--https-addr", "--api-addr":
			i++
		default:
			extra = append(extra, cmd[i])
		}
	}
	s := startServe(t, extra...)

	state := filepath.Join(s.dir, "state")
	caPEM, err := os.ReadFile(filepath.Join(state, "root-ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	demo, err := tls.LoadX509KeyPair(filepath.Join(state, "demo", "certificate.pem.crt"), filepath.Join(state, "demo", "private.pem.key"))
	if err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{s.mqtt, s.alpn} {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, &tls.Config{
			ServerName: "iotcore-local", RootCAs: roots, Certificates: []tls.Certificate{demo}, NextProtos: []string{"x-amzn-mqtt-ca"},
		})
		if err != nil {
			t.Fatalf("TLS to %s as iotcore-local: %v", addr, err)
		}
		conn.Close()
	}

	compose, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(dockerfile), `HEALTHCHECK`) || !strings.Contains(string(dockerfile), `CMD ["iotcore-local", "health"]`) ||
		!strings.Contains(string(compose), `test: ["CMD", "iotcore-local", "health"]`) {
		t.Fatal("the Dockerfile or docker-compose.yml does not check health with \"iotcore-local health\"")
	}
	out, errOut, code := runBinary(t, "health", "--endpoint-url", s.api)
	if code != 0 || !strings.Contains(out, "healthy") {
		t.Fatalf("health: exit %d %q %q", code, out, errOut)
	}
	_, errOut, code = runBinary(t, "health", "--endpoint-url", freeAddr(t))
	if code != 1 || !strings.Contains(errOut, "is serve running?") {
		t.Fatalf("health of nothing: exit %d %q", code, errOut)
	}
}
