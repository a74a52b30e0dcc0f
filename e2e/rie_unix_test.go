//go:build unix

package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// rieBuild holds the AWS Lambda Runtime Interface Emulator and the test functions, built once
// per test binary with the go command (the RIE module is recorded in go.mod by tools/lambda.go).
var rieBuild struct {
	once sync.Once
	dir  string
	err  error
}

// buildLambdaTools builds the RIE and e2e/lambdas/authorizer into a folder kept until the test
// binary ends.
func buildLambdaTools(t testing.TB) string {
	t.Helper()
	rieBuild.once.Do(func() {
		dir, err := os.MkdirTemp("", "iotcore-rie-")
		if err != nil {
			rieBuild.err = err
			return
		}
		rieBuild.dir = dir
		for _, b := range []struct{ out, pkg string }{
			{"aws-lambda-rie", "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"},
			{"authorizer", "github.com/iotcore-local/iotcore-local/e2e/lambdas/authorizer"},
		} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(dir, b.out), b.pkg)
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				rieBuild.err = fmt.Errorf("go build %s: %v\n%s", b.pkg, err, out)
				return
			}
		}
	})
	if rieBuild.err != nil {
		t.Fatal(rieBuild.err)
	}
	return rieBuild.dir
}

// removeLambdaTools removes what buildLambdaTools built; TestMain calls it when the tests end.
func removeLambdaTools() {
	if rieBuild.dir != "" {
		os.RemoveAll(rieBuild.dir)
	}
}

// startRIE runs the authorizer function behind a Runtime Interface Emulator on a free loopback
// port and returns its Invoke URL. The RIE and the function it started are stopped when the
// test ends.
func startRIE(t testing.TB) string {
	t.Helper()
	if tt, ok := t.(*testing.T); ok {
		needTools(tt, "go")
	}
	dir := buildLambdaTools(t)
	return runFunction(t, filepath.Join(dir, "authorizer"), "authorizer")
}

// lambdaBuilds holds the other test functions of e2e/lambdas, each built once per test binary
// into buildLambdaTools's folder.
var lambdaBuilds sync.Map // package name → *lambdaBuild

type lambdaBuild struct {
	once sync.Once
	path string
	err  error
}

// buildFunction builds e2e/lambdas/<name> (an aws-lambda-go handler) once and returns the binary.
func buildFunction(t testing.TB, name string) string {
	t.Helper()
	dir := buildLambdaTools(t)
	v, _ := lambdaBuilds.LoadOrStore(name, &lambdaBuild{})
	b := v.(*lambdaBuild)
	b.once.Do(func() {
		b.path = filepath.Join(dir, name)
		cmd := exec.Command("go", "build", "-o", b.path, "github.com/iotcore-local/iotcore-local/e2e/lambdas/"+name)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build %s: %v\n%s", name, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// runFunction runs the handler binary behind the AWS Lambda Runtime Interface Emulator on free
// loopback ports, with env added to its environment, and returns the Invoke URL. The RIE and the
// handler it starts are stopped when the test ends.
func runFunction(t testing.TB, handler, name string, env ...string) string {
	t.Helper()
	dir := buildLambdaTools(t)
	for attempt := 0; ; attempt++ {
		addr := freeLoopback(t)
		// The Runtime API the function polls defaults to 127.0.0.1:9001, which a second RIE (a
		// parallel test, another package's) could not bind: each gets a free port of its own.
		cmd := exec.Command(filepath.Join(dir, "aws-lambda-rie"),
			"--runtime-interface-emulator-address", addr, "--runtime-api-address", freeLoopback(t), "--log-level", "error",
			handler)
		cmd.Dir = filepath.Dir(handler)
		cmd.Env = append(append(os.Environ(), "AWS_LAMBDA_FUNCTION_TIMEOUT=30", "AWS_LAMBDA_FUNCTION_NAME="+name), env...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // the RIE starts the function as its child
		var logs strings.Builder
		cmd.Stdout, cmd.Stderr = &syncWriter{w: &logs}, &syncWriter{w: &logs}
		if err := cmd.Start(); err != nil {
			t.Fatalf("start RIE: %v", err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		stop := func() {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		if waitListening(addr, exited, 20*time.Second) {
			t.Cleanup(func() {
				stop()
				if t.Failed() {
					t.Logf("RIE output:\n%s", logs.String())
				}
			})
			return "http://" + addr + "/2015-03-31/functions/function/invocations"
		}
		stop()
		if attempt == 2 {
			t.Fatalf("the RIE did not listen on %s:\n%s", addr, logs.String())
		}
	}
}

// waitListening waits until addr accepts connections, the process exits, or d passes.
func waitListening(addr string, exited <-chan struct{}, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// syncWriter serializes writes from the process's two output pipes.
type syncWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// String is what was written so far.
func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}

// freeLoopback is freeAddr for tests and benchmarks.
func freeLoopback(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
