package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/iotcore-local/iotcore-local/bench"
)

// The shadow scenario group measures the emulator's Device Shadow service over MQTT, with the
// load code of "iotcore-local bench shadow" (bench.RunShadow): --shadow-n devices updating
// their classic shadow in a closed loop (each sends its next update when the previous one is
// answered), and one device alone, whose round trip is the latency of a lone update. Stock
// Mochi and Mosquitto have no shadow service, so the group runs against the emulator only.
//
// The emulator keeps its default durability: every accepted update is fsynced before its
// answer. The emulator child says so on its READY line (shadow_fsync=true) and a run against a
// store that does not fsync is refused rather than measured.
//
// A run whose updates were not all accepted, or whose versions did not rise by exactly one per
// accepted update of each device, is recorded as an error and fails the whole comparison.

// shadowRound runs the fleet and the lone run once each; their order alternates from round to
// round, as the brokers' does in the other scenarios.
func (c *comparison) shadowRound(ctx context.Context, r int) {
	runs := []struct {
		key      string
		devices  int
		duration time.Duration
	}{
		{scShadowFleet, c.o.shadowN, c.o.shadowDuration},
		{scShadowLone, 1, c.o.shadowLoneDuration},
	}
	if r%2 == 0 {
		slices.Reverse(runs)
	}
	for _, run := range runs {
		c.add(ctx, r, run.key, brokerEmulator, func(s *server, t bench.Target) Measurement {
			return c.shadow(ctx, s, t, run.devices, run.duration)
		})
	}
}

// shadow runs one shadow measurement: devices updating their classic shadow at QoS 1 in a
// closed loop for duration.
func (c *comparison) shadow(ctx context.Context, s *server, t bench.Target, devices int, duration time.Duration) Measurement {
	if !s.shadowFsync {
		return Measurement{Error: "the emulator's shadow store does not fsync each write before answering it; refusing to measure it"}
	}
	res, err := bench.RunShadow(ctx, bench.ShadowConfig{Target: t, Devices: devices, QoS: 1, Duration: duration,
		Concurrency: c.o.connectConcurrency})
	if err != nil {
		return Measurement{Error: err.Error()}
	}
	m := Measurement{Value: res.RoundTripsPerSecond, Unit: "round trips/s", Shadow: res}
	if err := shadowCheck(res); err != nil {
		m.Error = err.Error()
	}
	return m
}

// shadowCheck says what is wrong with a shadow run: any update not accepted (refused or
// unanswered), any stray answer, and any accepted version that did not follow the device's
// previous one by exactly one. Nil when every update was accepted in order.
func shadowCheck(res *bench.ShadowResult) error {
	var errs []string
	if res.Sent == 0 {
		errs = append(errs, "no update was sent")
	}
	if res.Accepted != res.Sent {
		s := fmt.Sprintf("%d of %d updates not accepted (%d rejected, %d timed out)", res.Sent-res.Accepted, res.Sent, res.Rejected, res.TimedOut)
		for code, n := range res.RejectedByCode {
			s += fmt.Sprintf("; %d× code %s: %s", n, code, res.RejectedMessages[code])
		}
		errs = append(errs, s)
	}
	if res.Late+res.Duplicates+res.Unexpected > 0 {
		errs = append(errs, fmt.Sprintf("stray answers: %d late, %d duplicate, %d unexpected", res.Late, res.Duplicates, res.Unexpected))
	}
	if res.VersionRegressions > 0 {
		errs = append(errs, fmt.Sprintf("%d accepted versions not above the previous one", res.VersionRegressions))
	}
	if res.VersionsNotSeen > 0 {
		errs = append(errs, fmt.Sprintf("%d versions skipped between accepted answers", res.VersionsNotSeen))
	}
	if len(res.Disconnects) > 0 {
		errs = append(errs, fmt.Sprintf("connections closed by the server: %v", res.Disconnects))
	}
	if len(errs) == 0 {
		return nil
	}
	return errors.New("shadow check failed: " + strings.Join(errs, "; "))
}

