package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/iotcore-local/iotcore-local/bench"
	"github.com/iotcore-local/iotcore-local/emulator"
)

const benchUsage = `usage: iotcore-local bench connect|pubsub|idle|shadow [flags]

Load-generates MQTT 3.1.1 devices over mutual TLS against the emulator or any broker, prints a
table (and --json FILE for scripts; --json - prints JSON instead of the table).

Scenarios:
  connect   N devices connect; connections/s, TCP, TLS and CONNACK latency, failures by cause
  pubsub    publishers → subscribers; delivered messages/s, publish→deliver latency, losses
  idle      N connections held with keep-alive; the server's memory per connection
  shadow    N devices update their Device Shadow; round trips/s, update→accepted latency,
            rejections by code, timeouts (needs a shadow service: the emulator, AWS IoT Core)

Identities, one of:
  --provision URL      create devices through the emulator's API at URL; their credentials are
                       kept in .iotcore-local/bench-devices.json (or --devices FILE) and reused
                       by the next run while the emulator still knows them
  --in-process         start a throw-away emulator in this process and provision it
  --devices FILE       per-device credentials saved by an earlier --provision, for any broker
  --cert F --key F     one certificate for every client (client ids PREFIXN)

Targets must be loopback unless --allow-remote is given.

examples:
  iotcore-local bench connect --provision http://127.0.0.1:4580 -n 1000 --concurrency 50
  iotcore-local bench connect --provision http://127.0.0.1:4580 --target 127.0.0.1:443 --alpn x-amzn-mqtt-ca -n 1000
  iotcore-local bench pubsub --in-process --publishers 10 --subscribers 1 --qos 1 --rate 100 --duration 10s
  iotcore-local bench idle --provision http://127.0.0.1:4580 -n 5000 --pid $(pidof iotcore-local) --duration 30s
  iotcore-local bench pubsub --target 127.0.0.1:18883 --cafile ca.pem --devices fleet.json --qos 1
  iotcore-local bench shadow --provision http://127.0.0.1:4580 -n 100 --duration 10s
  iotcore-local bench shadow --in-process -n 10 --rate 5 --shadow-name config --count 50

flags:
`

// benchOptions are the flags of every bench scenario.
type benchOptions struct {
	target, alpn, serverName, caFile, certFile, keyFile string
	provision, devicesFile, prefix, keyType             string
	inProcess, allowRemote, quiet                       bool
	writeQueue                                          int
	sourceAddrs, curves, jsonFile, logLevel             string
	keepAlive, connectTimeout                           time.Duration
	concurrency                                         int

	// connect and idle
	n     int
	churn bool
	pid   int

	// pubsub (and the idle hold, and shadow)
	publishers, subscribers, qos, size, count, inflight int
	shape                                               string
	rate                                                float64
	stagger                                             bool
	duration, drain                                     time.Duration

	// shadow
	shadowName string
	timeout    time.Duration
}

