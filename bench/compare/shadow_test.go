package main

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/iotcore-local/iotcore-local/bench"
)

// The shadow group with --quick's settings against an in-process emulator (the configuration
// the comparison's emulator child runs): both runs measure, every update is accepted in order,
// and the report carries the figures and the issue-18 targets.
func TestShadowScenarioQuick(t *testing.T) {
	o, err := parseOptions([]string{"--quick", "--scenarios", "shadow", "--brokers", "emulator"})
	if err != nil {
		t.Fatal(err)
	}
	emu, tg, _ := inProcessFleet(t, o.shadowN)
	if !emu.Shadows().Durable() {
		t.Fatal("the emulator's shadow store does not fsync: the scenario would measure the wrong store")
	}
	// The load generator shares this process with the emulator, so the "server CPU" is both;
	// the test checks that it is there, not its size.
	srv := &server{name: brokerEmulator, pid: os.Getpid(), addr: tg.Address, exited: make(chan struct{}), shadowFsync: emu.Shadows().Durable()}
	l := &lab{servers: map[string]*server{brokerEmulator: srv}, roots: tg.RootCAs, devices: tg.Devices}
	c := &comparison{o: o, lab: l, log: io.Discard}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	started := time.Now()
	c.round(ctx, 1)

	if len(c.meas) != 2 {
		t.Fatalf("%d measurements, want the fleet's and the lone device's: %+v", len(c.meas), c.meas)
	}
	for _, m := range c.meas {
		want := map[string]int{scShadowFleet: o.shadowN, scShadowLone: 1}[m.Scenario]
		if m.Broker != brokerEmulator || want == 0 {
			t.Errorf("unexpected measurement %s on %s", m.Scenario, m.Broker)
			continue
		}
		if m.Error != "" || m.Shadow == nil {
			t.Fatalf("%s: %s", m.Scenario, m.Error)
		}
		s := m.Shadow
		if s.Devices != want || s.QoS != 1 || s.RatePerDevice != 0 || s.ShadowName != "" {
			t.Errorf("%s: ran %d devices, QoS %d, rate %v, shadow %q; want %d closed-loop devices on the classic shadow at QoS 1",
				m.Scenario, s.Devices, s.QoS, s.RatePerDevice, s.ShadowName, want)
		}
		if s.Accepted == 0 || s.Accepted != s.Sent || s.VersionRegressions+s.VersionsNotSeen != 0 {
			t.Errorf("%s: %d of %d accepted, %d regressions, %d skipped", m.Scenario, s.Accepted, s.Sent, s.VersionRegressions, s.VersionsNotSeen)
		}
		if m.Value <= 0 || m.Value != s.RoundTripsPerSecond || m.Unit != "round trips/s" || s.Latency.P50Ms <= 0 || s.Latency.P99Ms < s.Latency.P50Ms {
			t.Errorf("%s: value %v %s, p50 %v, p99 %v", m.Scenario, m.Value, m.Unit, s.Latency.P50Ms, s.Latency.P99Ms)
		}
		if m.CPUUnit != "µs/round trip" || m.CPUPerUnit <= 0 {
			t.Errorf("%s: server CPU %v %q", m.Scenario, m.CPUPerUnit, m.CPUUnit)
		}
	}
	if err := shadowFailures(c.meas); err != nil {
		t.Fatal(err)
	}

	rep := c.report(started)
	var md strings.Builder
	rep.writeMarkdown(&md)
	out := md.String()
	fleet, lone := c.meas[0], c.meas[1]
	if fleet.Scenario != scShadowFleet {
		fleet, lone = lone, fleet
	}
	for _, s := range []string{
		"| 10 devices, closed loop, 3 s | " + formatValue(fleet.Value) + " | " + formatValue(fleet.Value) + " | " + formatValue(fleet.Shadow.Latency.P50Ms) + " | " + formatValue(fleet.Shadow.Latency.P99Ms) + " | " + formatValue(fleet.CPUPerUnit) + " |",
		"| 1 device alone, 2 s | " + formatValue(lone.Value) + " | " + formatValue(lone.Value) + " | " + formatValue(lone.Shadow.Latency.P50Ms) + " | " + formatValue(lone.Shadow.Latency.P99Ms) + " | " + formatValue(lone.CPUPerUnit) + " |",
		"strictly increasing, none skipped",
		"stock Mochi and Mosquitto have no shadow service",
		"| ≥ 5 200 shadow round trips/s, 10 devices in closed loop, every accepted update fsynced before its answer (issue 18) | emulator round trips/s, 10 devices | " + formatValue(fleet.Value),
		"| every shadow update accepted, versions strictly increasing (issue 18) | shadow runs failing the check | 0.00 | yes |",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("report lacks %q:\n%s", s, out)
		}
	}
	if strings.Contains(out, "FAILED") {
		t.Errorf("report shows a failure:\n%s", out)
	}
}

// A store that does not fsync is refused, not measured.
func TestShadowRefusesNoSyncStore(t *testing.T) {
	c := &comparison{o: options{connectConcurrency: 1}}
	m := c.shadow(context.Background(), &server{}, bench.Target{}, 1, time.Second)
	if !strings.Contains(m.Error, "fsync") || m.Shadow != nil {
		t.Fatalf("measurement %+v", m)
	}
}