// shadowFailures is the comparison's outcome for the shadow group: an error naming every
// shadow run that failed, nil when none did.
func shadowFailures(ms []Measurement) error {
	var failed []string
	for _, m := range ms {
		if isShadow(m.Scenario) && m.Error != "" {
			failed = append(failed, fmt.Sprintf("round %d %s: %s", m.Round, m.Scenario, m.Error))
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return fmt.Errorf("shadow scenario FAILED in %d run(s):\n  %s", len(failed), strings.Join(failed, "\n  "))
}

// isShadow says whether a scenario belongs to the shadow group.
func isShadow(sc string) bool { return sc == scShadowFleet || sc == scShadowLone }

// shadowTargets are issue 18's shadow targets: the fleet's round trips with the durable
// store, and every update accepted in order.
func shadowTargets(r *Report) []Target {
	var fleet []float64
	ran, failed := 0, 0
	for _, m := range r.Measurements {
		if !isShadow(m.Scenario) {
			continue
		}
		ran++
		if m.Error != "" {
			failed++
			continue
		}
		if m.Scenario == scShadowFleet {
			fleet = append(fleet, m.Value)
		}
	}
	rate := Target{Name: "≥ 5 200 shadow round trips/s, 10 devices in closed loop, every accepted update fsynced before its answer (issue 18)",
		Measured: "emulator round trips/s, 10 devices", Value: median(fleet), Bound: 5200, AtLeast: true,
		Known: len(fleet) > 0 && r.Settings.ShadowN == 10}
	rate.Met = rate.Known && rate.Value >= rate.Bound
	order := Target{Name: "every shadow update accepted, versions strictly increasing (issue 18)",
		Measured: "shadow runs failing the check", Value: float64(failed), Bound: 0, Known: ran > 0, Met: ran > 0 && failed == 0}
	return []Target{rate, order}
}

// writeShadow writes the shadow group's table: per run kind, round trips/s per round and
// their median and range, latency, server CPU, and the accepted/version check.
func (r *Report) writeShadow(w io.Writer) {
	st := r.Settings
	type kind struct {
		key, title string
		ms         []Measurement
	}
	kinds := []*kind{
		{key: scShadowFleet, title: fmt.Sprintf("%d devices, closed loop, %.0f s", st.ShadowN, st.ShadowSeconds)},
		{key: scShadowLone, title: fmt.Sprintf("1 device alone, %.0f s", st.ShadowLoneSeconds)},
	}
	found := false
	var failures []string
	for _, m := range r.Measurements {
		for _, k := range kinds {
			if m.Scenario == k.key {
				k.ms = append(k.ms, m)
				found = true
				if m.Error != "" {
					failures = append(failures, fmt.Sprintf("round %d, %s: %s", m.Round, k.title, m.Error))
				}
			}
		}
	}
	if !found {
		return
	}
	fmt.Fprintln(w, "Device Shadow round trips — iotcore-local only (stock Mochi and Mosquitto have no shadow service): "+
		"each device updates its classic shadow at QoS 1 over mTLS with its thing-scoped policy and sends the next update "+
		"when the previous one is answered on /update/accepted; every accepted update is fsynced before its answer "+
		"(the emulator's default, confirmed by the emulator at start). Medians of the rounds, range in brackets:")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| run | round trips/s per round | round trips/s | p50 ms | p99 ms | server CPU µs/round trip | updates accepted / sent | versions |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---|")
	for _, k := range kinds {
		if len(k.ms) == 0 {
			continue
		}
		var rate, p50, p99, cpu []float64
		var perRound []string
		var sent, accepted, regressions, skipped uint64
		for _, m := range k.ms {
			if s := m.Shadow; s != nil {
				sent, accepted = sent+s.Sent, accepted+s.Accepted
				regressions, skipped = regressions+s.VersionRegressions, skipped+s.VersionsNotSeen
			}
			if m.Error != "" {
				perRound = append(perRound, "error")
				continue
			}
			perRound = append(perRound, formatValue(m.Value))
			rate = append(rate, m.Value)
			p50 = append(p50, m.Shadow.Latency.P50Ms)
			p99 = append(p99, m.Shadow.Latency.P99Ms)
			if m.CPUUnit != "" {
				cpu = append(cpu, m.CPUPerUnit)
			}
		}
		versions := "strictly increasing, none skipped"
		if regressions+skipped > 0 {
			versions = fmt.Sprintf("**%d not increasing, %d skipped**", regressions, skipped)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %d / %d | %s |\n", k.title, strings.Join(perRound, ", "),
			spread(rate), spread(p50), spread(p99), spread(cpu), accepted, sent, versions)
	}
	fmt.Fprintln(w)
	if len(failures) > 0 {
		fmt.Fprintln(w, "**Shadow scenario FAILED:**")
		fmt.Fprintln(w)
		for _, f := range failures {
			fmt.Fprintf(w, "- %s\n", f)
		}
		fmt.Fprintln(w)
	}
}

// spread formats the median of xs with its range: "2175 (1041–2489)"; "–" for none.
func spread(xs []float64) string {
	switch len(xs) {
	case 0:
		return "–"
	case 1:
		return formatValue(xs[0])
	}
	return fmt.Sprintf("%s (%s–%s)", formatValue(median(xs)), formatValue(slices.Min(xs)), formatValue(slices.Max(xs)))
}