// benchCmd runs "iotcore-local bench SCENARIO [flags]".
func benchCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, benchUsage)
		if len(args) == 0 {
			return fmt.Errorf("%w: bench needs a scenario: connect, pubsub, idle or shadow", errUsage)
		}
		return flag.ErrHelp
	}
	scenario, args := args[0], args[1:]
	switch scenario {
	case "connect", "pubsub", "idle", "shadow":
	default:
		fmt.Fprint(stderr, benchUsage)
		return fmt.Errorf("%w: unknown bench scenario %q (connect, pubsub, idle or shadow)", errUsage, scenario)
	}
	fs := newFlagSet("bench "+scenario, stderr)
	var o benchOptions
	o.register(fs, scenario)
	fs.Usage = func() {
		fmt.Fprint(stderr, benchUsage)
		fs.PrintDefaults()
	}
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("%w: bench %s takes no arguments, got %q", errUsage, scenario, strings.Join(rest, " "))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if err := o.check(scenario, set); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return fmt.Errorf("%w: --log-level %q: use debug, info, warn or error", errUsage, o.logLevel)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	var progress io.Writer = stderr
	if o.quiet {
		progress = nil
	}

	need := o.n
	if scenario == "pubsub" {
		need = o.publishers + o.subscribers
	}
	target, memory, cleanup, err := o.buildTarget(ctx, need, progress, log)
	if cleanup != nil {
		defer cleanup()
	}
	if err != nil {
		return err
	}

	report := &bench.Report{Scenario: scenario, Command: append([]string{"iotcore-local", "bench", scenario}, args...),
		StartedAt: time.Now().UTC().Truncate(time.Second), Host: bench.ThisHost()}
	switch scenario {
	case "connect":
		report.Connect, err = bench.RunConnect(ctx, bench.ConnectConfig{Target: target, Devices: o.n,
			Concurrency: o.concurrency, Churn: o.churn, Progress: progress, Logger: log})
	case "pubsub":
		report.PubSub, err = bench.RunPubSub(ctx, bench.PubSubConfig{Target: target, Publishers: o.publishers,
			Subscribers: o.subscribers, Shape: o.shape, QoS: byte(o.qos), PayloadSize: o.size, Rate: o.rate,
			Stagger: o.stagger, Duration: o.duration, Messages: o.count, Inflight: o.inflight, Drain: o.drain,
			Concurrency: o.concurrency, Progress: progress, Logger: log})
	case "idle":
		report.Idle, err = bench.RunIdle(ctx, bench.IdleConfig{Target: target, Devices: o.n,
			Concurrency: o.concurrency, Duration: o.duration, Memory: memory, Progress: progress, Logger: log})
	case "shadow":
		report.Shadow, err = bench.RunShadow(ctx, bench.ShadowConfig{Target: target, Devices: o.n,
			ShadowName: o.shadowName, QoS: byte(o.qos), Rate: o.rate, Duration: o.duration, Updates: o.count,
			Inflight: o.inflight, Timeout: o.timeout, Concurrency: o.concurrency, Progress: progress, Logger: log})
	}
	if err != nil {
		return err
	}
	return o.writeReport(report, stdout)
}

