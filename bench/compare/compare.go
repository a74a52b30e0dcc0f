package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/iotcore-local/iotcore-local/bench"
)

// options are the comparison's flags.
type options struct {
	rounds             int
	brokers            []string
	scenarios          map[string]bool // connect, pubsub, latency, shadow, idle
	connectN           int
	connectConcurrency int
	idleN              int
	idleHold           time.Duration
	pubDuration        time.Duration
	shadowN            int
	shadowDuration     time.Duration
	shadowLoneDuration time.Duration
	fanPeers           int
	payload            int
	inflight           int
	jsonPath, mdPath   string
	pin                bool
	timeout            time.Duration
	mosquittoBin       string
	mosquittoNoDelay   bool
	mosquittoQueue     int
	emulatorQueue      int
	state              string
	keep               bool
	quick              bool
}

// Scenario keys, in the order a round runs them.
const (
	scConnect    = "connect"
	scQoS0FanIn  = "qos0-fanin"
	scQoS0FanOut = "qos0-fanout"
	scQoS1FanIn  = "qos1-fanin"
	scQoS1FanOut = "qos1-fanout"
	// The two shapes of "bench pubsub" besides fan-in and fan-out (Performance II).
	scQoS0One     = "qos0-1to1"
	scQoS0Pairs   = "qos0-pairs"
	scQoS1One     = "qos1-1to1"
	scQoS1Pairs   = "qos1-pairs"
	scQoS0Latency = "qos0-latency"
	scQoS1Latency = "qos1-latency"
	scIdle        = "idle"
	// The shadow group (Performance II, emulator only): devices updating their classic shadow in
	// a closed loop, and one device alone.
	scShadowFleet = "shadow-fleet"
	scShadowLone  = "shadow-lone"
)

// variantEmulator443 is the emulator measured on its ALPN port with x-amzn-mqtt-ca.
const variantEmulator443 = "emulator-443"

