package main

import (
	"bufio"
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/iotcore-local/iotcore-local/bench"
	"github.com/iotcore-local/iotcore-local/pki"
)

// lab is the set-up shared by the comparison and the scale run: a work folder, the brokers'
// start specifications, the provisioned fleet and the TLS files every broker is given.
type lab struct {
	dir     string
	self    string
	pin     string // CPU list the brokers run on; "" unpinned
	log     io.Writer
	mosqBin string

	fleet   *bench.Fleet
	devices []bench.Device
	roots   *x509.CertPool

	serverCert, serverKey, clientCA string // files given to stock Mochi and Mosquitto
	mosquittoConf, mosquittoAddr    string
	mosquittoNoDelay                bool
	mosquittoQueue                  int
	emulatorQueue                   int // --write-queue of the emulator; 0 for its default

	servers map[string]*server
	specs   map[string]startSpec
}

// newLab prepares the work folder: state (when given) is kept, otherwise a temporary folder is
// made and removed by close.
func newLab(state, pin string, log io.Writer) (*lab, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	dir := state
	if dir == "" {
		if dir, err = os.MkdirTemp("", "iotcore-compare-"); err != nil {
			return nil, err
		}
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return &lab{dir: dir, self: self, pin: pin, log: log, servers: map[string]*server{}, specs: map[string]startSpec{}}, nil
}

// close stops every broker and removes the work folder unless it is to be kept.
func (l *lab) close(keep bool) {
	for _, s := range l.servers {
		s.stop()
	}
	if !keep {
		os.RemoveAll(l.dir)
	} else {
		fmt.Fprintf(l.log, "compare: work folder kept: %s\n", l.dir)
	}
}

// path names a file in the work folder.
func (l *lab) path(name string) string { return filepath.Join(l.dir, name) }

// startEmulator starts (or restarts) the emulator child.
func (l *lab) startEmulator(ctx context.Context) (*server, error) {
	sp, ok := l.specs[brokerEmulator]
	if !ok {
		sp = startSpec{
			name:    brokerEmulator,
			argv:    []string{l.self, "serve-emulator", "--data", l.path("emulator"), "--pprof", "127.0.0.1:0", "--write-queue", strconv.Itoa(l.emulatorQueue)},
			logPath: l.path("emulator.log"),
			pin:     l.pin,
			ready: func(r *bufio.Reader, s *server) error {
				f, err := readyLine(r)
				if err != nil {
					return err
				}
				s.addr, s.alpnAddr, s.apiURL = f["mqtt"], f["alpn"], f["api"]
				s.shadowFsync = f["shadow_fsync"] == "true"
				if f["pprof"] != "" {
					s.pprofURL = "http://" + f["pprof"]
				}
				return nil
			},
		}
		l.specs[brokerEmulator] = sp
	}
	return l.start(ctx, sp)
}

// start starts a broker from its specification, replacing a running one of the same name.
func (l *lab) start(ctx context.Context, sp startSpec) (*server, error) {
	if old := l.servers[sp.name]; old != nil {
		old.stop()
		delete(l.servers, sp.name)
	}
	s, err := startServer(ctx, sp)
	if err != nil {
		return nil, err
	}
	l.servers[sp.name] = s
	return s, nil
}

// restart stops a broker and starts it afresh (same specification).
func (l *lab) restart(ctx context.Context, name string) (*server, error) {
	return l.start(ctx, l.specs[name])
}

// provision makes sure the emulator knows n ECDSA devices with the bench policy, reusing the
// credentials file in the work folder, and writes the TLS files for the other brokers.
func (l *lab) provision(ctx context.Context, emu *server, n int) error {
	start := time.Now()
	fleet, err := bench.Provision(ctx, bench.ProvisionConfig{
		APIURL: emu.apiURL, Devices: n, KeyType: bench.KeyECDSA, Cache: l.path("fleet.json"), Progress: l.log,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(l.log, "compare: %d devices ready in %.1f s\n", n, time.Since(start).Seconds())
	if l.devices, err = fleet.Devices(); err != nil {
		return err
	}
	if l.roots, err = fleet.RootCAs(); err != nil {
		return err
	}
	l.fleet = fleet
	tlsDir := l.path("tls")
	if err := os.MkdirAll(tlsDir, 0o700); err != nil {
		return err
	}
	l.serverCert, l.serverKey, l.clientCA = filepath.Join(tlsDir, "server.pem"), filepath.Join(tlsDir, "server.key"), filepath.Join(tlsDir, "device-ca.pem")
	for _, c := range []struct{ from, to string }{
		{filepath.Join(l.path("emulator"), pki.ServerCertFile), l.serverCert},
		{filepath.Join(l.path("emulator"), pki.ServerKeyFile), l.serverKey},
	} {
		b, err := os.ReadFile(c.from)
		if err != nil {
			return fmt.Errorf("the emulator's server certificate: %w", err)
		}
		if err := os.WriteFile(c.to, b, 0o600); err != nil {
			return err
		}
	}
	return os.WriteFile(l.clientCA, []byte(fleet.DeviceCAPEM), 0o600)
}

// startMochi starts the stock Mochi child with the shared TLS files.
func (l *lab) startMochi(ctx context.Context) (*server, error) {
	sp := startSpec{
		name: brokerMochi,
		argv: []string{l.self, "serve-stockmochi", "--addr", "127.0.0.1:0",
			"--cert", l.serverCert, "--key", l.serverKey, "--cafile", l.clientCA, "--pprof", "127.0.0.1:0"},
		logPath: l.path("mochi.log"),
		pin:     l.pin,
		ready: func(r *bufio.Reader, s *server) error {
			f, err := readyLine(r)
			if err != nil {
				return err
			}
			s.addr = f["mqtt"]
			if f["pprof"] != "" {
				s.pprofURL = "http://" + f["pprof"]
			}
			return nil
		},
	}
	l.specs[brokerMochi] = sp
	return l.start(ctx, sp)
}

// mosquittoACL mirrors the bench policy the emulator enforces: every device may publish,
// subscribe and receive under bench/, and only its own thing's shadow topics (the user name is
// the certificate's common name, which is the thing name). Mosquitto cannot tie the client id
// to the certificate as iot:Connect does; that check has no counterpart here.
const mosquittoACL = `# Mirrors iotcore-local's bench policy (bench.BenchPolicy).
pattern readwrite bench/#
pattern readwrite $aws/things/%u/shadow/#
`

// startMosquitto writes Mosquitto's configuration and ACL and starts it.
func (l *lab) startMosquitto(ctx context.Context) (*server, error) {
	bin := l.mosqBin
	if bin == "" {
		var err error
		if bin, err = lookPath("mosquitto"); err != nil {
			return nil, fmt.Errorf("mosquitto not found (apt-get install mosquitto, or leave it out with --brokers): %w", err)
		}
	}
	if l.mosquittoAddr == "" {
		addr, err := freePort()
		if err != nil {
			return nil, err
		}
		l.mosquittoAddr = addr
	}
	_, port, _ := strings.Cut(l.mosquittoAddr, ":")
	dir := l.path("mosquitto")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	acl := filepath.Join(dir, "acl")
	if err := os.WriteFile(acl, []byte(mosquittoACL), 0o600); err != nil {
		return nil, err
	}
	conf := fmt.Sprintf(`# iotcore-local compare: Mosquitto with mutual TLS and an ACL, defaults otherwise.
per_listener_settings false
persistence false
user root
log_dest stderr
log_type error
log_type warning
allow_anonymous false
acl_file %s
listener %s 127.0.0.1
cafile %s
certfile %s
keyfile %s
require_certificate true
use_identity_as_username true
`, acl, port, l.clientCA, l.serverCert, l.serverKey)
	if l.mosquittoNoDelay {
		conf += "set_tcp_nodelay true\n"
	}
	if l.mosquittoQueue > 0 {
		conf += fmt.Sprintf("max_queued_messages %d\n", l.mosquittoQueue)
	}
	l.mosquittoConf = filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(l.mosquittoConf, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	sp := startSpec{
		name:    brokerMosquitto,
		argv:    []string{bin, "-c", l.mosquittoConf},
		logPath: l.path("mosquitto.log"),
		probe:   l.mosquittoAddr,
		addr:    l.mosquittoAddr,
		pin:     l.pin,
	}
	l.specs[brokerMosquitto] = sp
	return l.start(ctx, sp)
}

// target is a bench target for one broker: its address, the emulator's root CA, the fleet's
// identities; alpn offers x-amzn-mqtt-ca on the emulator's ALPN port.
func (l *lab) target(s *server, alpn bool) bench.Target {
	t := bench.Target{Address: s.addr, ServerName: "localhost", RootCAs: l.roots, Devices: l.devices,
		KeepAlive: bench.DefaultKeepAlive}
	if alpn {
		t.Address, t.ALPN = s.alpnAddr, []string{bench.ProtocolMQTTCA}
	}
	return t
}

// lookPath finds a program on PATH or in the system folders a root PATH holds.
func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/sbin", "/usr/local/bin"} {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: not found", name)
}
