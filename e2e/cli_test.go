package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	binDir   string
	buildBin sync.Once
	binPath  string
	binErr   error
)

// binary builds cmd/iotcore-local once per test run.
func binary(t *testing.T) string {
	t.Helper()
	buildBin.Do(func() {
		binDir, binErr = os.MkdirTemp("", "iotcore-local-bin")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "iotcore-local")
		out, err := exec.Command("go", "build", "-o", binPath, "../cmd/iotcore-local").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// needTools skips when an external client is missing; .ci/run installs them.
func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is not installed (CI must install it)", tool)
			}
			t.Skipf("%s is not installed", tool)
		}
	}
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// server is a running "iotcore-local serve" child process.
type server struct {
	dir, mqtt, alpn, https, api string
	banner                      []string
}

// startServe runs the built command's serve verb and waits for its banner. The ports were free a
// moment before; should another process take one meanwhile, it tries again with new ones.
func startServe(t *testing.T, extra ...string) *server {
	t.Helper()
	for attempt := 1; ; attempt++ {
		s, err := tryServe(t, extra...)
		if err == nil {
			return s
		}
		if !errors.Is(err, errPortTaken) || attempt == 3 {
			t.Fatal(err)
		}
		t.Logf("attempt %d: %v; trying other ports", attempt, err)
	}
}

// errPortTaken is a serve that could not bind one of its ports.
var errPortTaken = errors.New("a port was taken before serve could bind it")

// tryServe starts serve on ports free a moment ago and waits for its banner.
func tryServe(t *testing.T, extra ...string) (*server, error) {
	s := &server{dir: t.TempDir(), mqtt: freeAddr(t), alpn: freeAddr(t), https: freeAddr(t), api: freeAddr(t)}
	args := append([]string{"serve", "--data", filepath.Join(s.dir, "state"), "--mqtt-addr", s.mqtt, "--alpn-addr", s.alpn, "--https-addr", s.https, "--api-addr", s.api}, extra...)
	cmd := exec.Command(binary(t), args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr := new(lockedBuffer)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				waitErr := cmd.Wait() // also waits for stderr to be copied
				if strings.Contains(stderr.String(), "address is in use") {
					return nil, fmt.Errorf("%w: %s", errPortTaken, lastLine(stderr.String()))
				}
				return nil, fmt.Errorf("serve exited early (%v); stderr:\n%s", waitErr, stderr.String())
			}
			s.banner = append(s.banner, l)
			last := "try it" // the banner's last line
			if contains(extra, "--demo=false") {
				last = "CA file"
			}
			if strings.Contains(l, last) {
				t.Cleanup(func() { stopServe(t, cmd, stderr) })
				return s, nil
			}
		case <-deadline:
			cmd.Process.Kill()
			cmd.Wait()
			return nil, fmt.Errorf("serve did not print its banner; stderr:\n%s", stderr.String())
		}
	}
}

// stopServe ends serve with SIGTERM, as a user's Ctrl-C would, and expects a clean exit.
func stopServe(t *testing.T, cmd *exec.Cmd, stderr *lockedBuffer) {
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve exited with %v; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		t.Errorf("serve did not stop on SIGTERM")
	}
}

