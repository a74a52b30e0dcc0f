package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/iotcore-local/iotcore-local/bench"
)

// ScaleStep is one fleet size of the scale run.
type ScaleStep struct {
	Devices int `json:"devices"`
	// Passed: every device connected and subscribed, no message lost, no connection dropped.
	Passed  bool   `json:"passed"`
	Failure string `json:"failure,omitempty"`
	// ConnectSeconds is how long the whole fleet took to connect; ConnectsPerSecond its rate.
	ConnectSeconds    float64 `json:"connect_s"`
	ConnectsPerSecond float64 `json:"connects_per_s"`
	// PeakRSSBytes is the emulator's largest resident set during the step; RSSPerDevice the
	// growth over the fresh process, per device.
	StartRSSBytes uint64  `json:"start_rss_bytes"`
	PeakRSSBytes  uint64  `json:"peak_rss_bytes"`
	RSSPerDevice  float64 `json:"rss_per_device_bytes"`
	// CPUPercent is the emulator's CPU use over the publishing phase (100 = one core).
	CPUPercent float64             `json:"cpu_percent"`
	PubSub     *bench.PubSubResult `json:"pubsub,omitempty"`
}

// ScaleReport is the scale run's outcome.
type ScaleReport struct {
	StartedAt   time.Time   `json:"started_at"`
	Command     string      `json:"command"`
	Machine     Machine     `json:"machine"`
	Rate        float64     `json:"rate_per_device"`
	QoS         int         `json:"qos"`
	HoldSeconds float64     `json:"hold_s"`
	Steps       []ScaleStep `json:"steps"`
	// Largest is the largest fleet that passed.
	Largest int `json:"largest_passing"`
}

