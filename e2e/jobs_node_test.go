package e2e

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iotcore-local/iotcore-local/emulator"
	"github.com/iotcore-local/iotcore-local/registry"
)

// offsetClock is the real clock plus an offset the test moves forward, so that timers (step
// timeouts) fire without waiting for them.
type offsetClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *offsetClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *offsetClock) add(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// needNodeSDK finds AWS's device SDK where `npm ci --prefix e2e/node` installs it (.ci/run does);
// without it the test skips locally and fails under CI.
func needNodeSDK(t *testing.T) string {
	t.Helper()
	needTools(t, "node")
	dir, err := filepath.Abs(filepath.Join("node"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "aws-iot-device-sdk-v2")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("aws-iot-device-sdk-v2 is not installed in %s (CI must run npm ci --prefix e2e/node)", dir)
		}
		t.Skipf("aws-iot-device-sdk-v2 is not installed; run: npm ci --prefix e2e/node")
	}
	return dir
}

// TestJobsWithAWSDeviceSDKForJavaScript runs e2e/node/jobs-e2e.js: AWS's JavaScript device SDK
// (IotJobsClientv2, over MQTT 3.1.1 and over MQTT 5) against the emulator, through create, notify-next, start-next, SUCCEEDED,
// describe, a version mismatch, REJECTED, TIMED_OUT by a step timer, a force cancel while
// IN_PROGRESS and a continuous job reaching a thing added to its group.
func TestJobsWithAWSDeviceSDKForJavaScript(t *testing.T) {
	dir := needNodeSDK(t)
	for _, protocol := range []string{"311", "5"} {
		t.Run("mqtt"+protocol, func(t *testing.T) { runNodeJobs(t, dir, protocol) })
	}
}

// runNodeJobs runs the script against a fresh emulator over one MQTT version.
func runNodeJobs(t *testing.T, dir, protocol string) {
	clk := &offsetClock{}
	emu := startEmulator(t, "", func(c *emulator.Config) { c.Now = clk.now })
	dev := jobsDevice(t, emu, "node-dev")
	if _, err := emu.Registry().CreateThingGroup(registry.CreateThingGroupInput{Name: "node-group"}); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	files := map[string][]byte{"cert.pem": []byte(dev.CertificatePEM), "key.pem": []byte(dev.PrivateKeyPEM), "ca.pem": emu.RootCAPEM()}
	for n, data := range files {
		if err := os.WriteFile(filepath.Join(tmp, n), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join(dir, "jobs-e2e.js"))
	cmd.Env = append(os.Environ(),
		"JOBS_HOST=localhost", "JOBS_PORT="+portOfAddr(emu.MQTTAddr()),
		"JOBS_CERT="+filepath.Join(tmp, "cert.pem"), "JOBS_KEY="+filepath.Join(tmp, "key.pem"), "JOBS_CA="+filepath.Join(tmp, "ca.pem"),
		"JOBS_THING=node-dev", "JOBS_API="+emu.APIURL(), "JOBS_GROUP=node-group", "JOBS_PROTOCOL="+protocol)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var out []string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		out = append(out, line)
		t.Log("node: " + line)
		if secs, ok := strings.CutPrefix(line, "advance "); ok {
			n, err := strconv.Atoi(secs)
			if err != nil {
				t.Fatalf("bad request from the script: %q", line)
			}
			clk.add(time.Duration(n) * time.Second)
			emu.Jobs().Tick()
			if _, err := io.WriteString(stdin, "ok\n"); err != nil {
				t.Fatal(err)
			}
		}
	}
	err = cmd.Wait()
	if err != nil || len(out) == 0 || out[len(out)-1] != "all checks passed" {
		t.Fatalf("jobs-e2e.js: %v\nstderr:\n%s", err, stderr.String())
	}
}
