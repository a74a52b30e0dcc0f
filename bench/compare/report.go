package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Report is the comparison's outcome: every measurement, the medians over rounds, the ratios
// (each round's ratio, then their median) and the targets of issue 7 checked against them.
type Report struct {
	StartedAt    time.Time     `json:"started_at"`
	Seconds      float64       `json:"elapsed_s"`
	Command      string        `json:"command"`
	Machine      Machine       `json:"machine"`
	Settings     Settings      `json:"settings"`
	Measurements []Measurement `json:"measurements"`
	Medians      []Median      `json:"medians"`
	Ratios       []Ratio       `json:"ratios"`
	Targets      []Target      `json:"targets"`
}

// Settings are the run's sizes, for the report's headings.
type Settings struct {
	Rounds             int      `json:"rounds"`
	Brokers            []string `json:"brokers"`
	ConnectN           int      `json:"connect_n"`
	ConnectConcurrency int      `json:"connect_concurrency"`
	IdleN              int      `json:"idle_n"`
	IdleHoldSeconds    float64  `json:"idle_hold_s"`
	PubSubSeconds      float64  `json:"pubsub_s"`
	Fan                int      `json:"fan"`
	Payload            int      `json:"payload_bytes"`
	Inflight           int      `json:"inflight"`
	Pinned             bool     `json:"pinned"`
	MosquittoNoDelay   bool     `json:"mosquitto_nodelay"`
	MosquittoQueue     int      `json:"mosquitto_max_queued_messages,omitempty"`
	EmulatorQueue      int      `json:"emulator_write_queue,omitempty"`
	ShadowN            int      `json:"shadow_n,omitempty"`
	ShadowSeconds      float64  `json:"shadow_s,omitempty"`
	ShadowLoneSeconds  float64  `json:"shadow_lone_s,omitempty"`
}

// Machine describes where the run happened.
type Machine struct {
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpu_model"`
	MemoryGiB string `json:"memory"`
	Kernel    string `json:"kernel"`
	GoVersion string `json:"go_version"`
	Mosquitto string `json:"mosquitto_version"`
	OpenFiles string `json:"open_file_limit"`
}

// Median is one scenario's median figure for one broker over the rounds without error.
type Median struct {
	Scenario   string  `json:"scenario"`
	Broker     string  `json:"broker"`
	Value      float64 `json:"value"`
	Unit       string  `json:"unit"`
	CPUPerUnit float64 `json:"server_cpu_per_unit,omitempty"`
	CPUUnit    string  `json:"server_cpu_unit,omitempty"`
	Rounds     int     `json:"rounds"`
	Errors     int     `json:"errors"`
	// Lost is the median of the messages lost per run (pubsub scenarios).
	Lost float64 `json:"lost,omitempty"`
}

// Ratio is a/b for one scenario: per round, and their median, min and max.
type Ratio struct {
	Scenario string    `json:"scenario"`
	Name     string    `json:"name"` // e.g. "emulator/mosquitto"
	PerRound []float64 `json:"per_round"`
	Median   float64   `json:"median"`
	Min      float64   `json:"min"`
	Max      float64   `json:"max"`
}

// Target is one of the targets (issues 7 and 18) and whether the median met it.
type Target struct {
	Name     string  `json:"name"`
	Measured string  `json:"measured"`
	Value    float64 `json:"value"`
	Bound    float64 `json:"bound"`
	AtLeast  bool    `json:"at_least"` // Value ≥ Bound, else Value ≤ Bound
	Met      bool    `json:"met"`
	Known    bool    `json:"known"` // false when a figure is missing
}

