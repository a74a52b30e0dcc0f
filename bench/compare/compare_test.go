package main

import (
	"bufio"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/iotcore-local/iotcore-local/bench"
)

// The comparison itself needs Mosquitto and minutes of CPU, so it is not a test; these check the
// arithmetic and the report it rests on.

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
	in := []float64{3, 1, 2}
	median(in)
	if in[0] != 3 {
		t.Error("median sorted its argument in place")
	}
}

// sample builds measurements: value per round for each broker of one scenario.
func sample(sc string, values map[string][]float64) []Measurement {
	var ms []Measurement
	for b, vs := range values {
		for i, v := range vs {
			ms = append(ms, Measurement{Round: i + 1, Scenario: sc, Broker: b, Value: v})
		}
	}
	return ms
}

func TestRatiosArePerRoundThenMedian(t *testing.T) {
	ms := sample(scConnect, map[string][]float64{
		brokerEmulator:     {100, 200, 300},
		brokerMosquitto:    {50, 400, 100},
		brokerMochi:        {100, 100, 100},
		variantEmulator443: {99, 198, 297},
	})
	// An errored run drops out of its round's ratio only.
	ms = append(ms, Measurement{Round: 4, Scenario: scConnect, Broker: brokerEmulator, Value: 1, Error: "boom"},
		Measurement{Round: 4, Scenario: scConnect, Broker: brokerMosquitto, Value: 1})
	rs := ratios(ms, 4)
	got := map[string]Ratio{}
	for _, r := range rs {
		got[r.Name] = r
	}
	em := got["emulator/mosquitto"]
	// Per round 2, 0.5, 3 → median 2 (not 600/550 from the medians of the values).
	if len(em.PerRound) != 3 || em.Median != 2 || em.Min != 0.5 || em.Max != 3 {
		t.Errorf("emulator/mosquitto = %+v", em)
	}
	if r := got["emulator-443/emulator"]; math.Abs(r.Median-0.99) > 1e-9 {
		t.Errorf("443/8883 = %+v", r)
	}
	if r := got["emulator/mochi"]; r.Median != 2 {
		t.Errorf("emulator/mochi = %+v", r)
	}
}

func TestTargets(t *testing.T) {
	var ms []Measurement
	ms = append(ms, sample(scConnect, map[string][]float64{brokerEmulator: {130}, brokerMosquitto: {100}, variantEmulator443: {120}})...)
	ms = append(ms, sample(scQoS1FanIn, map[string][]float64{brokerEmulator: {100}, brokerMosquitto: {90}, brokerMochi: {120}})...)
	ms = append(ms, sample(scQoS1Latency, map[string][]float64{brokerEmulator: {2}, brokerMosquitto: {1}})...)
	ms = append(ms, sample(scQoS1One, map[string][]float64{brokerEmulator: {96}, brokerMochi: {100}})...)
	ms = append(ms, sample(scQoS0Pairs, map[string][]float64{brokerEmulator: {94}, brokerMochi: {100}})...)
	ms = append(ms, sample(scIdle, map[string][]float64{brokerEmulator: {39}})...)
	r := &Report{Measurements: ms, Settings: Settings{IdleN: 10000}}
	r.Medians = medians(ms)
	r.Ratios = ratios(ms, 1)
	r.Targets = targets(r)
	want := map[string]struct{ known, met bool }{
		"mTLS connects/s ≥ 1.2 × Mosquitto":                             {true, true},
		"ALPN dispatch on 443 costs ≤ 5 % against 8883":                 {true, false}, // 120/130 = 0.92
		"QoS 1 fan-in delivered msg/s ≥ 1.0 × Mosquitto":                {true, true},
		"QoS 1 fan-in delivered msg/s ≥ 0.9 × stock Mochi":              {true, false}, // 0.83
		"QoS 1 fan-out delivered msg/s ≥ 1.0 × Mosquitto":               {false, false},
		"QoS 1 1→1 delivered msg/s ≥ 0.95 × stock Mochi":                {true, true},  // 0.96
		"QoS 0 4→4 pairs delivered msg/s ≥ 0.95 × stock Mochi":          {true, false}, // 0.94
		"QoS 0 fan-out delivered msg/s ≥ 0.95 × stock Mochi":            {false, false},
		"QoS 1 p99 publish→deliver at 50 % of peak ≤ Mosquitto's":       {true, false},
		"memory per idle mTLS connection ≤ 40 KiB at 10000 connections": {true, true},
	}
	seen := 0
	for _, tg := range r.Targets {
		w, ok := want[tg.Name]
		if !ok {
			continue
		}
		seen++
		if tg.Known != w.known || tg.Met != w.met {
			t.Errorf("%s: known %v met %v (value %.2f), want known %v met %v", tg.Name, tg.Known, tg.Met, tg.Value, w.known, w.met)
		}
	}
	if seen != len(want) {
		t.Errorf("found %d of the %d targets checked", seen, len(want))
	}
	var md strings.Builder
	r.writeMarkdown(&md)
	for _, s := range []string{"| mTLS connects/s", "443 / 8883: 0.92", "| target (issue 7)", "**no**", "not measured"} {
		if !strings.Contains(md.String(), s) {
			t.Errorf("markdown lacks %q:\n%s", s, md.String())
		}
	}
}

