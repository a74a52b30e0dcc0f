package emulator

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestIoTLogLevel(t *testing.T) {
	tests := []struct {
		set  string // "" leaves the level as at start
		want []string
	}{
		{"", []string{"debug", "info", "warn", "error"}},
		{"DEBUG", []string{"debug", "info", "warn", "error"}},
		{"INFO", []string{"info", "warn", "error"}},
		{"WARN", []string{"warn", "error"}},
		{"ERROR", []string{"error"}},
		{"DISABLED", nil},
		{"LOUD", []string{"debug", "info", "warn", "error"}}, // unknown: unchanged
	}
	for _, tc := range tests {
		t.Run(tc.set, func(t *testing.T) {
			var buf bytes.Buffer
			base := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
			l := newIoTLogLevel()
			log := l.wrap(base).With("component", "lifecycle")
			l.set(tc.set)
			log.Debug("debug")
			log.Info("info")
			log.Warn("warn")
			log.Error("error")
			var got []string
			for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
				if i := strings.Index(line, "msg="); i >= 0 {
					got = append(got, strings.Fields(line[i+4:])[0])
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("after %q logged %v, want %v", tc.set, got, tc.want)
			}
		})
	}
	// The wrapper never adds what the emulator's own level hides.
	var buf bytes.Buffer
	l := newIoTLogLevel()
	l.set("DEBUG")
	l.wrap(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))).Info("hidden")
	if buf.Len() != 0 {
		t.Errorf("an Info line passed a Warn handler: %s", buf.String())
	}
}