// register adds the scenario's flags.
func (o *benchOptions) register(fs *flag.FlagSet, scenario string) {
	fs.StringVar(&o.target, "target", emulator.DefaultMQTTAddr, "broker address host:port")
	fs.StringVar(&o.alpn, "alpn", "", "ALPN protocols to offer, comma-separated (x-amzn-mqtt-ca for AWS's port 443)")
	fs.StringVar(&o.serverName, "server-name", "", "name to verify the server certificate against (default: the target's host)")
	fs.StringVar(&o.caFile, "cafile", "", "PEM file of the CA that signs the server certificate (default: the emulator's, when provisioning; else the system's)")
	fs.StringVar(&o.certFile, "cert", "", "client certificate PEM shared by every connection")
	fs.StringVar(&o.keyFile, "key", "", "private key PEM of --cert")
	fs.StringVar(&o.provision, "provision", "", "emulator API URL to create the devices with, e.g. http://127.0.0.1:4580")
	fs.StringVar(&o.devicesFile, "devices", "", "credentials file: kept and reused with --provision (default "+defaultFleetFile+"); alone, the identities to use")
	fs.StringVar(&o.prefix, "prefix", bench.DefaultClientIDPrefix, "thing name and client id prefix")
	fs.StringVar(&o.keyType, "key-type", bench.KeyRSA, "provisioned keys: rsa (CreateKeysAndCertificate, RSA-2048 as AWS issues) or ecdsa (P-256 made here, signed by a bench CA kept in --devices, registered without CA: fast for large fleets)")
	fs.BoolVar(&o.inProcess, "in-process", false, "start a throw-away emulator in this process and target it")
	fs.IntVar(&o.writeQueue, "write-queue", 0, "with --in-process: the emulator's --write-queue (default serve's)")
	fs.BoolVar(&o.allowRemote, "allow-remote", false, "allow a target that is not loopback (to measure AWS IoT Core deliberately)")
	fs.StringVar(&o.sourceAddrs, "source-addrs", "", "local addresses to connect from, comma-separated (default: 127.0.0.x as needed above 20000 connections)")
	fs.StringVar(&o.curves, "curves", "x25519,p256", "key exchanges to offer: x25519, p256, p384, p521, x25519mlkem768")
	fs.DurationVar(&o.keepAlive, "keepalive", bench.DefaultKeepAlive, "MQTT keep-alive sent in CONNECT")
	fs.DurationVar(&o.connectTimeout, "connect-timeout", bench.DefaultConnectTimeout, "deadline of each of TCP connect, TLS handshake and CONNACK")
	fs.IntVar(&o.concurrency, "concurrency", bench.DefaultConcurrency, "connection attempts in flight")
	fs.StringVar(&o.jsonFile, "json", "", "also write the report as JSON to FILE (- for stdout, instead of the table)")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress lines on stderr")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug (one line per failed connection), info, warn or error")
	switch scenario {
	case "connect":
		fs.IntVar(&o.n, "n", 100, "devices to connect")
		fs.BoolVar(&o.churn, "churn", false, "close each connection right after CONNACK instead of holding all until the end")
	case "idle":
		fs.IntVar(&o.n, "n", 100, "connections to hold")
		fs.DurationVar(&o.duration, "duration", bench.DefaultIdleDuration, "how long to hold the connections")
		fs.IntVar(&o.pid, "pid", 0, "process id of the server, to read its memory (VmRSS); --in-process reads the Go heap instead")
	case "pubsub":
		fs.IntVar(&o.publishers, "publishers", 1, "publishing devices")
		fs.IntVar(&o.subscribers, "subscribers", 1, "subscribing devices")
		fs.StringVar(&o.shape, "shape", bench.ShapeAll, "all: every subscriber gets every message (fan-in, fan-out); pairs: publisher i → subscriber i mod S")
		fs.IntVar(&o.qos, "qos", 0, "QoS of publishes and subscriptions: 0 or 1")
		fs.IntVar(&o.size, "size", bench.DefaultPayloadSize, "payload bytes (at least 24)")
		fs.Float64Var(&o.rate, "rate", 0, "messages per second per publisher; 0 for as fast as possible")
		fs.BoolVar(&o.stagger, "stagger", false, "with --rate, spread the publishers' schedules over the interval instead of publishing in step")
		fs.DurationVar(&o.duration, "duration", 10*time.Second, "publishing time")
		fs.IntVar(&o.count, "count", 0, "messages per publisher (0: until --duration)")
		fs.IntVar(&o.inflight, "inflight", bench.DefaultInflight, "QoS 1 messages a publisher may have unacknowledged")
		fs.DurationVar(&o.drain, "drain", bench.DefaultDrain, "longest wait for outstanding deliveries after publishing")
	case "shadow":
		fs.IntVar(&o.n, "n", 10, "devices, each updating its own thing's shadow")
		fs.DurationVar(&o.duration, "duration", 10*time.Second, "updating time")
		fs.IntVar(&o.count, "count", 0, "updates per device (0: until --duration)")
		fs.Float64Var(&o.rate, "rate", 0, "updates per second per device; 0 for closed loop (next update when the previous is answered)")
		fs.StringVar(&o.shadowName, "shadow-name", "", "update this named shadow instead of the classic one")
		fs.IntVar(&o.qos, "qos", 1, "QoS of the update requests: 0 or 1 (answers are subscribed at QoS 1)")
		fs.IntVar(&o.inflight, "inflight", bench.DefaultInflight, "with --rate, unanswered updates a device may have")
		fs.DurationVar(&o.timeout, "timeout", bench.DefaultShadowTimeout, "wait for an update's answer before counting it as timed out")
	}
}