// runScale finds the largest fleet the emulator holds with a 1 message / 10 s / device
// workload: every device but one publishes at that rate to its own topic, the last device
// subscribes to all of them (a backend consumer), for --hold at each fleet size in turn, and
// the step passes when everything connects and nothing is lost or dropped. Each step starts a
// fresh emulator process. The fleet is limited by the open-file limit: the emulator and the load
// generator each hold one descriptor per connection.
func runScale(args []string) error {
	fs := flag.NewFlagSet("scale", flag.ContinueOnError)
	stepsFlag := fs.String("steps", "2000,5000,10000,15000,19900", "fleet sizes to try in turn, comma-separated")
	hold := fs.Duration("hold", 60*time.Second, "publishing time at each size")
	rate := fs.Float64("rate", 0.1, "messages per second per device")
	qos := fs.Int("qos", 1, "QoS of publishes and the subscription")
	concurrency := fs.Int("concurrency", 100, "connection attempts in flight")
	pin := fs.Bool("pin", false, "emulator on CPU 0, load generator on CPU 1")
	state := fs.String("state", "", "work folder kept between runs (device credentials are reused)")
	keep := fs.Bool("keep", false, "keep the temporary work folder")
	jsonPath := fs.String("json", "scale.json", "write the steps as JSON here (\"\" for none)")
	timeout := fs.Duration("timeout", 60*time.Minute, "bound on the whole run")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var steps []int
	for _, s := range strings.Split(*stepsFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 2 || n > 19900 {
			return fmt.Errorf("--steps: %q: sizes must be 2 to 19900 (the open-file limit is 20 000 per process)", s)
		}
		steps = append(steps, n)
	}
	if *qos != 0 && *qos != 1 {
		return fmt.Errorf("--qos must be 0 or 1")
	}
	cpus := ""
	if *pin {
		if err := pinSelf("1"); err != nil {
			return err
		}
		cpus = "0"
	}
	ctx, cancel := runContext(*timeout)
	defer cancel()
	log := os.Stderr
	l, err := newLab(*state, cpus, log)
	if err != nil {
		return err
	}
	defer l.close(*keep || *state != "")
	emu, err := l.startEmulator(ctx)
	if err != nil {
		return err
	}
	maxN := 0
	for _, n := range steps {
		maxN = max(maxN, n)
	}
	if err := l.provision(ctx, emu, maxN); err != nil {
		return err
	}
	rep := &ScaleReport{StartedAt: time.Now().UTC().Truncate(time.Second), Command: "go run ./bench/compare scale " + strings.Join(args, " "),
		Machine: describeMachine(), Rate: *rate, QoS: *qos, HoldSeconds: hold.Seconds()}
	for _, n := range steps {
		if ctx.Err() != nil {
			break
		}
		st := scaleStep(ctx, l, n, *rate, byte(*qos), *hold, *concurrency)
		rep.Steps = append(rep.Steps, st)
		if st.Passed {
			rep.Largest = n
			fmt.Fprintf(log, "compare scale: %d devices passed (connect %.0f/s, peak RSS %.0f MiB, CPU %.0f %%)\n",
				n, st.ConnectsPerSecond, float64(st.PeakRSSBytes)/(1<<20), st.CPUPercent)
		} else {
			fmt.Fprintf(log, "compare scale: %d devices failed: %s\n", n, st.Failure)
			break
		}
	}
	writeScaleMarkdown(rep)
	if *jsonPath != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(*jsonPath, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// scaleStep runs one fleet size against a fresh emulator.
func scaleStep(ctx context.Context, l *lab, n int, rate float64, qos byte, hold time.Duration, concurrency int) ScaleStep {
	st := ScaleStep{Devices: n}
	emu, err := l.restart(ctx, brokerEmulator)
	if err != nil {
		st.Failure = err.Error()
		return st
	}
	sleep(ctx, 2*time.Second)
	mem := bench.ProcessMemory{PID: emu.pid}
	st.StartRSSBytes, _ = mem.Read()
	var peakMu sync.Mutex
	peak := st.StartRSSBytes
	sctx, stopSampling := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for sctx.Err() == nil {
			if v, err := mem.Read(); err == nil {
				peakMu.Lock()
				peak = max(peak, v)
				peakMu.Unlock()
			}
			sleep(sctx, time.Second)
		}
	}()
	cpu0, _ := cpuSeconds(emu.pid)
	res, err := bench.RunPubSub(ctx, bench.PubSubConfig{
		Target: l.target(emu, false), Publishers: n - 1, Subscribers: 1, QoS: qos, Rate: rate, Stagger: true,
		Duration: hold, Drain: 20 * time.Second, Concurrency: concurrency, Progress: l.log,
	})
	cpu1, _ := cpuSeconds(emu.pid)
	stopSampling()
	wg.Wait()
	st.PeakRSSBytes = peak
	if peak > st.StartRSSBytes {
		st.RSSPerDevice = float64(peak-st.StartRSSBytes) / float64(n)
	}
	if err != nil {
		st.Failure = err.Error()
		return st
	}
	st.PubSub = res
	st.ConnectSeconds = res.Connect.ElapsedSeconds
	st.ConnectsPerSecond = res.Connect.ConnectionsPerSecond
	if res.ElapsedSeconds > 0 {
		st.CPUPercent = 100 * (cpu1 - cpu0) / (res.ElapsedSeconds + res.Connect.ElapsedSeconds)
	}
	var problems []string
	if res.Lost > 0 {
		problems = append(problems, fmt.Sprintf("%d of %d messages lost", res.Lost, res.Expected))
	}
	if len(res.Disconnects) > 0 {
		problems = append(problems, fmt.Sprintf("dropped by the server: %v", res.Disconnects))
	}
	if res.Sent == 0 {
		problems = append(problems, "nothing sent")
	}
	if !emu.alive() {
		problems = append(problems, "the emulator exited: "+tail(emu.logPath, 500))
	}
	st.Passed = len(problems) == 0
	st.Failure = strings.Join(problems, "; ")
	return st
}

// writeScaleMarkdown prints the steps as a table.
func writeScaleMarkdown(r *ScaleReport) {
	fmt.Printf("### Scale, %s\n\n`%s` — %d × %s, %s. Every device but one publishes %g msg/s at QoS %d (staggered), one device subscribes to all; %.0f s per size, a fresh emulator each.\n\n",
		r.StartedAt.Format("2006-01-02"), r.Command, r.Machine.CPUs, r.Machine.CPUModel, r.Machine.MemoryGiB, r.Rate, r.QoS, r.HoldSeconds)
	fmt.Println("| devices | result | connect | sent | delivered | lost | dropped | p50 / p99 / max ms | emulator CPU | peak RSS | RSS per device |")
	fmt.Println("|---:|---|---:|---:|---:|---:|---:|---|---:|---:|---:|")
	for _, s := range r.Steps {
		res := "passed"
		if !s.Passed {
			res = "failed: " + s.Failure
		}
		if p := s.PubSub; p != nil {
			dropped := 0
			for _, v := range p.Disconnects {
				dropped += v
			}
			fmt.Printf("| %d | %s | %.0f /s | %d | %d | %d | %d | %.1f / %.1f / %.1f | %.0f %% | %.0f MiB | %.1f KiB |\n",
				s.Devices, res, s.ConnectsPerSecond, p.Sent, p.Received, p.Lost, dropped, p.Latency.P50Ms, p.Latency.P99Ms, p.Latency.MaxMs,
				s.CPUPercent, float64(s.PeakRSSBytes)/(1<<20), s.RSSPerDevice/1024)
		} else {
			fmt.Printf("| %d | %s | | | | | | | | %.0f MiB | |\n", s.Devices, res, float64(s.PeakRSSBytes)/(1<<20))
		}
	}
	fmt.Printf("\nLargest fleet with no loss: %d devices.\n", r.Largest)
}