// report builds the Report from the measurements.
func (c *comparison) report(started time.Time) *Report {
	r := &Report{
		StartedAt: started.UTC().Truncate(time.Second), Seconds: time.Since(started).Seconds(),
		Command: "go run ./bench/compare " + strings.Join(os.Args[1:], " "), Machine: describeMachine(),
		Settings: Settings{Rounds: c.o.rounds, Brokers: c.o.brokers, ConnectN: c.o.connectN, ConnectConcurrency: c.o.connectConcurrency,
			IdleN: c.o.idleN, IdleHoldSeconds: c.o.idleHold.Seconds(), PubSubSeconds: c.o.pubDuration.Seconds(), Fan: c.o.fanPeers,
			Payload: c.o.payload, Inflight: c.o.inflight, Pinned: c.o.pin, MosquittoNoDelay: c.o.mosquittoNoDelay, MosquittoQueue: c.o.mosquittoQueue, EmulatorQueue: c.o.emulatorQueue},
		Measurements: c.meas,
	}
	if c.o.scenarios["shadow"] {
		r.Settings.ShadowN, r.Settings.ShadowSeconds, r.Settings.ShadowLoneSeconds = c.o.shadowN, c.o.shadowDuration.Seconds(), c.o.shadowLoneDuration.Seconds()
	}
	if os.Getenv(pinnedEnv) != "" {
		r.Command = strings.Replace(r.Command, "go run ./bench/compare", "go run ./bench/compare (pinned)", 1)
	}
	r.Medians = medians(c.meas)
	r.Ratios = ratios(c.meas, c.o.rounds)
	r.Targets = targets(r)
	return r
}

// scenarioOrder lists scenarios as tables show them.
var scenarioOrder = []string{scConnect, scQoS0One, scQoS0Pairs, scQoS1One, scQoS1Pairs, scQoS0FanIn, scQoS0FanOut, scQoS1FanIn, scQoS1FanOut, scQoS0Latency, scQoS1Latency, scIdle}

// higherIsBetter says how a scenario's value reads.
func higherIsBetter(scenario string) bool {
	return scenario != scQoS0Latency && scenario != scQoS1Latency && scenario != scIdle
}

// medians computes each scenario's and broker's median over the rounds without error.
func medians(ms []Measurement) []Median {
	type key struct{ sc, b string }
	vals := map[key][]float64{}
	cpus := map[key][]float64{}
	lost := map[key][]float64{}
	errs := map[key]int{}
	units := map[key][2]string{}
	var keys []key
	for _, m := range ms {
		k := key{m.Scenario, m.Broker}
		if _, seen := units[k]; !seen {
			keys = append(keys, k)
			units[k] = [2]string{}
		}
		if m.Error != "" {
			errs[k]++
			continue
		}
		vals[k] = append(vals[k], m.Value)
		if m.CPUUnit != "" {
			cpus[k] = append(cpus[k], m.CPUPerUnit)
		}
		if m.PubSub != nil {
			lost[k] = append(lost[k], float64(m.PubSub.Lost))
		}
		units[k] = [2]string{m.Unit, m.CPUUnit}
	}
	var out []Median
	for _, k := range keys {
		out = append(out, Median{Scenario: k.sc, Broker: k.b, Value: median(vals[k]), Unit: units[k][0],
			CPUPerUnit: median(cpus[k]), CPUUnit: units[k][1], Rounds: len(vals[k]), Errors: errs[k], Lost: median(lost[k])})
	}
	return out
}

// ratios computes, for every scenario, emulator/mosquitto and emulator/mochi per round, and for
// connect also emulator-443/emulator, then their medians.
func ratios(ms []Measurement, rounds int) []Ratio {
	value := func(r int, sc, b string) (float64, bool) {
		for _, m := range ms {
			if m.Round == r && m.Scenario == sc && m.Broker == b && m.Error == "" && m.Value > 0 {
				return m.Value, true
			}
		}
		return 0, false
	}
	pairs := [][2]string{{brokerEmulator, brokerMosquitto}, {brokerEmulator, brokerMochi}}
	var out []Ratio
	for _, sc := range scenarioOrder {
		ps := pairs
		if sc == scConnect {
			ps = append(ps, [2]string{variantEmulator443, brokerEmulator},
				[2]string{brokerEmulator, brokerCeiling}, [2]string{variantEmulator443, variantCeiling443})
		}
		for _, p := range ps {
			ra := Ratio{Scenario: sc, Name: p[0] + "/" + p[1]}
			for r := 1; r <= rounds; r++ {
				a, ok1 := value(r, sc, p[0])
				b, ok2 := value(r, sc, p[1])
				if ok1 && ok2 {
					ra.PerRound = append(ra.PerRound, a/b)
				}
			}
			if len(ra.PerRound) == 0 {
				continue
			}
			ra.Median, ra.Min, ra.Max = median(ra.PerRound), slices.Min(ra.PerRound), slices.Max(ra.PerRound)
			out = append(out, ra)
		}
	}
	return out
}