// lastLine is the last non-empty line of text.
func lastLine(text string) string {
	lines := strings.Split(strings.TrimSpace(text), "\n")
	return lines[len(lines)-1]
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// cli runs an admin verb against the server and returns stdout, stderr and the exit code.
func (s *server) cli(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	args = append(args, "--endpoint-url", "http://"+s.api)
	return runBinary(t, args...)
}

func runBinary(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

// run runs an external tool with a deadline and returns its combined output and error.
func run(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(out), err
}

// healthy reports whether the API answers /health with 200.
func (s *server) healthy() bool {
	resp, err := http.Get("http://" + s.api + "/health")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func portOfAddr(addr string) string { return addr[strings.LastIndex(addr, ":")+1:] }

const devicePolicy = `{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}"},
 {"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":"arn:aws:iot:us-east-1:123456789012:topic/lab/*"},
 {"Effect":"Allow","Action":"iot:Subscribe","Resource":"arn:aws:iot:us-east-1:123456789012:topicfilter/lab/*"}]}`

// TestCLIWithMosquittoAndOpenSSL walks the newcomer's path: serve, create a policy, things and
// certificates with the admin verbs, then talk MQTT with mosquitto on 443 (ALPN) and 8883, and
// inspect the handshake with openssl s_client.
func TestCLIWithMosquittoAndOpenSSL(t *testing.T) {
	needTools(t, "mosquitto_pub", "mosquitto_sub", "openssl")
	s := startServe(t)
	policyFile := filepath.Join(s.dir, "policy.json")
	if err := os.WriteFile(policyFile, []byte(devicePolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := s.cli(t, "policy", "create", "lab-policy", "--document", policyFile); code != 0 || !strings.Contains(out, "lab-policy") {
		t.Fatalf("policy create: %d %s %s", code, out, errOut)
	}
	certs := map[string]string{}
	for _, thing := range []string{"lab-pub", "lab-sub"} {
		if out, errOut, code := s.cli(t, "thing", "create", thing, "--attr", "room=lab"); code != 0 || !strings.Contains(out, thing) {
			t.Fatalf("thing create: %d %s %s", code, out, errOut)
		}
		dir := filepath.Join(s.dir, thing)
		out, errOut, code := s.cli(t, "cert", "create", "--thing", thing, "--policy", "lab-policy", "--out", dir)
		id := strings.TrimSpace(out)
		if code != 0 || len(id) != 64 {
			t.Fatalf("cert create: %d %q %s", code, out, errOut)
		}
		for _, f := range []string{"certificate.pem.crt", "private.pem.key", "public.pem.key", "root-ca.pem"} {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				t.Fatalf("cert create did not write %s: %v", f, err)
			}
		}
		certs[thing] = id
	}
	tlsArgs := func(thing string) []string {
		dir := filepath.Join(s.dir, thing)
		return []string{"-h", "localhost", "--cafile", filepath.Join(dir, "root-ca.pem"),
			"--cert", filepath.Join(dir, "certificate.pem.crt"), "--key", filepath.Join(dir, "private.pem.key"), "-i", thing}
	}
	for _, port := range []struct {
		name string
		args []string
	}{
		{"443 with ALPN", []string{"-p", portOfAddr(s.alpn), "--tls-alpn", "x-amzn-mqtt-ca"}},
		{"8883", []string{"-p", portOfAddr(s.mqtt)}},
	} {
		t.Run(port.name, func(t *testing.T) {
			topic := "lab/" + strings.ReplaceAll(port.name, " ", "-")
			subArgs := append(append(tlsArgs("lab-sub"), port.args...), "-t", topic, "-q", "1", "-C", "1", "-W", "20")
			sub := exec.Command("mosquitto_sub", subArgs...)
			var subOut lockedBuffer
			sub.Stdout, sub.Stderr = &subOut, &subOut
			if err := sub.Start(); err != nil {
				t.Fatal(err)
			}
			// Publish until the subscriber has its message (it may still be subscribing).
			var pubOut string
			for i := 0; i < 40; i++ {
				out, err := run(t, "mosquitto_pub", append(append(tlsArgs("lab-pub"), port.args...), "-t", topic, "-m", "hello from mosquitto", "-q", "1")...)
				if err != nil {
					t.Fatalf("mosquitto_pub: %v\n%s", err, out)
				}
				pubOut = out
				if strings.Contains(subOut.String(), "hello") {
					break
				}
				time.Sleep(250 * time.Millisecond)
			}
			if err := sub.Wait(); err != nil {
				t.Fatalf("mosquitto_sub: %v\n%s (last pub: %s)", err, subOut.String(), pubOut)
			}
			if strings.TrimSpace(subOut.String()) != "hello from mosquitto" {
				t.Fatalf("mosquitto_sub printed %q", subOut.String())
			}
		})
	}

	t.Run("openssl with x-amzn-mqtt-ca", func(t *testing.T) {
		dir := filepath.Join(s.dir, "lab-pub")
		out, _ := run(t, "sh", "-c", fmt.Sprintf("echo | openssl s_client -connect %s -servername localhost -alpn x-amzn-mqtt-ca -cert %s -key %s -CAfile %s -msg",
			s.alpn, filepath.Join(dir, "certificate.pem.crt"), filepath.Join(dir, "private.pem.key"), filepath.Join(dir, "root-ca.pem")))
		for _, want := range []string{"ALPN protocol: x-amzn-mqtt-ca", "Verify return code: 0 (ok)", "CertificateRequest"} {
			if !strings.Contains(out, want) {
				t.Fatalf("openssl output lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("openssl without ALPN", func(t *testing.T) {
		// No ALPN is the HTTPS (SigV4) personality: the handshake completes and no client
		// certificate is requested.
		out, _ := run(t, "sh", "-c", fmt.Sprintf("echo | openssl s_client -connect %s -servername localhost -CAfile %s -msg",
			s.alpn, filepath.Join(s.dir, "lab-pub", "root-ca.pem")))
		if !strings.Contains(out, "Verify return code: 0 (ok)") || strings.Contains(out, "alert") {
			t.Fatalf("handshake without ALPN did not complete:\n%s", out)
		}
		if strings.Contains(out, "CertificateRequest") {
			t.Fatalf("server requested a certificate without ALPN:\n%s", out)
		}
	})
	t.Run("openssl with mqtt", func(t *testing.T) {
		// mqtt is the custom-authorizer personality: the handshake completes, mqtt is selected and
		// no client certificate is requested.
		out, _ := run(t, "sh", "-c", fmt.Sprintf("echo | openssl s_client -connect %s -servername localhost -alpn mqtt -CAfile %s -msg",
			s.alpn, filepath.Join(s.dir, "lab-pub", "root-ca.pem")))
		if !strings.Contains(out, "ALPN protocol: mqtt") || strings.Contains(out, "CertificateRequest") {
			t.Fatalf("want mqtt selected and no CertificateRequest:\n%s", out)
		}
	})
	t.Run("openssl with an unknown ALPN", func(t *testing.T) {
		out, _ := run(t, "sh", "-c", fmt.Sprintf("echo | openssl s_client -connect %s -servername localhost -alpn foo -msg", s.alpn))
		if !strings.Contains(out, "no application protocol") || strings.Contains(out, "CertificateRequest") {
			t.Fatalf("want alert no_application_protocol and no CertificateRequest:\n%s", out)
		}
	})
	t.Run("openssl with x-amzn-http-ca", func(t *testing.T) {
		dir := filepath.Join(s.dir, "lab-pub")
		out, _ := run(t, "sh", "-c", fmt.Sprintf("echo | openssl s_client -connect %s -servername localhost -alpn x-amzn-http-ca -cert %s -key %s -CAfile %s -msg",
			s.alpn, filepath.Join(dir, "certificate.pem.crt"), filepath.Join(dir, "private.pem.key"), filepath.Join(dir, "root-ca.pem")))
		if !strings.Contains(out, "CertificateRequest") || !strings.Contains(out, "ALPN protocol: x-amzn-http-ca") {
			t.Fatalf("want a CertificateRequest and x-amzn-http-ca selected:\n%s", out)
		}
	})

	t.Run("deactivated certificate", func(t *testing.T) {
		if out, errOut, code := s.cli(t, "cert", "update", certs["lab-pub"], "--status", "INACTIVE"); code != 0 {
			t.Fatalf("cert update: %d %s %s", code, out, errOut)
		}
		out, err := run(t, "mosquitto_pub", append(append(tlsArgs("lab-pub"), "-p", portOfAddr(s.mqtt)), "-t", "lab/x", "-m", "x", "-q", "1")...)
		if err == nil {
			t.Fatalf("mosquitto_pub with an INACTIVE certificate succeeded:\n%s", out)
		}
	})
}

// TestBannerCommandWorksAsPrinted runs the mosquitto_pub line serve prints at start.
func TestBannerCommandWorksAsPrinted(t *testing.T) {
	needTools(t, "mosquitto_pub")
	s := startServe(t)
	var line string
	for _, l := range s.banner {
		if _, cmd, ok := strings.Cut(l, "try it"); ok {
			line = strings.TrimSpace(cmd)
		}
	}
	if !strings.HasPrefix(line, "mosquitto_pub ") {
		t.Fatalf("banner has no mosquitto_pub line:\n%s", strings.Join(s.banner, "\n"))
	}
	out, err := run(t, "sh", "-c", line)
	if err != nil {
		t.Fatalf("%s\n%v\n%s", line, err, out)
	}
	if !strings.Contains(out, "received PUBACK") {
		t.Fatalf("no PUBACK in mosquitto_pub -d output:\n%s", out)
	}
}

// TestBadInput: bad flags, a broken seed file and a broken policy get clear errors; the running
// emulator keeps serving and keeps what it had.
func TestBadInput(t *testing.T) {
	_, errOut, code := runBinary(t, "serve", "--no-such-flag")
	if code != 2 || !strings.Contains(errOut, "no-such-flag") {
		t.Fatalf("unknown flag: exit %d, stderr %q", code, errOut)
	}
	_, errOut, code = runBinary(t, "serve", "--profile", "strict", "--data", t.TempDir())
	if code != 2 || !strings.Contains(errOut, "profile") {
		t.Fatalf("bad profile: exit %d, stderr %q", code, errOut)
	}
	_, errOut, code = runBinary(t, "frobnicate")
	if code != 2 || !strings.Contains(errOut, "unknown command") {
		t.Fatalf("unknown verb: exit %d, stderr %q", code, errOut)
	}

	dir := t.TempDir()
	seed := filepath.Join(dir, "seed.yaml")
	os.WriteFile(seed, []byte("policies:\n  - name: p\n    document: {Version: \"2012-10-17\", Statement: [{Effect: Permit, Action: \"iot:*\", Resource: \"*\"}]}\n"), 0o644)
	_, errOut, code = runBinary(t, "serve", "--seed", seed, "--data", filepath.Join(dir, "state"),
		"--mqtt-addr", "127.0.0.1:0", "--alpn-addr", "127.0.0.1:0", "--https-addr", "127.0.0.1:0", "--api-addr", "127.0.0.1:0")
	if code == 0 || !strings.Contains(errOut, "policies[0]") || !strings.Contains(errOut, "Effect") {
		t.Fatalf("broken seed: exit %d, stderr %q", code, errOut)
	}

	s := startServe(t)
	bad := filepath.Join(s.dir, "bad.json")
	os.WriteFile(bad, []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect"}]}`), 0o644)
	_, errOut, code = s.cli(t, "policy", "create", "broken", "--document", bad)
	if code == 0 || !strings.Contains(errOut, "MalformedPolicy") {
		t.Fatalf("broken policy: exit %d, stderr %q", code, errOut)
	}
	if !s.healthy() {
		t.Fatal("emulator stopped serving after bad input")
	}
	if out, _, code := s.cli(t, "thing", "create", "still-here"); code != 0 || !strings.Contains(out, "still-here") {
		t.Fatalf("emulator refuses work after bad input: %s", out)
	}
}

// lockedBuffer is a bytes.Buffer that a child process writes while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
