package jobs

import (
	"fmt"
	"testing"
	"time"
)

// fleet is a fake directory with n things in group "fleet".
func fleet(n int) *fakeDir {
	d := newFakeDir()
	things := make([]string, n)
	for i := range things {
		things[i] = fmt.Sprintf("dev-%05d", i)
	}
	d.group("fleet", "", things...)
	return d
}

// BenchmarkRolloutTenThousand creates a job for a group of 10,000 things with a rollout rate
// of 1,000 things a minute and runs the rollout on a simulated clock to the end, checking
// after every minute that no more things were notified than the rate allows. One iteration is
// one whole job; things/s is the service's rate of queuing executions (store writes included).
func BenchmarkRolloutTenThousand(b *testing.B) {
	const things, rate = 10000, 1000
	for _, cfg := range []struct {
		name    string
		rollout *RolloutConfig
	}{
		{"rate=1000/min", &RolloutConfig{MaximumPerMinute: ptr[int64](rate)}},
		{"no-rate", nil},
	} {
		b.Run(cfg.name, func(b *testing.B) {
			dir := fleet(things)
			var minutes int
			start := time.Now()
			for i := 0; b.Loop(); i++ {
				f := newFixture(b, dir)
				id := fmt.Sprintf("bench-%d", i)
				if _, err := f.svc.CreateJob(CreateJobInput{JobID: id, Targets: []string{f.groupARN("fleet")}, Document: `{"op":"fw"}`, Rollout: cfg.rollout}); err != nil {
					b.Fatal(err)
				}
				for m := 1; ; m++ {
					j, err := f.svc.DescribeJob(id)
					if err != nil {
						b.Fatal(err)
					}
					if cfg.rollout != nil && j.Counts[Queued] > int64(rate*m) {
						b.Fatalf("minute %d: %d things queued, more than %d a minute", m, j.Counts[Queued], rate)
					}
					if j.PendingCount == 0 {
						if j.Counts[Queued] != things {
							b.Fatalf("%d things queued, want %d", j.Counts[Queued], things)
						}
						minutes = m
						break
					}
					f.clk.add(time.Minute)
					f.svc.Tick()
				}
				_ = f.svc.Close()
			}
			b.ReportMetric(float64(things*b.N)/time.Since(start).Seconds(), "things/s")
			b.ReportMetric(float64(minutes), "simulated-minutes")
		})
	}
}

// BenchmarkDeviceUpdate measures the service's UpdateJobExecution through its MQTT entry point
// (payload parsing, the state machine, the store, notifications), without a broker: one thing
// reporting IN_PROGRESS with new statusDetails again and again. With fsync is the emulator's
// setting; without shows the cost of the code alone.
func BenchmarkDeviceUpdate(b *testing.B) {
	for _, sync := range []bool{true, false} {
		b.Run(fmt.Sprintf("fsync=%v", sync), func(b *testing.B) {
			f := &fixture{t: b, dir: newFakeDir("t1"), clk: &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}, path: b.TempDir() + "/jobs.db", sync: sync}
			f.open()
			f.create(CreateJobInput{JobID: "j", Targets: []string{f.thingARN("t1")}})
			if r, _ := f.svc.HandleMQTT("$aws/things/t1/jobs/start-next", nil); r.Code != "" {
				b.Fatal(r.Code)
			}
			payload := []byte(`{"status":"IN_PROGRESS","statusDetails":{"progress":"50"},"clientToken":"b"}`)
			for b.Loop() {
				if r, _ := f.svc.HandleMQTT("$aws/things/t1/jobs/j/update", payload); r.Code != "" {
					b.Fatal(r.Code)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
		})
	}
}