// targets checks issue 7's targets against the medians.
func targets(r *Report) []Target {
	ratio := func(sc, name string) (float64, bool) {
		for _, ra := range r.Ratios {
			if ra.Scenario == sc && ra.Name == name {
				return ra.Median, true
			}
		}
		return 0, false
	}
	var out []Target
	add := func(name, measured string, v float64, ok bool, bound float64, atLeast bool) {
		t := Target{Name: name, Measured: measured, Value: v, Bound: bound, AtLeast: atLeast, Known: ok}
		if ok {
			t.Met = v >= bound
			if !atLeast {
				t.Met = v <= bound
			}
		}
		out = append(out, t)
	}
	v, ok := ratio(scConnect, "emulator/mosquitto")
	add("mTLS connects/s ≥ 1.2 × Mosquitto", "emulator/mosquitto connects/s", v, ok, 1.2, true)
	v, ok = ratio(scConnect, "emulator-443/emulator")
	add("ALPN dispatch on 443 costs ≤ 5 % against 8883", "443/8883 connects/s", v, ok, 0.95, true)
	v, ok = ratio(scConnect, "emulator/ceiling")
	add("mTLS connects/s on 8883 ≥ 0.90 × the Go TLS handshake ceiling (issue 18)", "emulator/ceiling connects/s", v, ok, 0.9, true)
	v, ok = ratio(scConnect, "emulator-443/ceiling-443")
	add("mTLS connects/s on 443 with ALPN ≥ 0.90 × the ceiling (issue 18)", "emulator-443/ceiling-443 connects/s", v, ok, 0.9, true)
	for _, q := range []struct{ label, in, out string }{{"QoS 1", scQoS1FanIn, scQoS1FanOut}, {"QoS 0", scQoS0FanIn, scQoS0FanOut}} {
		for _, sh := range []struct{ label, sc string }{{"fan-in", q.in}, {"fan-out", q.out}} {
			v, ok = ratio(sh.sc, "emulator/mosquitto")
			add(fmt.Sprintf("%s %s delivered msg/s ≥ 1.0 × Mosquitto", q.label, sh.label), "emulator/mosquitto msg/s", v, ok, 1.0, true)
			v, ok = ratio(sh.sc, "emulator/mochi")
			add(fmt.Sprintf("%s %s delivered msg/s ≥ 0.9 × stock Mochi", q.label, sh.label), "emulator/mochi msg/s", v, ok, 0.9, true)
		}
	}
	// Performance II: every shape of "bench pubsub" at ≥ 0.95 × stock Mochi.
	for _, sh := range []struct{ label, sc string }{
		{"QoS 1 1→1", scQoS1One}, {"QoS 1 4→4 pairs", scQoS1Pairs}, {"QoS 1 fan-in", scQoS1FanIn}, {"QoS 1 fan-out", scQoS1FanOut},
		{"QoS 0 1→1", scQoS0One}, {"QoS 0 4→4 pairs", scQoS0Pairs}, {"QoS 0 fan-in", scQoS0FanIn}, {"QoS 0 fan-out", scQoS0FanOut},
	} {
		v, ok = ratio(sh.sc, "emulator/mochi")
		add(fmt.Sprintf("%s delivered msg/s ≥ 0.95 × stock Mochi", sh.label), "emulator/mochi msg/s", v, ok, 0.95, true)
	}
	for _, q := range []struct{ label, sc string }{{"QoS 1", scQoS1Latency}, {"QoS 0", scQoS0Latency}} {
		v, ok = ratio(q.sc, "emulator/mosquitto")
		add(fmt.Sprintf("%s p99 publish→deliver at 50 %% of peak ≤ Mosquitto's", q.label), "emulator/mosquitto p99", v, ok, 1.0, false)
	}
	idle, ok := 0.0, false
	for _, m := range r.Medians {
		if m.Scenario == scIdle && m.Broker == brokerEmulator && m.Rounds > 0 {
			idle, ok = m.Value, true
		}
	}
	add(fmt.Sprintf("memory per idle mTLS connection ≤ 40 KiB at %d connections", r.Settings.IdleN), "emulator KiB/connection (VmRSS)", idle, ok, 40, false)
	return append(out, shadowTargets(r)...)
}