func parseOptions(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	brokers := fs.String("brokers", "emulator,mochi,mosquitto,ceiling", "brokers to measure, comma-separated: emulator, mochi, mosquitto, ceiling (the TLS handshake ceiling: connect scenario only)")
	scenarios := fs.String("scenarios", "connect,pubsub,latency,shadow,idle", "scenario groups to run, comma-separated: connect (8883, and 443 for the emulator), pubsub (QoS 0/1 fan-in/fan-out peaks), latency (needs pubsub), shadow (emulator only: Device Shadow round trips), idle")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds; every scenario runs once per broker per round and the report gives the median")
	fs.IntVar(&o.connectN, "connect-n", 1000, "connect scenario: connections per run (each closed after its CONNACK)")
	fs.IntVar(&o.connectConcurrency, "connect-concurrency", 20, "connect scenario: attempts in flight")
	fs.IntVar(&o.idleN, "idle-n", 10000, "idle scenario: connections held (the file limit allows about 19 900)")
	fs.DurationVar(&o.idleHold, "idle-hold", 10*time.Second, "idle scenario: how long the connections are held before memory is read")
	fs.DurationVar(&o.pubDuration, "pubsub-duration", 5*time.Second, "pubsub scenarios: publishing time per run")
	fs.IntVar(&o.shadowN, "shadow-n", 10, "shadow scenario: devices updating their classic shadow in a closed loop")
	fs.DurationVar(&o.shadowDuration, "shadow-duration", 15*time.Second, "shadow scenario: update time of the --shadow-n devices' run")
	fs.DurationVar(&o.shadowLoneDuration, "shadow-lone-duration", 8*time.Second, "shadow scenario: update time of the lone device's run")
	fs.IntVar(&o.fanPeers, "fan", 20, "pubsub scenarios: publishers of fan-in (→ 1 subscriber) and subscribers of fan-out (1 publisher →)")
	fs.IntVar(&o.payload, "payload", 64, "pubsub scenarios: payload bytes")
	fs.IntVar(&o.inflight, "inflight", bench.DefaultInflight, "QoS 1: unacknowledged messages per publisher")
	fs.StringVar(&o.jsonPath, "json", "compare.json", "write every measurement, the medians, ratios and targets as JSON here (\"\" for none)")
	fs.StringVar(&o.mdPath, "markdown", "", "also write the markdown tables to this file (they always go to stdout)")
	fs.BoolVar(&o.pin, "pin", false, "run the brokers on CPU 0 and the load generator on CPU 1 (taskset)")
	fs.DurationVar(&o.timeout, "timeout", 45*time.Minute, "bound on the whole run")
	fs.StringVar(&o.mosquittoBin, "mosquitto", "", "mosquitto binary (default: from PATH or /usr/sbin)")
	fs.BoolVar(&o.mosquittoNoDelay, "mosquitto-nodelay", true, "give Mosquitto set_tcp_nodelay true, as the Go brokers always set TCP_NODELAY (false: Mosquitto's default, whose Nagle delays cost it about 40 ms per CONNACK)")
	fs.IntVar(&o.emulatorQueue, "emulator-write-queue", 0, "give the emulator --write-queue N (0: its default)")
	fs.IntVar(&o.mosquittoQueue, "mosquitto-queue", 0, "give Mosquitto max_queued_messages N (0: its default, 1000, beyond which it drops QoS 1 messages to a slow subscriber; Mochi's queue is 8192)")
	fs.StringVar(&o.state, "state", "", "work folder to keep between runs (emulator state and device credentials are reused); default a temporary folder")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary work folder (logs, configuration)")
	fs.BoolVar(&o.quick, "quick", false, "a small run for a smoke test: 1 round, 200 connects, 1000 idle, 2 s pubsub, 3 s + 2 s shadow")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.quick {
		quick := map[string]func(){
			"rounds": func() { o.rounds = 1 }, "connect-n": func() { o.connectN = 200 },
			"idle-n": func() { o.idleN = 1000 }, "idle-hold": func() { o.idleHold = 3 * time.Second },
			"pubsub-duration": func() { o.pubDuration = 2 * time.Second }, "fan": func() { o.fanPeers = 5 },
			"shadow-duration": func() { o.shadowDuration = 3 * time.Second }, "shadow-lone-duration": func() { o.shadowLoneDuration = 2 * time.Second },
		}
		for name, apply := range quick {
			if !set[name] {
				apply()
			}
		}
	}
	for _, b := range strings.Split(*brokers, ",") {
		b = strings.TrimSpace(b)
		switch b {
		case brokerEmulator, brokerMochi, brokerMosquitto, brokerCeiling:
			if !slices.Contains(o.brokers, b) {
				o.brokers = append(o.brokers, b)
			}
		case "":
		default:
			return o, fmt.Errorf("--brokers: unknown broker %q (emulator, mochi, mosquitto, ceiling)", b)
		}
	}
	o.scenarios = map[string]bool{}
	for _, sc := range strings.Split(*scenarios, ",") {
		switch sc = strings.TrimSpace(sc); sc {
		case "connect", "pubsub", "latency", "shadow", "idle":
			o.scenarios[sc] = true
		case "":
		default:
			return o, fmt.Errorf("--scenarios: unknown scenario group %q (connect, pubsub, latency, shadow, idle)", sc)
		}
	}
	switch {
	case o.scenarios["latency"] && !o.scenarios["pubsub"]:
		return o, fmt.Errorf("--scenarios: latency runs at half of the peaks that pubsub measures; add pubsub")
	case len(o.brokers) == 0:
		return o, fmt.Errorf("--brokers: none given")
	case o.scenarios["shadow"] && !slices.Contains(o.brokers, brokerEmulator):
		return o, fmt.Errorf("--scenarios: shadow measures the emulator's shadow service (the other brokers have none); add emulator to --brokers")
	case o.shadowN <= 0:
		return o, fmt.Errorf("--shadow-n must be positive")
	case o.rounds <= 0 || o.connectN <= 0 || o.connectConcurrency <= 0 || o.idleN <= 0 || o.fanPeers <= 0:
		return o, fmt.Errorf("--rounds, --connect-n, --connect-concurrency, --idle-n and --fan must be positive")
	case o.idleN > 19900:
		return o, fmt.Errorf("--idle-n %d: the open-file limit (20 000 per process) allows at most 19 900", o.idleN)
	case o.payload < bench.PayloadHeaderSize || o.payload > bench.MaxPayloadSize:
		return o, fmt.Errorf("--payload must be %d to %d bytes", bench.PayloadHeaderSize, bench.MaxPayloadSize)
	case o.pubDuration <= 0 || o.idleHold <= 0 || o.timeout <= 0 || o.shadowDuration <= 0 || o.shadowLoneDuration <= 0:
		return o, fmt.Errorf("durations must be positive")
	}
	return o, nil
}

