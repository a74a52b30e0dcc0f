package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is one scenario run as the command prints and saves it: exactly one of Connect,
// PubSub, Idle and Shadow is set.
type Report struct {
	Scenario  string         `json:"scenario"`
	Command   []string       `json:"command,omitempty"`
	StartedAt time.Time      `json:"started_at"`
	Host      Host           `json:"host"`
	Connect   *ConnectResult `json:"connect,omitempty"`
	PubSub    *PubSubResult  `json:"pubsub,omitempty"`
	Idle      *IdleResult    `json:"idle,omitempty"`
	Shadow    *ShadowResult  `json:"shadow,omitempty"`
}

// Host describes the machine that ran the load generator, since figures mean little without it.
type Host struct {
	Hostname  string `json:"hostname,omitempty"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	CPUs      int    `json:"cpus"`
	GoVersion string `json:"go_version"`
}

// ThisHost describes the running machine.
func ThisHost() Host {
	name, _ := os.Hostname()
	return Host{Hostname: name, OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// WriteTable writes the report as an aligned table for people.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	switch {
	case r.Connect != nil:
		writeConnect(tw, r.Connect)
	case r.PubSub != nil:
		writePubSub(tw, r.PubSub)
	case r.Idle != nil:
		writeIdle(tw, r.Idle)
	case r.Shadow != nil:
		writeShadow(tw, r.Shadow)
	default:
		fmt.Fprintf(tw, "%s: no result\n", r.Scenario)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

func writeTarget(w io.Writer, scenario string, t TargetInfo) {
	alpn := "none"
	if len(t.ALPN) > 0 {
		alpn = strings.Join(t.ALPN, ",")
	}
	fmt.Fprintf(w, "%s\t%s  (ALPN %s, %s certificates)\n", scenario, t.Address, alpn, t.Identities)
	if len(t.SourceAddrs) > 0 {
		fmt.Fprintf(w, "source addresses\t%s\n", strings.Join(t.SourceAddrs, ", "))
	}
}

func writeLatencyHeader(w io.Writer, title string) {
	fmt.Fprintf(w, "%s\tcount\tp50 ms\tp90 ms\tp99 ms\tmax ms\tmean ms\n", title)
}

func writeLatency(w io.Writer, name string, l Latency) {
	fmt.Fprintf(w, "  %s\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\n", name, l.Count, l.P50Ms, l.P90Ms, l.P99Ms, l.MaxMs, l.MeanMs)
}

// writeCounts prints a map of counts, largest first.
func writeCounts(w io.Writer, title string, m map[string]int) {
	if len(m) == 0 {
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] || m[keys[i]] == m[keys[j]] && keys[i] < keys[j] })
	fmt.Fprintf(w, "%s\n", title)
	for _, k := range keys {
		fmt.Fprintf(w, "  %s\t%d\n", k, m[k])
	}
}

func writeConnect(w io.Writer, r *ConnectResult) {
	writeTarget(w, "connect", r.Target)
	mode := "held until the end"
	if r.Churn {
		mode = "closed after CONNACK"
	}
	fmt.Fprintf(w, "devices\t%d requested, %d attempted, %d succeeded, %d failed (concurrency %d, %s)\n",
		r.Requested, r.Attempted, r.Succeeded, r.Failed, r.Concurrency, mode)
	fmt.Fprintf(w, "rate\t%.1f connections/s over %.2f s\n", r.ConnectionsPerSecond, r.ElapsedSeconds)
	writeLatencyHeader(w, "latency")
	writeLatency(w, "tcp connect", r.TCP)
	writeLatency(w, "tls handshake", r.Handshake)
	writeLatency(w, "connack", r.Connack)
	writeLatency(w, "total", r.Total)
	writeCounts(w, "failures", r.Failures)
}

func writePubSub(w io.Writer, r *PubSubResult) {
	writeTarget(w, "pubsub", r.Target)
	rate := "as fast as possible"
	if r.RatePerPublisher > 0 {
		rate = fmt.Sprintf("%g msg/s each", r.RatePerPublisher)
	}
	fmt.Fprintf(w, "shape\t%s: %d publishers → %d subscribers, QoS %d, %d-byte payloads, %s\n",
		shapeName(r), r.Publishers, r.Subscribers, r.QoS, r.PayloadSize, rate)
	fmt.Fprintf(w, "sent\t%d in %.2f s (%.1f msg/s)", r.Sent, r.PublishSeconds, r.SentPerSecond)
	if r.QoS == 1 {
		fmt.Fprintf(w, ", %d acknowledged", r.Acked)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "delivered\t%d of %d expected in %.2f s (%.1f msg/s)\n", r.Received, r.Expected, r.ElapsedSeconds, r.DeliveredPerSecond)
	fmt.Fprintf(w, "lost\t%d\n", r.Lost)
	if r.Lost > 0 {
		fmt.Fprintf(w, "\t%s\n", lostExplanation)
	}
	fmt.Fprintf(w, "duplicates\t%d\n", r.Duplicates)
	if r.Unexpected > 0 {
		fmt.Fprintf(w, "unexpected\t%d (not this run's messages)\n", r.Unexpected)
	}
	writeLatencyHeader(w, "latency")
	writeLatency(w, "publish→deliver", r.Latency)
	if r.AckLatency != nil {
		writeLatency(w, "publish→PUBACK", *r.AckLatency)
	}
	writeLatency(w, "connect (total)", r.Connect.Total)
	writeCounts(w, "disconnected by the server", r.Disconnects)
}

// lostExplanation says what lost messages most often mean and what changes it.
const lostExplanation = "(published and acknowledged, never delivered: the broker dropped them because a subscriber's queue was full — " +
	"it reads or acknowledges more slowly than messages arrive. iotcore-local logs \"message dropped: the subscriber's queue is full\" " +
	"(Mochi's own words: \"client store quota reached\"); raise serve --write-queue (bench --in-process: --write-queue), or lower --rate)"

// shapeName names the run's shape as people do.
func shapeName(r *PubSubResult) string {
	switch {
	case r.Shape == ShapePairs:
		return "pairs"
	case r.Publishers == 1 && r.Subscribers == 1:
		return "one-to-one"
	case r.Subscribers == 1:
		return "fan-in"
	case r.Publishers == 1:
		return "fan-out"
	}
	return "many-to-many"
}

func writeIdle(w io.Writer, r *IdleResult) {
	writeTarget(w, "idle", r.Target)
	fmt.Fprintf(w, "connections\t%d requested, %d connected, %d held for %.1f s (keep-alive %.0f s), %d dropped\n",
		r.Requested, r.Connected, r.Held, r.HoldSeconds, r.KeepAliveSeconds, r.Dropped)
	fmt.Fprintf(w, "connect rate\t%.1f connections/s\n", r.Connect.ConnectionsPerSecond)
	if m := r.Memory; m != nil {
		fmt.Fprintf(w, "memory\t%s\n", m.Source)
		fmt.Fprintf(w, "  before\t%s\n", bytesText(float64(m.BeforeBytes)))
		fmt.Fprintf(w, "  connected\t%s\n", bytesText(float64(m.ConnectedBytes)))
		fmt.Fprintf(w, "  after hold\t%s (peak %s)\n", bytesText(float64(m.AfterBytes)), bytesText(float64(m.PeakBytes)))
		fmt.Fprintf(w, "  per connection\t%s\n", bytesText(m.PerConnectionBytes))
	} else {
		fmt.Fprintf(w, "memory\tnot measured (give the server's process id)\n")
	}
	writeCounts(w, "connect failures", r.Connect.Failures)
	writeCounts(w, "dropped by the server", r.Drops)
}

func writeShadow(w io.Writer, r *ShadowResult) {
	writeTarget(w, "shadow", r.Target)
	which := "classic shadow"
	if r.ShadowName != "" {
		which = fmt.Sprintf("named shadow %q", r.ShadowName)
	}
	pace := "closed loop (next update when answered)"
	if r.RatePerDevice > 0 {
		pace = fmt.Sprintf("%g updates/s each, at most %d unanswered", r.RatePerDevice, r.Inflight)
	}
	fmt.Fprintf(w, "devices\t%d updating their %s, requests at QoS %d, %s, answer timeout %g s\n",
		r.Devices, which, r.QoS, pace, r.TimeoutSeconds)
	fmt.Fprintf(w, "sent\t%d in %.2f s (%.1f updates/s)", r.Sent, r.UpdateSeconds, r.SentPerSecond)
	if r.QoS == 1 {
		fmt.Fprintf(w, ", %d acknowledged", r.Acked)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "answered\t%d accepted, %d rejected in %.2f s (%.1f round trips/s)\n",
		r.Accepted, r.Rejected, r.ElapsedSeconds, r.RoundTripsPerSecond)
	fmt.Fprintf(w, "timed out\t%d", r.TimedOut)
	if r.Late > 0 {
		fmt.Fprintf(w, " (%d answered late)", r.Late)
	}
	fmt.Fprintln(w)
	if r.Duplicates > 0 {
		fmt.Fprintf(w, "duplicates\t%d\n", r.Duplicates)
	}
	if r.Unexpected > 0 {
		fmt.Fprintf(w, "unexpected\t%d (not answers to this run's updates)\n", r.Unexpected)
	}
	switch {
	case r.Accepted+r.Late == 0:
		fmt.Fprintf(w, "versions\tnone seen (no update accepted)\n")
	case r.VersionRegressions == 0 && r.VersionsNotSeen == 0:
		fmt.Fprintf(w, "versions\tstrictly increasing by one on every device\n")
	default:
		fmt.Fprintf(w, "versions\t%d not above the previous, %d skipped\n", r.VersionRegressions, r.VersionsNotSeen)
	}
	writeLatencyHeader(w, "latency")
	writeLatency(w, "update→accepted", r.Latency)
	if r.RejectedLatency != nil {
		writeLatency(w, "update→rejected", *r.RejectedLatency)
	}
	writeLatency(w, "connect (total)", r.Connect.Total)
	if len(r.RejectedByCode) > 0 {
		named := make(map[string]int, len(r.RejectedByCode))
		for code, n := range r.RejectedByCode {
			named[code+" "+r.RejectedMessages[code]] = n
		}
		writeCounts(w, "rejected by code", named)
	}
	writeCounts(w, "disconnected by the server", r.Disconnects)
}

// bytesText prints a byte count in binary units.
func bytesText(b float64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.2f GiB", b/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", b/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", b/(1<<10))
	}
	return fmt.Sprintf("%.0f B", b)
}