func TestMediansSkipErrorsAndCountLosses(t *testing.T) {
	ms := []Measurement{
		{Round: 1, Scenario: scQoS0FanIn, Broker: brokerMochi, Value: 10, Unit: "msg/s", PubSub: &bench.PubSubResult{Lost: 4}},
		{Round: 2, Scenario: scQoS0FanIn, Broker: brokerMochi, Value: 30, Unit: "msg/s", PubSub: &bench.PubSubResult{Lost: 0}},
		{Round: 3, Scenario: scQoS0FanIn, Broker: brokerMochi, Value: 99, Error: "failed"},
	}
	m := medians(ms)
	if len(m) != 1 || m[0].Value != 20 || m[0].Rounds != 2 || m[0].Errors != 1 || m[0].Lost != 2 {
		t.Fatalf("%+v", m)
	}
}

func TestOrderRotates(t *testing.T) {
	c := &comparison{o: options{brokers: []string{"a", "b", "c"}}}
	for r, want := range map[int]string{1: "a b c", 2: "b c a", 3: "c a b", 4: "a b c"} {
		if got := strings.Join(c.order(r), " "); got != want {
			t.Errorf("round %d: %s, want %s", r, got, want)
		}
	}
}

func TestReadyLine(t *testing.T) {
	r := bufio.NewReader(strings.NewReader("noise\nREADY mqtt=127.0.0.1:1 alpn=127.0.0.1:2 api=http://127.0.0.1:3 pid=7\n"))
	f, err := readyLine(r)
	if err != nil || f["mqtt"] != "127.0.0.1:1" || f["api"] != "http://127.0.0.1:3" {
		t.Fatalf("%v %v", f, err)
	}
	if _, err := readyLine(bufio.NewReader(strings.NewReader("no ready line\n"))); err == nil {
		t.Fatal("missing READY line accepted")
	}
}

func TestCPUSeconds(t *testing.T) {
	before, err := cpuSeconds(os.Getpid())
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	end := time.Now().Add(50 * time.Millisecond)
	for time.Now().Before(end) {
	}
	after, err := cpuSeconds(os.Getpid())
	if err != nil || after < before {
		t.Fatalf("before %v after %v err %v", before, after, err)
	}
}

func TestParseOptions(t *testing.T) {
	o, err := parseOptions([]string{"--quick", "--brokers", "emulator,mochi"})
	if err != nil {
		t.Fatal(err)
	}
	if o.rounds != 1 || o.idleN != 1000 || len(o.brokers) != 2 {
		t.Errorf("quick options %+v", o)
	}
	o, err = parseOptions([]string{"--quick", "--rounds", "4"})
	if err != nil || o.rounds != 4 {
		t.Errorf("an explicit flag must win over --quick: %+v %v", o, err)
	}
	for _, bad := range [][]string{{"--brokers", "rabbit"}, {"--idle-n", "20000"}, {"--rounds", "0"}, {"extra"}} {
		if _, err := parseOptions(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestSplitParsesTraces(t *testing.T) {
	text := `File: x
Type: cpu
-----------+-------------------------------------------------------
      20ms   crypto/internal/fips140/edwards25519/field.feMul
             crypto/ecdh.x25519ScalarMult
             github.com/iotcore-local/iotcore-local/listener.(*Listener).handle
-----------+-------------------------------------------------------
     1.5s   syscall.Syscall
             github.com/iotcore-local/iotcore-local/listener.(*Listener).handle
-----------+-------------------------------------------------------
      10ms   runtime.futex
             runtime.mstart
-----------+-------------------------------------------------------
`
	traces, err := parseTraces([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if len(traces) != 3 || traces[1].ms != 1500 || len(traces[0].frames) != 3 {
		t.Fatalf("%+v", traces)
	}
	cats := splitSets["handshake"]
	if got := classify(cats, traces[0].frames); got != "key exchange (X25519, P-256 ECDH)" {
		t.Errorf("first trace: %s", got)
	}
	if got := classify(cats, traces[2].frames); got != "other" {
		t.Errorf("third trace: %s", got)
	}
}