// runCompare is the comparison: set up, rounds, report.
func runCompare(args []string) error {
	o, err := parseOptions(args)
	if err != nil {
		return err
	}
	pin := ""
	if o.pin {
		if err := pinSelf("1"); err != nil {
			return err
		}
		pin = "0"
	}
	ctx, cancel := runContext(o.timeout)
	defer cancel()
	log := os.Stderr
	l, err := newLab(o.state, pin, log)
	if err != nil {
		return err
	}
	defer l.close(o.keep || o.state != "")
	l.mosqBin, l.mosquittoNoDelay, l.mosquittoQueue = o.mosquittoBin, o.mosquittoNoDelay, o.mosquittoQueue
	l.emulatorQueue = o.emulatorQueue

	started := time.Now()
	// The emulator always runs: it provisions the fleet and issues the server certificate that
	// every broker presents.
	emu, err := l.startEmulator(ctx)
	if err != nil {
		return err
	}
	need := o.fanPeers + 1
	if o.scenarios["connect"] {
		need = max(need, o.connectN)
	}
	if o.scenarios["idle"] {
		need = max(need, o.idleN)
	}
	if o.scenarios["shadow"] {
		need = max(need, o.shadowN)
	}
	if err := l.provision(ctx, emu, need); err != nil {
		return err
	}
	// The other brokers serve the connect, pubsub and idle scenarios (the ceiling connect only);
	// a run of the shadow group alone does not start them.
	others := o.scenarios["connect"] || o.scenarios["pubsub"] || o.scenarios["idle"]
	for _, b := range o.brokers {
		switch {
		case b == brokerCeiling && !o.scenarios["connect"], b != brokerEmulator && !others:
			continue
		}
		switch b {
		case brokerMochi:
			_, err = l.startMochi(ctx)
		case brokerMosquitto:
			_, err = l.startMosquitto(ctx)
		case brokerCeiling:
			_, err = l.startCeiling(ctx)
		}
		if err != nil {
			return err
		}
	}

	c := &comparison{o: o, lab: l, log: log}
	for r := 1; r <= o.rounds && ctx.Err() == nil; r++ {
		c.round(ctx, r)
	}
	if err := ctx.Err(); err != nil {
		fmt.Fprintf(log, "compare: run cut short (%v); reporting what was measured\n", context.Cause(ctx))
	}
	rep := c.report(started)
	var md strings.Builder
	rep.writeMarkdown(&md)
	fmt.Print(md.String())
	if o.mdPath != "" {
		if err := os.WriteFile(o.mdPath, []byte(md.String()), 0o644); err != nil {
			return err
		}
	}
	if o.jsonPath != "" {
		if err := rep.writeJSON(o.jsonPath); err != nil {
			return err
		}
		fmt.Fprintf(log, "compare: JSON written to %s\n", o.jsonPath)
	}
	// A shadow run that lost, refused or misnumbered an update is a defect, not a slow figure:
	// the run fails after its report.
	return shadowFailures(c.meas)
}

// comparison holds a run's measurements.
type comparison struct {
	o    options
	lab  *lab
	log  io.Writer
	meas []Measurement
}