// check refuses contradictory or out-of-range flags.
func (o *benchOptions) check(scenario string, set map[string]bool) error {
	sources := 0
	for _, on := range []bool{o.inProcess, o.provision != "", o.certFile != "" || o.keyFile != "", o.devicesFile != "" && o.provision == ""} {
		if on {
			sources++
		}
	}
	switch {
	case sources == 0:
		return fmt.Errorf("%w: say where identities come from: --provision URL, --in-process, --devices FILE or --cert/--key", errUsage)
	case sources > 1:
		return fmt.Errorf("%w: give only one of --provision, --in-process, --devices (without --provision) and --cert/--key", errUsage)
	case (o.certFile == "") != (o.keyFile == ""):
		return fmt.Errorf("%w: --cert and --key go together", errUsage)
	case o.inProcess && set["target"]:
		return fmt.Errorf("%w: --in-process targets its own emulator; drop --target", errUsage)
	case !o.inProcess && set["write-queue"]:
		return fmt.Errorf("%w: --write-queue sets the --in-process emulator's queue; for a running emulator give it to serve", errUsage)
	case o.inProcess && set["pid"]:
		return fmt.Errorf("%w: --in-process reads this process's memory; drop --pid", errUsage)
	case !o.inProcess && !validHostPort(o.target):
		return fmt.Errorf("%w: --target %q is not host:port; did you mean --target 127.0.0.1:%s?", errUsage, o.target, strings.TrimPrefix(o.target, ":"))
	case o.concurrency <= 0:
		return fmt.Errorf("%w: --concurrency must be positive", errUsage)
	case scenario != "pubsub" && o.n <= 0:
		return fmt.Errorf("%w: -n must be positive", errUsage)
	case o.pid < 0:
		return fmt.Errorf("%w: --pid must be a process id", errUsage)
	case o.keyType != bench.KeyRSA && o.keyType != bench.KeyECDSA:
		return fmt.Errorf("%w: --key-type must be %s or %s", errUsage, bench.KeyRSA, bench.KeyECDSA)
	}
	if scenario == "pubsub" {
		switch {
		case o.publishers <= 0 || o.subscribers <= 0:
			return fmt.Errorf("%w: --publishers and --subscribers must be positive", errUsage)
		case o.qos != 0 && o.qos != 1:
			return fmt.Errorf("%w: --qos must be 0 or 1 (AWS IoT Core has no QoS 2)", errUsage)
		case o.size < bench.PayloadHeaderSize || o.size > bench.MaxPayloadSize:
			return fmt.Errorf("%w: --size must be %d to %d bytes", errUsage, bench.PayloadHeaderSize, bench.MaxPayloadSize)
		case o.rate < 0 || o.count < 0 || o.inflight <= 0:
			return fmt.Errorf("%w: --rate and --count must not be negative, --inflight must be positive", errUsage)
		case o.duration <= 0 && o.count == 0:
			return fmt.Errorf("%w: give a positive --duration or a --count", errUsage)
		case o.shape != bench.ShapeAll && o.shape != bench.ShapePairs:
			return fmt.Errorf("%w: --shape must be %s or %s", errUsage, bench.ShapeAll, bench.ShapePairs)
		case o.shape == bench.ShapePairs && o.subscribers > o.publishers:
			return fmt.Errorf("%w: --shape pairs needs no more subscribers than publishers", errUsage)
		}
	}
	if scenario == "shadow" {
		switch {
		case o.qos != 0 && o.qos != 1:
			return fmt.Errorf("%w: --qos must be 0 or 1 (AWS IoT Core has no QoS 2)", errUsage)
		case o.rate < 0 || o.count < 0 || o.inflight <= 0:
			return fmt.Errorf("%w: --rate and --count must not be negative, --inflight must be positive", errUsage)
		case o.duration <= 0 && o.count == 0:
			return fmt.Errorf("%w: give a positive --duration or a --count", errUsage)
		case o.timeout <= 0:
			return fmt.Errorf("%w: --timeout must be positive", errUsage)
		case set["shadow-name"] && !bench.ValidShadowName(o.shadowName):
			return fmt.Errorf("%w: --shadow-name %q: must be 1-64 characters of a-z, A-Z, 0-9, '$', ':', '_' and '-'", errUsage, o.shadowName)
		}
	}
	if scenario == "idle" && o.duration <= 0 {
		return fmt.Errorf("%w: --duration must be positive", errUsage)
	}
	if o.keepAlive < time.Second || o.connectTimeout <= 0 {
		return fmt.Errorf("%w: --keepalive must be at least 1s and --connect-timeout positive", errUsage)
	}
	return nil
}