// median of xs; 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// scenarioTitle describes a scenario for the table, with the run's sizes.
func scenarioTitle(sc string, st Settings, rate float64) string {
	switch sc {
	case scConnect:
		return fmt.Sprintf("mTLS connects/s (%d devices, %d in flight, closed after CONNACK)", st.ConnectN, st.ConnectConcurrency)
	case scQoS0One:
		return "QoS 0 1→1, delivered msg/s"
	case scQoS1One:
		return "QoS 1 1→1, delivered msg/s"
	case scQoS0Pairs:
		return "QoS 0 4→4 pairs, delivered msg/s"
	case scQoS1Pairs:
		return "QoS 1 4→4 pairs, delivered msg/s"
	case scQoS0FanIn:
		return fmt.Sprintf("QoS 0 fan-in %d→1, delivered msg/s", st.Fan)
	case scQoS0FanOut:
		return fmt.Sprintf("QoS 0 fan-out 1→%d, delivered msg/s", st.Fan)
	case scQoS1FanIn:
		return fmt.Sprintf("QoS 1 fan-in %d→1, delivered msg/s", st.Fan)
	case scQoS1FanOut:
		return fmt.Sprintf("QoS 1 fan-out 1→%d, delivered msg/s", st.Fan)
	case scQoS0Latency:
		return fmt.Sprintf("QoS 0 fan-in p99 publish→deliver ms at %.0f msg/s (½ lowest peak)", rate)
	case scQoS1Latency:
		return fmt.Sprintf("QoS 1 fan-in p99 publish→deliver ms at %.0f msg/s (½ lowest peak)", rate)
	case scIdle:
		return fmt.Sprintf("memory per idle mTLS connection, KiB (VmRSS, %d connections, %.0f s hold)", st.IdleN, st.IdleHoldSeconds)
	}
	return sc
}