// Measurement is one scenario run against one broker in one round.
type Measurement struct {
	Round    int    `json:"round"`
	Scenario string `json:"scenario"`
	// Broker is emulator, emulator-443 (the emulator's ALPN port with x-amzn-mqtt-ca), mochi
	// or mosquitto.
	Broker string `json:"broker"`
	// Value is the scenario's figure in Unit: connections/s, delivered messages/s, p99
	// publish→deliver ms, KiB per idle connection, or shadow round trips/s.
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	// ServerCPUSeconds is the broker process's user+system CPU time during the run, and
	// CPUPerUnit that time per connection or per delivered message (ms or µs, CPUUnit).
	ServerCPUSeconds float64 `json:"server_cpu_s"`
	CPUPerUnit       float64 `json:"server_cpu_per_unit,omitempty"`
	CPUUnit          string  `json:"server_cpu_unit,omitempty"`
	// Rate is the offered load of a latency run: messages/s over all publishers.
	Rate    float64              `json:"offered_rate,omitempty"`
	Error   string               `json:"error,omitempty"`
	Connect *bench.ConnectResult `json:"connect,omitempty"`
	PubSub  *bench.PubSubResult  `json:"pubsub,omitempty"`
	Idle    *bench.IdleResult    `json:"idle,omitempty"`
	Shadow  *bench.ShadowResult  `json:"shadow,omitempty"`
	// Memory is the broker's memory before the idle run's connections (Before) and at the end
	// of the hold (After), with the Go runtime's breakdown.
	MemoryBefore *MemoryBreakdown `json:"memory_before,omitempty"`
	MemoryAfter  *MemoryBreakdown `json:"memory_after,omitempty"`
	// MemoryAfterGC is the Go runtime's accounting at the end of the hold after two forced
	// collections (Go brokers only).
	MemoryAfterGC *MemoryBreakdown `json:"memory_after_gc,omitempty"`
}

// order is the brokers' order in round r: rotated each round, so that no broker always runs
// first (right after another broker's heavy run) or last.
func (c *comparison) order(r int) []string {
	b := c.o.brokers
	k := (r - 1) % len(b)
	return append(slices.Clone(b[k:]), b[:k]...)
}

// round runs every scenario once against every broker.
func (c *comparison) round(ctx context.Context, r int) {
	fmt.Fprintf(c.log, "compare: round %d of %d\n", r, c.o.rounds)
	order := c.order(r)

	// connect: 8883-style on every broker, and the emulator's ALPN port right after its 8883
	// run (before it on even rounds).
	for _, b := range order {
		if !c.o.scenarios["connect"] {
			break
		}
		variants := []string{b}
		switch b {
		case brokerEmulator:
			variants = []string{brokerEmulator, variantEmulator443}
			if r%2 == 0 {
				variants = []string{variantEmulator443, brokerEmulator}
			}
		case brokerCeiling:
			variants = []string{brokerCeiling, variantCeiling443}
			if r%2 == 0 {
				variants = []string{variantCeiling443, brokerCeiling}
			}
		}
		for _, v := range variants {
			c.add(ctx, r, scConnect, v, func(s *server, t bench.Target) Measurement { return c.connect(ctx, s, t) })
		}
	}
	for _, sc := range []struct {
		key        string
		qos        byte
		pubs, subs int
		shape      string
	}{
		{scQoS0One, 0, 1, 1, ""},
		{scQoS0Pairs, 0, 4, 4, bench.ShapePairs},
		{scQoS0FanIn, 0, c.o.fanPeers, 1, ""},
		{scQoS0FanOut, 0, 1, c.o.fanPeers, ""},
		{scQoS1One, 1, 1, 1, ""},
		{scQoS1Pairs, 1, 4, 4, bench.ShapePairs},
		{scQoS1FanIn, 1, c.o.fanPeers, 1, ""},
		{scQoS1FanOut, 1, 1, c.o.fanPeers, ""},
	} {
		if !c.o.scenarios["pubsub"] {
			break
		}
		for _, b := range brokersOnly(order) {
			c.add(ctx, r, sc.key, b, func(s *server, t bench.Target) Measurement {
				return c.pubsubShape(ctx, t, sc.qos, sc.pubs, sc.subs, sc.shape, 0)
			})
		}
	}
	// Latency at half of peak: the same offered load for every broker, half of the lowest
	// peak measured in this round's fan-in runs, so that no broker runs above half of its own.
	for _, sc := range []struct {
		key, peak string
		qos       byte
	}{{scQoS0Latency, scQoS0FanIn, 0}, {scQoS1Latency, scQoS1FanIn, 1}} {
		peak := c.lowest(r, sc.peak)
		if peak <= 0 || !c.o.scenarios["latency"] {
			continue
		}
		rate := peak / 2
		for _, b := range brokersOnly(order) {
			c.add(ctx, r, sc.key, b, func(s *server, t bench.Target) Measurement {
				m := c.pubsub(ctx, s, t, sc.qos, c.o.fanPeers, 1, rate/float64(c.o.fanPeers))
				m.Rate = rate
				if m.PubSub != nil {
					m.Value, m.Unit = m.PubSub.Latency.P99Ms, "ms p99"
				}
				return m
			})
		}
	}
	if c.o.scenarios["shadow"] {
		c.shadowRound(ctx, r)
	}
	// idle: a fresh broker process each time, so that its memory before the run is a baseline.
	for _, b := range brokersOnly(order) {
		if ctx.Err() != nil || !c.o.scenarios["idle"] {
			return
		}
		if _, err := c.lab.restart(ctx, b); err != nil {
			c.meas = append(c.meas, Measurement{Round: r, Scenario: scIdle, Broker: b, Error: err.Error()})
			fmt.Fprintf(c.log, "compare: round %d %s %s: %v\n", r, scIdle, b, err)
			continue
		}
		sleep(ctx, time.Second)
		c.add(ctx, r, scIdle, b, func(s *server, t bench.Target) Measurement { return c.idle(ctx, s, t) })
	}
}

