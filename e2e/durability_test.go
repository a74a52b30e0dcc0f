package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// serveProcess is an "iotcore-local serve" child process on a given data folder, which a test can
// kill with SIGKILL and start again on the same folder.
type serveProcess struct {
	cmd             *exec.Cmd
	mqtt, alpn, api string
	stderr          *lockedBuffer
	done            chan error
}

// startServeProcess starts serve on state with fresh loopback ports and waits for /health.
func startServeProcess(t *testing.T, state string) *serveProcess {
	t.Helper()
	p := &serveProcess{mqtt: freeAddr(t), alpn: freeAddr(t), api: freeAddr(t), stderr: &lockedBuffer{}, done: make(chan error, 1)}
	p.cmd = exec.Command(binary(t), "serve", "--data", state, "--mqtt-addr", p.mqtt, "--alpn-addr", p.alpn,
		"--https-addr", freeAddr(t), "--api-addr", p.api, "--demo=false")
	p.cmd.Stdout, p.cmd.Stderr = io.Discard, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if p.cmd.ProcessState != nil {
			return
		}
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			p.cmd.Process.Kill()
			t.Errorf("serve did not stop on SIGTERM")
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-p.done:
			t.Fatalf("serve exited early (%v); stderr:\n%s", err, p.stderr.String())
		default:
		}
		if resp, err := http.Get("http://" + p.api + "/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not healthy within a minute; stderr:\n%s", p.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *serveProcess) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatal("serve survived SIGKILL")
	}
}

// durablePolicy lets a thing connect as itself, publish (retained too), receive and subscribe
// under durable/.
const durablePolicy = `{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}"},
 {"Effect":"Allow","Action":["iot:Publish","iot:RetainPublish","iot:Receive"],"Resource":"arn:aws:iot:us-east-1:123456789012:topic/durable/*"},
 {"Effect":"Allow","Action":"iot:Subscribe","Resource":"arn:aws:iot:us-east-1:123456789012:topicfilter/durable/*"}]}`

// certTLS is the client TLS configuration for the files "cert create --out dir" wrote.
func certTLS(t *testing.T, dir string) *tls.Config {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "certificate.pem.crt"), filepath.Join(dir, "private.pem.key"))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(filepath.Join(dir, "root-ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		t.Fatal("root-ca.pem holds no certificate")
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
}

// tally counts, per payload, how often a subscriber received it.
type tally struct {
	mu   sync.Mutex
	seen map[string]int
}

func (c *tally) add(payload string) {
	c.mu.Lock()
	c.seen[payload]++
	c.mu.Unlock()
}

// missing lists the wanted payloads never received, and counts the duplicates received.
func (c *tally) missing(want []string) (missing []string, duplicates int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range want {
		if c.seen[p] == 0 {
			missing = append(missing, p)
		}
	}
	for _, n := range c.seen {
		if n > 1 {
			duplicates += n - 1
		}
	}
	return missing, duplicates
}

// connectDurable connects an MQTT 3.1.1 client on 8883 with the given clean-session flag;
// every message is counted in tl after delay (a slow consumer acknowledges late).
func connectDurable(t *testing.T, addr, clientID string, cfg *tls.Config, clean bool, tl *tally, delay time.Duration) (paho.Client, bool) {
	t.Helper()
	opts := paho.NewClientOptions().
		AddBroker("ssl://" + addr).
		SetClientID(clientID).
		SetTLSConfig(cfg).
		SetProtocolVersion(4).
		SetCleanSession(clean).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(10 * time.Second).
		SetKeepAlive(30 * time.Second)
	if tl != nil {
		opts.SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
			time.Sleep(delay)
			tl.add(string(m.Payload()))
		})
	}
	c := paho.NewClient(opts)
	tok := c.Connect()
	if !tok.WaitTimeout(15 * time.Second) {
		t.Fatalf("connect %s: timed out", clientID)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("connect %s: %v", clientID, err)
	}
	t.Cleanup(func() {
		if c.IsConnected() {
			c.Disconnect(100)
		}
	})
	return c, tok.(*paho.ConnectToken).SessionPresent()
}