func TestShadowCheck(t *testing.T) {
	good := bench.ShadowResult{Sent: 100, Accepted: 100}
	for _, tc := range []struct {
		name string
		edit func(*bench.ShadowResult)
		want string // "" for no error
	}{
		{"all accepted in order", func(*bench.ShadowResult) {}, ""},
		{"nothing sent", func(r *bench.ShadowResult) { r.Sent, r.Accepted = 0, 0 }, "no update was sent"},
		{"rejected", func(r *bench.ShadowResult) {
			r.Accepted, r.Rejected = 99, 1
			r.RejectedByCode, r.RejectedMessages = map[string]int{"409": 1}, map[string]string{"409": "Version conflict"}
		}, "1 of 100 updates not accepted (1 rejected, 0 timed out); 1× code 409: Version conflict"},
		{"timed out", func(r *bench.ShadowResult) { r.Accepted, r.TimedOut = 98, 2 }, "2 of 100 updates not accepted (0 rejected, 2 timed out)"},
		{"late answer", func(r *bench.ShadowResult) { r.Late = 1 }, "1 late"},
		{"foreign answer", func(r *bench.ShadowResult) { r.Unexpected = 3 }, "3 unexpected"},
		{"version regression", func(r *bench.ShadowResult) { r.VersionRegressions = 1 }, "1 accepted versions not above the previous one"},
		{"version skipped", func(r *bench.ShadowResult) { r.VersionsNotSeen = 2 }, "2 versions skipped"},
		{"dropped by the server", func(r *bench.ShadowResult) { r.Disconnects = map[string]int{"EOF": 1} }, "closed by the server"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := good
			tc.edit(&r)
			err := shadowCheck(&r)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// A failed shadow run shows in the report, fails the targets and makes the comparison fail.
func TestShadowFailureIsLoud(t *testing.T) {
	ok := &bench.ShadowResult{Sent: 1000, Accepted: 1000, Latency: bench.Latency{P50Ms: 1.5, P99Ms: 4}}
	bad := &bench.ShadowResult{Sent: 1000, Accepted: 1000, VersionRegressions: 1}
	ms := []Measurement{
		{Round: 1, Scenario: scShadowFleet, Broker: brokerEmulator, Value: 6000, Unit: "round trips/s", Shadow: ok, CPUPerUnit: 80, CPUUnit: "µs/round trip"},
		{Round: 2, Scenario: scShadowFleet, Broker: brokerEmulator, Value: 5000, Unit: "round trips/s", Shadow: bad, Error: shadowCheck(bad).Error()},
		{Round: 1, Scenario: scShadowLone, Broker: brokerEmulator, Value: 900, Unit: "round trips/s", Shadow: ok},
	}
	err := shadowFailures(ms)
	if err == nil || !strings.Contains(err.Error(), "round 2 shadow-fleet") || !strings.Contains(err.Error(), "not above the previous one") {
		t.Fatalf("shadowFailures = %v", err)
	}
	r := &Report{Measurements: ms, Settings: Settings{ShadowN: 10, ShadowSeconds: 15, ShadowLoneSeconds: 8}}
	r.Medians = medians(ms)
	r.Targets = targets(r)
	got := map[string]Target{}
	for _, tg := range r.Targets {
		got[tg.Name] = tg
	}
	rate := got["≥ 5 200 shadow round trips/s, 10 devices in closed loop, every accepted update fsynced before its answer (issue 18)"]
	if !rate.Known || rate.Value != 6000 || !rate.Met {
		t.Errorf("rate target %+v: the failed round must not count", rate)
	}
	if order := got["every shadow update accepted, versions strictly increasing (issue 18)"]; !order.Known || order.Met || order.Value != 1 {
		t.Errorf("order target %+v", order)
	}
	var md strings.Builder
	r.writeMarkdown(&md)
	for _, s := range []string{"| 10 devices, closed loop, 15 s | 6000, error | 6000 | 1.50 | 4.00 | 80.0 | 2000 / 2000 | **1 not increasing, 0 skipped** |",
		"**Shadow scenario FAILED:**", "- round 2, 10 devices, closed loop, 15 s: shadow check failed"} {
		if !strings.Contains(md.String(), s) {
			t.Errorf("markdown lacks %q:\n%s", s, md.String())
		}
	}
}

func TestShadowOptions(t *testing.T) {
	o, err := parseOptions(nil)
	if err != nil || !o.scenarios["shadow"] || o.shadowN != 10 || o.shadowDuration != 15*time.Second || o.shadowLoneDuration != 8*time.Second {
		t.Fatalf("defaults %+v %v: the shadow group belongs to the default run", o, err)
	}
	o, err = parseOptions([]string{"--quick"})
	if err != nil || !o.scenarios["shadow"] || o.shadowDuration != 3*time.Second || o.shadowLoneDuration != 2*time.Second {
		t.Fatalf("--quick %+v %v", o, err)
	}
	for _, bad := range [][]string{{"--scenarios", "shadow", "--brokers", "mochi"}, {"--shadow-n", "0"}, {"--shadow-duration", "0s"}} {
		if _, err := parseOptions(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