// brokersOnly leaves out the TLS ceiling, which serves the connect scenario only.
func brokersOnly(order []string) []string {
	return slices.DeleteFunc(slices.Clone(order), func(b string) bool { return b == brokerCeiling })
}

// lowest is the lowest value of a scenario in round r across brokers (0 when none).
func (c *comparison) lowest(r int, scenario string) float64 {
	low := 0.0
	for _, m := range c.meas {
		if m.Round == r && m.Scenario == scenario && m.Error == "" && m.Value > 0 && (low == 0 || m.Value < low) {
			low = m.Value
		}
	}
	return low
}

// add runs one measurement against a broker variant, timing the broker's CPU, and records it.
func (c *comparison) add(ctx context.Context, r int, scenario, variant string, run func(*server, bench.Target) Measurement) {
	if ctx.Err() != nil {
		return
	}
	name := variant
	switch variant {
	case variantEmulator443:
		name = brokerEmulator
	case variantCeiling443:
		name = brokerCeiling
	}
	s := c.lab.servers[name]
	var m Measurement
	if s == nil || !s.alive() {
		// A broker that died is restarted, and the death recorded.
		err := fmt.Errorf("%s is not running", name)
		if s != nil {
			err = fmt.Errorf("%s exited (%v); its log: %s", name, s.waitErr, tail(s.logPath, 1000))
		}
		m = Measurement{Error: err.Error()}
		if _, rerr := c.lab.restart(ctx, name); rerr != nil {
			m.Error += "; restart: " + rerr.Error()
		}
	} else {
		t := c.lab.target(s, variant == variantEmulator443 || variant == variantCeiling443)
		cpu0, _ := cpuSeconds(s.pid)
		m = run(s, t)
		if cpu1, err := cpuSeconds(s.pid); err == nil {
			m.ServerCPUSeconds = cpu1 - cpu0
		}
		m.cpuPerUnit()
	}
	m.Round, m.Scenario, m.Broker = r, scenario, variant
	c.meas = append(c.meas, m)
	if m.Error != "" {
		fmt.Fprintf(c.log, "compare: round %d %-12s %-13s error: %s\n", r, scenario, variant, m.Error)
	} else {
		fmt.Fprintf(c.log, "compare: round %d %-12s %-13s %10.1f %s%s\n", r, scenario, variant, m.Value, m.Unit, m.note())
	}
}

// note is the progress line's remark on a measurement: losses, failures, CPU.
func (m *Measurement) note() string {
	var parts []string
	if m.Connect != nil && m.Connect.Failed > 0 {
		parts = append(parts, fmt.Sprintf("%d failed", m.Connect.Failed))
	}
	if p := m.PubSub; p != nil {
		parts = append(parts, fmt.Sprintf("p99 %.2f ms", p.Latency.P99Ms))
		if p.Lost > 0 {
			parts = append(parts, fmt.Sprintf("lost %d of %d", p.Lost, p.Expected))
		}
		if m.Rate > 0 {
			parts = append(parts, fmt.Sprintf("at %.0f msg/s", m.Rate))
		}
	}
	if i := m.Idle; i != nil && i.Dropped > 0 {
		parts = append(parts, fmt.Sprintf("%d dropped", i.Dropped))
	}
	if s := m.Shadow; s != nil {
		parts = append(parts, fmt.Sprintf("p50 %.2f ms, p99 %.2f ms, %d of %d accepted", s.Latency.P50Ms, s.Latency.P99Ms, s.Accepted, s.Sent))
	}
	if m.CPUUnit != "" {
		parts = append(parts, fmt.Sprintf("server CPU %.1f %s", m.CPUPerUnit, m.CPUUnit))
	}
	if len(parts) == 0 {
		return ""
	}
	return "  (" + strings.Join(parts, ", ") + ")"
}

