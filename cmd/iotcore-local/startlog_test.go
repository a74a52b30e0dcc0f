package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

func TestStartLogHoldsUntilDecided(t *testing.T) {
	for _, tc := range []struct {
		name  string
		min   slog.Level
		wants []string
		not   []string
	}{
		{"started", slog.LevelDebug, []string{"routine", "careful", "after"}, nil},
		{"failed", slog.LevelWarn, []string{"careful", "after"}, []string{"routine"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			l := &startLog{}
			log := slog.New(l.handler(slog.NewTextHandler(&buf, nil))).With("component", "x")
			log.Info("routine")
			log.Warn("careful")
			if buf.Len() != 0 {
				t.Fatalf("written before release: %s", buf.String())
			}
			l.release(context.Background(), tc.min)
			log.Info("after")
			out := buf.String()
			for _, w := range tc.wants {
				if !strings.Contains(out, "msg="+w) {
					t.Errorf("lacks %q:\n%s", w, out)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(out, "msg="+n) {
					t.Errorf("holds %q:\n%s", n, out)
				}
			}
			if !strings.Contains(out, "component=x") {
				t.Errorf("attributes lost:\n%s", out)
			}
		})
	}
}
