package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Broker names, as tables and JSON use them.
const (
	brokerEmulator  = "emulator"
	brokerMochi     = "mochi"
	brokerMosquitto = "mosquitto"
)

// brokerTitle is how tables head a broker's column.
var brokerTitle = map[string]string{
	brokerEmulator:  "iotcore-local",
	brokerMochi:     "stock Mochi",
	brokerMosquitto: "Mosquitto",
}

// server is one broker process under test.
type server struct {
	name     string
	cmd      *exec.Cmd
	pid      int
	addr     string // MQTT over mutual TLS (8883-style)
	alpnAddr string // the emulator's ALPN port (443-style); "" for other brokers
	apiURL   string // the emulator's HTTP API; "" for other brokers
	pprofURL string // the Go brokers' net/http/pprof; "" for Mosquitto
	// shadowFsync is the emulator's word that its shadow store fsyncs every write before
	// answering it (the READY line's shadow_fsync=true); false for other brokers.
	shadowFsync bool
	logPath     string
	exited      chan struct{}
	waitErr     error
}

// startSpec is what starting one broker process needs.
type startSpec struct {
	name    string
	argv    []string // program and arguments
	logPath string   // stderr (and stdout when no ready line is read) goes here
	// ready, when set, reads the child's stdout until it announces its addresses.
	ready func(r *bufio.Reader, s *server) error
	// probe, when set, is an address to wait for with TCP connects (for brokers that print
	// nothing, Mosquitto).
	probe string
	addr  string // the MQTT address, when known before the start (Mosquitto's)
	pin   string // CPU list for taskset; "" for none
}

// readyTimeout bounds a broker's start.
const readyTimeout = 60 * time.Second

// startServer starts a broker process in its own process group (killed with us if we die) and
// waits until it serves.
func startServer(ctx context.Context, sp startSpec) (*server, error) {
	argv := sp.argv
	if sp.pin != "" {
		argv = append([]string{"taskset", "-c", sp.pin}, argv...)
	}
	logFile, err := os.OpenFile(sp.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", sp.name, err)
	}
	defer logFile.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	var stdout io.ReadCloser
	if sp.ready != nil {
		if stdout, err = cmd.StdoutPipe(); err != nil {
			return nil, fmt.Errorf("start %s: %w", sp.name, err)
		}
	} else {
		cmd.Stdout = logFile
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (%s): %w", sp.name, strings.Join(argv, " "), err)
	}
	s := &server{name: sp.name, cmd: cmd, pid: cmd.Process.Pid, addr: sp.addr, logPath: sp.logPath, exited: make(chan struct{})}
	readyErr := make(chan error, 1)
	if sp.ready != nil {
		go func() {
			br := bufio.NewReader(stdout)
			readyErr <- sp.ready(br, s)
			io.Copy(io.Discard, br) // keep the pipe drained
		}()
	}
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	if sp.ready == nil {
		go func() { readyErr <- waitForTCP(ctx, sp.probe, readyTimeout) }()
	}
	select {
	case err = <-readyErr:
	case <-s.exited:
		err = fmt.Errorf("exited before serving: %v", s.waitErr)
	case <-time.After(readyTimeout):
		err = fmt.Errorf("not serving after %v", readyTimeout)
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		s.stop()
		return nil, fmt.Errorf("start %s: %w; its log: %s", sp.name, err, tail(sp.logPath, 2000))
	}
	return s, nil
}

// stop ends the broker: SIGTERM to its process group, SIGKILL after a grace period.
func (s *server) stop() {
	if s == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.exited:
		return
	default:
	}
	_ = syscall.Kill(-s.pid, syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-s.pid, syscall.SIGKILL)
		<-s.exited
	}
}

// alive says whether the process still runs.
func (s *server) alive() bool {
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// waitForTCP connects to addr until it accepts or the timeout passes.
func waitForTCP(ctx context.Context, addr string, timeout time.Duration) error {
	end := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(end) {
			return fmt.Errorf("%s not accepting connections: %w", addr, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// readyLine reads the child's stdout until a line "READY key=value ..." and returns its fields.
func readyLine(r *bufio.Reader) (map[string]string, error) {
	for {
		line, err := r.ReadString('\n')
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "READY "); ok {
			out := map[string]string{}
			for _, f := range strings.Fields(rest) {
				k, v, _ := strings.Cut(f, "=")
				out[k] = v
			}
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("no READY line: %w", err)
		}
	}
}

// freePort returns a loopback address with a port nobody listens on right now.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// tail returns the end of a log file, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "(empty)"
	}
	return s
}

// cpuSeconds reads the user and system CPU time a process has used, from /proc/PID/stat.
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces: split after it.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("unexpected /proc stat format")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, errors.New("unexpected /proc stat format")
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseUint(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, errors.New("unexpected /proc stat format")
	}
	return float64(utime+stime) / clockTicks, nil
}

// clockTicks is USER_HZ, 100 on every Linux architecture Go supports.
const clockTicks = 100