// buildTarget turns the flags into a target with identities for need connections, starting an
// in-process emulator or provisioning devices as asked. cleanup, when not nil, stops what it
// started.
func (o *benchOptions) buildTarget(ctx context.Context, need int, progress io.Writer, log *slog.Logger) (bench.Target, bench.MemoryProbe, func(), error) {
	t := bench.Target{Address: o.target, ServerName: o.serverName, ClientIDPrefix: o.prefix,
		AllowRemote: o.allowRemote, KeepAlive: o.keepAlive, ConnectTimeout: o.connectTimeout}
	var memory bench.MemoryProbe
	if o.pid > 0 {
		memory = bench.ProcessMemory{PID: o.pid}
	}
	if o.alpn != "" {
		t.ALPN = splitList(o.alpn)
	}
	curves, err := parseCurves(o.curves)
	if err != nil {
		return t, nil, nil, err
	}
	t.CurvePreferences = curves
	if o.sourceAddrs != "" {
		for _, s := range splitList(o.sourceAddrs) {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return t, nil, nil, fmt.Errorf("%w: --source-addrs: %v", errUsage, err)
			}
			t.SourceAddrs = append(t.SourceAddrs, a)
		}
	}
	if o.caFile != "" {
		pem, err := os.ReadFile(o.caFile)
		if err != nil {
			return t, nil, nil, fmt.Errorf("--cafile: %w", err)
		}
		t.RootCAs = x509.NewCertPool()
		if !t.RootCAs.AppendCertsFromPEM(pem) {
			return t, nil, nil, fmt.Errorf("%w: --cafile %s holds no PEM certificate", errUsage, o.caFile)
		}
	}

	var cleanup func()
	apiURL := o.provision
	if o.inProcess {
		dir, err := os.MkdirTemp("", "iotcore-local-bench-")
		if err != nil {
			return t, nil, nil, fmt.Errorf("in-process emulator: %w", err)
		}
		cfg := emulator.TestConfig(dir)
		cfg.WriteQueue = o.writeQueue
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		emu, err := emulator.New(cfg)
		if err != nil {
			os.RemoveAll(dir)
			return t, nil, nil, fmt.Errorf("in-process emulator: %w", err)
		}
		cleanup = func() { emu.Close(); os.RemoveAll(dir) }
		if err := emu.Start(ctx); err != nil {
			return t, nil, cleanup, fmt.Errorf("in-process emulator: %w", err)
		}
		t.Address = emu.MQTTAddr()
		if slices.Contains(t.ALPN, bench.ProtocolMQTTCA) {
			t.Address = emu.ALPNAddr()
		}
		if t.ServerName == "" {
			t.ServerName = "localhost"
		}
		apiURL = emu.APIURL()
		memory = bench.InProcessMemory{}
		log.Info("bench: in-process emulator started", "mqtt", emu.MQTTAddr(), "alpn", emu.ALPNAddr(), "api", apiURL)
	}

	switch {
	case apiURL != "":
		cache := o.devicesFile
		if o.inProcess {
			cache = "" // a throw-away emulator's certificates are worthless afterwards
		} else if cache == "" {
			cache = defaultFleetFile
			if err := os.MkdirAll(filepath.Dir(cache), 0o700); err != nil {
				return t, nil, cleanup, fmt.Errorf("keep provisioned devices: %w (choose a file with --devices)", err)
			}
			log.Info("bench: provisioned devices are kept in "+cache+" and reused by the next run; --devices FILE keeps them elsewhere", "devices", cache)
		}
		fleet, err := bench.Provision(ctx, bench.ProvisionConfig{APIURL: apiURL, Devices: need, Prefix: o.prefix,
			Cache: cache, KeyType: o.keyType, Progress: progress, Logger: log})
		if err != nil {
			return t, nil, cleanup, err
		}
		if err := useFleet(&t, fleet, o.caFile == ""); err != nil {
			return t, nil, cleanup, err
		}
	case o.devicesFile != "":
		fleet, err := bench.LoadFleet(o.devicesFile)
		if err != nil {
			return t, nil, nil, err
		}
		if len(fleet.Credentials) < need {
			return t, nil, nil, fmt.Errorf("%w: --devices %s holds %d devices, the run needs %d", errUsage, o.devicesFile, len(fleet.Credentials), need)
		}
		fleet.Credentials = fleet.Credentials[:need]
		if err := useFleet(&t, fleet, false); err != nil {
			return t, nil, nil, err
		}
	default:
		cert, err := tls.LoadX509KeyPair(o.certFile, o.keyFile)
		if err != nil {
			return t, nil, nil, fmt.Errorf("--cert/--key: %w", err)
		}
		t.SharedCertificate = &cert
	}
	return t, memory, cleanup, nil
}

