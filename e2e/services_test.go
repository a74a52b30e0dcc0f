package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// This file starts the real local services the rules engine's actions are tested against:
// Go emulators built from the module proxy (goaws, gofakes3) and npm ones installed by .ci/run
// in rules/testdata/services (dynalite, kinesalite).

var toolMu sync.Mutex

// goTool builds a Go program from the module proxy (pkg@version) once per machine, into the
// user cache, and returns its path. Locally a build failure skips the test; in CI it fails.
func goTool(t *testing.T, pkgAtVersion string) string {
	t.Helper()
	toolMu.Lock()
	defer toolMu.Unlock()
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	sum := sha256.Sum256([]byte(pkgAtVersion + runtime.Version()))
	dir := filepath.Join(cache, "iotcore-local-test-tools", hex.EncodeToString(sum[:8]))
	name := filepath.Base(strings.Split(pkgAtVersion, "@")[0])
	bin := filepath.Join(dir, name)
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "install", pkgAtVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("go install %s: %v\n%s", pkgAtVersion, err, out)
		}
		t.Skipf("go install %s: %v\n%s", pkgAtVersion, err, out)
	}
	return bin
}

// nodeService returns the path of an npm-installed service's entry point, skipping locally
// (failing in CI) when `npm ci` has not run in rules/testdata/services.
func nodeService(t *testing.T, name string) string {
	t.Helper()
	needTools(t, "node")
	p, err := filepath.Abs(filepath.Join("..", "rules", "testdata", "services", "node_modules", ".bin", name))
	if err == nil {
		if _, err = os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not installed: run npm ci in rules/testdata/services (.ci/run does)", name)
	}
	t.Skipf("%s is not installed: run npm ci in rules/testdata/services", name)
	return ""
}

// startService runs a service process until the test ends and waits until addr accepts
// connections.
func startService(t *testing.T, addr string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Dir = t.TempDir()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-done:
			t.Fatalf("%s exited: %s", filepath.Base(name), out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not listen on %s: %s", filepath.Base(name), addr, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startGoaws runs goaws (SQS and SNS, query protocol only) with a queue, and a topic whose raw
// subscription feeds a second queue.
func startGoaws(t *testing.T) string {
	bin := goTool(t, "github.com/Admiral-Piett/goaws/app/cmd@v0.4.5")
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	conf := filepath.Join(t.TempDir(), "goaws.yaml")
	os.WriteFile(conf, []byte(fmt.Sprintf(`Local:
  Host: 127.0.0.1
  Port: %s
  Region: us-east-1
  AccountId: "100010001000"
  Queues:
    - Name: rules-queue
  Topics:
    - Name: rules-topic
      Subscriptions:
        - QueueName: sns-queue
          Raw: true
`, port)), 0o600)
	startService(t, addr, bin, "-config", conf, "Local")
	return "http://" + addr
}

func startGofakes3(t *testing.T) string {
	bin := goTool(t, "github.com/johannesboyne/gofakes3/cmd/gofakes3@v1.2.0")
	addr := freeAddr(t)
	startService(t, addr, bin, "-backend", "memory", "-host", addr, "-initialbucket", "rules-bucket")
	return "http://" + addr
}

func startDynalite(t *testing.T) string {
	js := nodeService(t, "dynalite")
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	startService(t, addr, "node", js, "--host", "127.0.0.1", "--port", port, "--createTableMs", "0")
	return "http://" + addr
}

func startKinesalite(t *testing.T) string {
	js := nodeService(t, "kinesalite")
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	startService(t, addr, "node", js, "--host", "127.0.0.1", "--port", port, "--createStreamMs", "0")
	return "http://" + addr
}
