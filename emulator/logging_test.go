package emulator

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// Mochi's per-message "client store quota reached" becomes at most one explained line a second,
// which counts the drops it stands for.
func TestDropLinesAreExplainedAndRateLimited(t *testing.T) {
	var buf bytes.Buffer
	h := newQuietBrokerHandler(slog.NewTextHandler(&buf, nil), 4096)
	log := slog.New(h).With("component", "broker")
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	emit := func(at time.Duration) {
		r := slog.NewRecord(t0.Add(at), slog.LevelWarn, mochiInflightFull, 0)
		r.AddAttrs(slog.String("client", "sub-1"))
		if err := log.Handler().Handle(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		emit(time.Duration(i) * 100 * time.Millisecond)
	}
	emit(1500 * time.Millisecond)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2:\n%s", len(lines), buf.String())
	}
	for _, want := range []string{"message dropped: the subscriber's queue is full", "client=sub-1", "component=broker", "write_queue=4096", "--write-queue"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("first line lacks %q: %s", want, lines[0])
		}
	}
	if !strings.Contains(lines[1], "dropped_since_previous_line=4") {
		t.Errorf("second line does not count the 4 left out: %s", lines[1])
	}
}

// --write-queue also raises the bound of QoS 1 messages awaiting a client's PUBACK, so the flag
// the drop line names is the one that prevents the drop.
func TestWriteQueueRaisesInflightBound(t *testing.T) {
	for _, tc := range []struct{ given, want int }{{1024, 8192}, {20000, 20000}, {1 << 20, 65535}} {
		cfg := TestConfig(t.TempDir())
		cfg.Logger = slog.New(slog.DiscardHandler)
		cfg.Demo = false
		cfg.WriteQueue = tc.given
		emu, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := emu.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := int(emu.broker.Options.Capabilities.MaximumInflight); got != tc.want {
			t.Errorf("WriteQueue %d: MaximumInflight %d, want %d", tc.given, got, tc.want)
		}
		if err := emu.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