// cpuPerUnit derives the broker's CPU per connection or per delivered message.
func (m *Measurement) cpuPerUnit() {
	switch {
	case m.Connect != nil && m.Connect.Succeeded > 0:
		m.CPUPerUnit, m.CPUUnit = m.ServerCPUSeconds*1e3/float64(m.Connect.Succeeded), "ms/connection"
	case m.PubSub != nil && m.PubSub.Received > 0:
		m.CPUPerUnit, m.CPUUnit = m.ServerCPUSeconds*1e6/float64(m.PubSub.Received), "µs/delivery"
	case m.Shadow != nil && m.Shadow.Accepted+m.Shadow.Rejected > 0:
		m.CPUPerUnit, m.CPUUnit = m.ServerCPUSeconds*1e6/float64(m.Shadow.Accepted+m.Shadow.Rejected), "µs/round trip"
	}
}

// connect runs the connect scenario: connections closed right after their CONNACK.
func (c *comparison) connect(ctx context.Context, _ *server, t bench.Target) Measurement {
	res, err := bench.RunConnect(ctx, bench.ConnectConfig{Target: t, Devices: c.o.connectN, Concurrency: c.o.connectConcurrency, Churn: true})
	if err != nil {
		return Measurement{Error: err.Error()}
	}
	m := Measurement{Value: res.ConnectionsPerSecond, Unit: "connections/s", Connect: res}
	if res.Failed > 0 {
		m.Error = fmt.Sprintf("%d of %d connections failed", res.Failed, res.Attempted)
	}
	return m
}

// pubsub runs one pubsub scenario; rate 0 is as fast as possible.
func (c *comparison) pubsub(ctx context.Context, _ *server, t bench.Target, qos byte, pubs, subs int, rate float64) Measurement {
	return c.pubsubShape(ctx, t, qos, pubs, subs, "", rate)
}

// pubsubShape is pubsub with a shape (bench.ShapeAll when "", or bench.ShapePairs).
func (c *comparison) pubsubShape(ctx context.Context, t bench.Target, qos byte, pubs, subs int, shape string, rate float64) Measurement {
	res, err := bench.RunPubSub(ctx, bench.PubSubConfig{Target: t, Publishers: pubs, Subscribers: subs, QoS: qos, Shape: shape,
		PayloadSize: c.o.payload, Rate: rate, Stagger: rate > 0, Duration: c.o.pubDuration, Inflight: c.o.inflight,
		Concurrency: c.o.connectConcurrency})
	if err != nil {
		return Measurement{Error: err.Error()}
	}
	return Measurement{Value: res.DeliveredPerSecond, Unit: "msg/s", PubSub: res}
}

// idle holds the idle connections and reads the broker's resident memory.
func (c *comparison) idle(ctx context.Context, s *server, t bench.Target) Measurement {
	probe := &brokerMemory{pid: s.pid, pprofURL: s.pprofURL}
	res, err := bench.RunIdle(ctx, bench.IdleConfig{Target: t, Devices: c.o.idleN, Concurrency: c.o.connectConcurrency * 2,
		Duration: c.o.idleHold, Memory: probe, Settle: 2 * time.Second, AfterHold: probe.readAfterGC})
	if err != nil {
		return Measurement{Error: err.Error()}
	}
	m := Measurement{Unit: "KiB/connection", Idle: res, MemoryBefore: probe.first, MemoryAfter: &probe.last, MemoryAfterGC: probe.afterGC}
	if res.Memory != nil {
		m.Value = res.Memory.PerConnectionBytes / 1024
	}
	if res.Held < c.o.idleN {
		m.Error = fmt.Sprintf("held %d of %d connections", res.Held, c.o.idleN)
	}
	return m
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