// TestSessionsSurviveSIGKILL kills the serve process with SIGKILL while QoS 1 messages flow to
// two persistent sessions, one offline and one online and slow, starts it again on the same data
// folder and counts message by message: every message whose PUBACK the publisher received is
// delivered after the sessions reconnect (duplicates allowed, as QoS 1 does), and the retained
// message is intact.
func TestSessionsSurviveSIGKILL(t *testing.T) {
	const n = 200
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	first := startServeProcess(t, state)
	admin := &server{dir: dir, api: first.api}

	policyFile := filepath.Join(dir, "policy.json")
	if err := os.WriteFile(policyFile, []byte(durablePolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := admin.cli(t, "policy", "create", "durable-policy", "--document", policyFile); code != 0 {
		t.Fatalf("policy create: %d %s %s", code, out, errOut)
	}
	tlsOf := map[string]*tls.Config{}
	for _, thing := range []string{"dur-pub", "dur-offline", "dur-slow"} {
		if out, errOut, code := admin.cli(t, "thing", "create", thing); code != 0 {
			t.Fatalf("thing create %s: %d %s %s", thing, code, out, errOut)
		}
		out := filepath.Join(dir, thing)
		if stdout, errOut, code := admin.cli(t, "cert", "create", "--thing", thing, "--policy", "durable-policy", "--out", out); code != 0 {
			t.Fatalf("cert create %s: %d %s %s", thing, code, stdout, errOut)
		}
		tlsOf[thing] = certTLS(t, out)
	}

	// Both subscribers open persistent sessions; dur-offline leaves, dur-slow stays and consumes
	// slowly, so that the server holds messages in flight to it when it dies.
	offline, slow := &tally{seen: map[string]int{}}, &tally{seen: map[string]int{}}
	for _, s := range []struct {
		id string
		tl *tally
	}{{"dur-offline", offline}, {"dur-slow", slow}} {
		c, _ := connectDurable(t, first.mqtt, s.id, tlsOf[s.id], false, s.tl, 5*time.Millisecond)
		if err := wait(t, c.Subscribe("durable/data", 1, nil)); err != nil {
			t.Fatalf("subscribe %s: %v", s.id, err)
		}
		if s.id == "dur-offline" {
			c.Disconnect(250)
		}
	}

	pub, _ := connectDurable(t, first.mqtt, "dur-pub", tlsOf["dur-pub"], true, nil, 0)
	if err := wait(t, pub.Publish("durable/retained", 1, true, "keep me")); err != nil {
		t.Fatalf("retained publish: %v", err)
	}

	// Publish with up to 16 messages awaiting their PUBACK; SIGKILL once half are acknowledged.
	var (
		mu    sync.Mutex
		acked []string
	)
	killAt := make(chan struct{})
	var killOnce sync.Once
	window := make(chan struct{}, 16)
	var inflight sync.WaitGroup
	published := 0
publishing:
	for i := range n {
		select {
		case <-killAt:
			break publishing
		case window <- struct{}{}:
		}
		payload := fmt.Sprintf("msg-%03d", i)
		tok := pub.Publish("durable/data", 1, false, payload)
		published++
		inflight.Add(1)
		go func() {
			defer inflight.Done()
			defer func() { <-window }()
			if tok.WaitTimeout(20*time.Second) && tok.Error() == nil {
				mu.Lock()
				acked = append(acked, payload)
				if len(acked) >= n/2 {
					killOnce.Do(func() { close(killAt) })
				}
				mu.Unlock()
			}
		}()
	}
	<-killAt
	first.kill(t)
	inflight.Wait()
	mu.Lock()
	wantAcked := append([]string(nil), acked...)
	mu.Unlock()
	sort.Strings(wantAcked)
	t.Logf("published %d of %d, %d acknowledged before SIGKILL", published, n, len(wantAcked))
	if len(wantAcked) < n/2 {
		t.Fatalf("only %d acknowledged", len(wantAcked))
	}

	second := startServeProcess(t, state)
	// Published after the restart while both sessions are still offline: queued for them too, the
	// authorizer checking iot:Receive against the certificate stored with each session.
	pub, _ = connectDurable(t, second.mqtt, "dur-pub", tlsOf["dur-pub"], true, nil, 0)
	want := append([]string(nil), wantAcked...)
	for i := range 20 {
		payload := fmt.Sprintf("post-%02d", i)
		if err := wait(t, pub.Publish("durable/data", 1, false, payload)); err != nil {
			t.Fatalf("publish after restart: %v", err)
		}
		want = append(want, payload)
	}
	for _, s := range []struct {
		id string
		tl *tally
	}{{"dur-offline", offline}, {"dur-slow", slow}} {
		_, present := connectDurable(t, second.mqtt, s.id, tlsOf[s.id], false, s.tl, 0)
		if !present {
			t.Errorf("%s: CONNACK session present = 0 after the restart", s.id)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mOff, _ := offline.missing(want)
		mSlow, _ := slow.missing(want)
		if len(mOff) == 0 && len(mSlow) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("acknowledged messages never delivered after the restart:\n dur-offline (%d): %v\n dur-slow (%d): %v\nserver log:\n%s",
				len(mOff), mOff, len(mSlow), mSlow, lastLines(second.stderr.String(), 40))
		}
		time.Sleep(50 * time.Millisecond)
	}
	for name, tl := range map[string]*tally{"dur-offline": offline, "dur-slow": slow} {
		_, dups := tl.missing(want)
		t.Logf("%s: all %d acknowledged messages delivered (%d before the kill, %d queued after the restart), %d duplicates",
			name, len(want), len(wantAcked), len(want)-len(wantAcked), dups)
	}

	// The subscriptions came back with the sessions: live traffic reaches them.
	if err := wait(t, pub.Publish("durable/data", 1, false, "after restart")); err != nil {
		t.Fatalf("publish after restart: %v", err)
	}
	waitUntil(t, "live delivery after the restart", func() bool {
		m1, _ := offline.missing([]string{"after restart"})
		m2, _ := slow.missing([]string{"after restart"})
		return len(m1) == 0 && len(m2) == 0
	})

	retained := make(chan paho.Message, 1)
	if err := wait(t, pub.Subscribe("durable/retained", 1, func(_ paho.Client, m paho.Message) { retained <- m })); err != nil {
		t.Fatalf("subscribe to the retained topic: %v", err)
	}
	select {
	case m := <-retained:
		if string(m.Payload()) != "keep me" || !m.Retained() {
			t.Fatalf("retained message after restart: %q retained=%v", m.Payload(), m.Retained())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("retained message lost across SIGKILL")
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