// defaultFleetFile keeps the devices "bench --provision" creates when --devices is not given,
// in the default state folder of serve, so that a second run reuses them instead of registering
// a new fleet every time.
var defaultFleetFile = filepath.Join(emulator.DefaultDataDir, "bench-devices.json")

// useFleet gives the target the fleet's identities, and its root CA when trustCA.
func useFleet(t *bench.Target, fleet *bench.Fleet, trustCA bool) error {
	devices, err := fleet.Devices()
	if err != nil {
		return err
	}
	t.Devices = devices
	if trustCA {
		pool, err := fleet.RootCAs()
		if err != nil {
			return err
		}
		t.RootCAs = pool
		if t.ServerName == "" {
			// The emulator's server certificate names localhost and 127.0.0.1; a loopback
			// address such as 127.0.0.2 is verified as localhost.
			if host, _, err := net.SplitHostPort(t.Address); err == nil {
				if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() && !ip.Equal(net.IPv4(127, 0, 0, 1)) {
					t.ServerName = "localhost"
				}
			}
		}
	}
	return nil
}

// writeReport prints the table (unless --json -) and writes the JSON file.
func (o *benchOptions) writeReport(r *bench.Report, stdout io.Writer) error {
	if o.jsonFile == "-" {
		return r.WriteJSON(stdout)
	}
	if err := r.WriteTable(stdout); err != nil {
		return err
	}
	if o.jsonFile == "" {
		return nil
	}
	f, err := os.Create(o.jsonFile)
	if err != nil {
		return fmt.Errorf("--json: %w", err)
	}
	if err := r.WriteJSON(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("--json: %w", err)
	}
	return nil
}

// parseCurves maps --curves names to TLS key exchanges.
func parseCurves(list string) ([]tls.CurveID, error) {
	names := map[string]tls.CurveID{"x25519": tls.X25519, "p256": tls.CurveP256, "p384": tls.CurveP384,
		"p521": tls.CurveP521, "x25519mlkem768": tls.X25519MLKEM768}
	var out []tls.CurveID
	for _, n := range splitList(list) {
		id, ok := names[strings.ToLower(n)]
		if !ok {
			return nil, fmt.Errorf("%w: --curves: unknown key exchange %q (x25519, p256, p384, p521, x25519mlkem768)", errUsage, n)
		}
		out = append(out, id)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: --curves: empty", errUsage)
	}
	return out, nil
}

// validHostPort reports whether s is host:port with a host (a bare "8883" is a common slip).
func validHostPort(s string) bool {
	host, port, err := net.SplitHostPort(s)
	return err == nil && host != "" && port != ""
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