// writeMarkdown writes the tables ready to paste into BENCHMARKS.md.
func (r *Report) writeMarkdown(w io.Writer) {
	st := r.Settings
	fmt.Fprintf(w, "### Side by side, %s\n\n", r.StartedAt.Format("2006-01-02"))
	fmt.Fprintf(w, "`%s` — %d round(s), brokers alternating (order rotated each round), %.0f s; medians of the rounds.\n", r.Command, st.Rounds, r.Seconds)
	fmt.Fprintf(w, "Machine: %d × %s, %s, Linux %s, %s, %s, open files %s", r.Machine.CPUs, r.Machine.CPUModel, r.Machine.MemoryGiB,
		r.Machine.Kernel, r.Machine.GoVersion, r.Machine.Mosquitto, r.Machine.OpenFiles)
	if st.Pinned {
		fmt.Fprint(w, "; brokers pinned to CPU 0, load generator to CPU 1")
	} else {
		fmt.Fprint(w, "; brokers and load generator share both CPUs")
	}
	mosq := "Mosquitto: set_tcp_nodelay " + strconv.FormatBool(st.MosquittoNoDelay)
	if st.MosquittoQueue > 0 {
		mosq += fmt.Sprintf(", max_queued_messages %d", st.MosquittoQueue)
	} else {
		mosq += ", max_queued_messages 1000 (default)"
	}
	if st.EmulatorQueue > 0 {
		mosq += fmt.Sprintf("; iotcore-local: --write-queue %d", st.EmulatorQueue)
	}
	fmt.Fprintf(w, ". Payload %d B, QoS 1 in-flight window %d per publisher, %.0f s publishing per run; %s.\n\n", st.Payload, st.Inflight, st.PubSubSeconds, mosq)

	med := func(sc, b string) (Median, bool) {
		for _, m := range r.Medians {
			if m.Scenario == sc && m.Broker == b {
				return m, m.Rounds > 0
			}
		}
		return Median{}, false
	}
	ratio := func(sc, name string) string {
		for _, ra := range r.Ratios {
			if ra.Scenario == sc && ra.Name == name {
				if len(ra.PerRound) == 1 {
					return fmt.Sprintf("%.2f", ra.Median)
				}
				return fmt.Sprintf("%.2f (%.2f–%.2f)", ra.Median, ra.Min, ra.Max)
			}
		}
		return "–"
	}
	rateOf := func(sc string) float64 {
		var rs []float64
		for _, m := range r.Measurements {
			if m.Scenario == sc && m.Rate > 0 && m.Broker == brokerEmulator {
				rs = append(rs, m.Rate)
			}
		}
		return median(rs)
	}
	cell := func(sc, b string) string {
		m, ok := med(sc, b)
		if !ok {
			if m.Errors > 0 {
				return "error"
			}
			return "–"
		}
		s := formatValue(m.Value)
		if m.Lost > 0 {
			s += fmt.Sprintf(" (lost %.0f)", m.Lost)
		}
		if m.Errors > 0 {
			s += fmt.Sprintf(" [%d err]", m.Errors)
		}
		return s
	}
	mainTable := false // a run of the shadow group alone has none of these rows
	for _, sc := range scenarioOrder {
		if _, ok := med(sc, brokerEmulator); !ok {
			if _, ok2 := med(sc, brokerMosquitto); !ok2 {
				continue
			}
		}
		if !mainTable {
			fmt.Fprintln(w, "| scenario | iotcore-local | stock Mochi | Mosquitto | iotcore-local / Mosquitto | iotcore-local / Mochi |")
			fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|")
			mainTable = true
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", scenarioTitle(sc, st, rateOf(sc)), cell(sc, brokerEmulator), cell(sc, brokerMochi),
			cell(sc, brokerMosquitto), ratio(sc, "emulator/mosquitto"), ratio(sc, "emulator/mochi"))
		if sc == scConnect {
			fmt.Fprintf(w, "| … on the ALPN port (443) with x-amzn-mqtt-ca | %s | | | 443 / 8883: %s | |\n",
				cell(scConnect, variantEmulator443), ratio(scConnect, "emulator-443/emulator"))
		}
	}
	if mainTable {
		fmt.Fprintln(w)
	}
	r.writeCeiling(w, med, ratio)

	header := false
	for _, sc := range scenarioOrder {
		m, ok := med(sc, brokerEmulator)
		if !ok || m.CPUUnit == "" || sc == scIdle {
			continue
		}
		cpu := func(b string) string {
			if x, ok := med(sc, b); ok && x.CPUUnit != "" {
				return formatValue(x.CPUPerUnit)
			}
			return "–"
		}
		if !header {
			fmt.Fprintln(w, "Server CPU (user+system time of the broker process over the run, median):")
			fmt.Fprintln(w)
			fmt.Fprintln(w, "| scenario | unit | iotcore-local | stock Mochi | Mosquitto |")
			fmt.Fprintln(w, "|---|---|---:|---:|---:|")
			header = true
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", sc, m.CPUUnit, cpu(brokerEmulator), cpu(brokerMochi), cpu(brokerMosquitto))
	}
	if header {
		fmt.Fprintln(w)
	}

	r.writeMemory(w)
	r.writeShadow(w)

	fmt.Fprintln(w, "| target (issue 7) | measured | median | met |")
	fmt.Fprintln(w, "|---|---|---:|---|")
	unmeasured := 0
	for _, t := range r.Targets {
		if !t.Known {
			unmeasured++
			continue
		}
		met := "**no**"
		switch {
		case !t.Known:
			met = "not measured"
		case t.Met:
			met = "yes"
		}
		val := "–"
		switch {
		case t.Known && t.Value >= 100:
			val = formatValue(t.Value)
		case t.Known:
			val = fmt.Sprintf("%.2f", t.Value)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", t.Name, t.Measured, val, met)
	}
	if unmeasured > 0 {
		fmt.Fprintf(w, "\n%d target(s) not measured in this run (their scenarios or brokers were left out).\n", unmeasured)
	}
	fmt.Fprintln(w)
}

// formatValue prints a figure with sensible precision.
func formatValue(v float64) string {
	switch a := math.Abs(v); {
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// writeJSON writes the report.
func (r *Report) writeJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// describeMachine reads the CPU model, memory and versions.
func describeMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				var kb float64
				fmt.Sscanf(strings.TrimSpace(rest), "%f", &kb)
				m.MemoryGiB = fmt.Sprintf("%.1f GiB", kb/(1<<20))
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if bin, err := lookPath("mosquitto"); err == nil {
		out, _ := exec.Command(bin, "-h").CombinedOutput()
		if line, _, _ := strings.Cut(string(out), "\n"); strings.HasPrefix(line, "mosquitto version") {
			m.Mosquitto = strings.TrimSpace(line)
		}
	}
	if b, err := os.ReadFile("/proc/self/limits"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "Max open files") {
				f := strings.Fields(line)
				if len(f) >= 5 {
					m.OpenFiles = f[3] + " soft / " + f[4] + " hard"
				}
			}
		}
	}
	// The CPU count Go sees can be 1 under --pin; the machine's is what tables describe.
	if b, err := os.ReadFile("/sys/devices/system/cpu/online"); err == nil {
		var lo, hi int
		if n, _ := fmt.Sscanf(strings.TrimSpace(string(b)), "%d-%d", &lo, &hi); n == 2 {
			m.CPUs = hi - lo + 1
		}
	}
	return m
}

// writeMemory writes the idle scenario's memory per connection, split the way the kernel and
// the Go runtime account for it (medians over the rounds of (after hold − before) / held).
func (r *Report) writeMemory(w io.Writer) {
	type row struct{ vmrss, anon, stack, heapInuse, heapAlloc, nextGC, gcStack, gcHeap []float64 }
	rows := map[string]*row{}
	for _, m := range r.Measurements {
		if m.Scenario != scIdle || m.Error != "" || m.Idle == nil || m.Idle.Held == 0 || m.MemoryBefore == nil || m.MemoryAfter == nil {
			continue
		}
		rw := rows[m.Broker]
		if rw == nil {
			rw = &row{}
			rows[m.Broker] = rw
		}
		per := func(a, b uint64) float64 { return (float64(a) - float64(b)) / float64(m.Idle.Held) / 1024 }
		a, b := m.MemoryAfter, m.MemoryBefore
		rw.vmrss = append(rw.vmrss, per(a.VmRSS, b.VmRSS))
		rw.anon = append(rw.anon, per(a.RssAnon, b.RssAnon))
		if a.NumGC > 0 || a.HeapInuse > 0 {
			rw.stack = append(rw.stack, per(a.StackInuse, b.StackInuse))
			rw.heapInuse = append(rw.heapInuse, per(a.HeapInuse, b.HeapInuse))
			rw.heapAlloc = append(rw.heapAlloc, per(a.HeapAlloc, b.HeapAlloc))
			rw.nextGC = append(rw.nextGC, per(a.NextGC, b.NextGC))
		}
		if g := m.MemoryAfterGC; g != nil && g.NumGC > 0 {
			rw.gcStack = append(rw.gcStack, per(g.StackInuse, b.StackInuse))
			rw.gcHeap = append(rw.gcHeap, per(g.HeapAlloc, b.HeapAlloc))
		}
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(w, "Memory per idle connection after a %.0f s hold, KiB (medians; Go runtime figures from runtime.MemStats):\n\n", r.Settings.IdleHoldSeconds)
	fmt.Fprintln(w, "| broker | VmRSS | RssAnon | goroutine stacks | heap in use | heap allocated | GC goal (NextGC) | after 2 forced GCs: stacks | live heap |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, b := range []string{brokerEmulator, brokerMochi, brokerMosquitto} {
		rw := rows[b]
		if rw == nil {
			continue
		}
		cell := func(xs []float64) string {
			if len(xs) == 0 {
				return "–"
			}
			return fmt.Sprintf("%.1f", median(xs))
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", brokerTitle[b], cell(rw.vmrss), cell(rw.anon), cell(rw.stack),
			cell(rw.heapInuse), cell(rw.heapAlloc), cell(rw.nextGC), cell(rw.gcStack), cell(rw.gcHeap))
	}
	fmt.Fprintln(w)
}
