package main

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
)

// startLog holds serve's log records until the start is decided: on success they are written
// (before the banner), on failure only warnings and errors are, so that the error that ended
// the start is what the user reads last and not buried under routine lines.
type startLog struct {
	mu       sync.Mutex
	held     []heldRecord
	released atomic.Bool // read without the lock once set: logging after the start costs no lock
}

type heldRecord struct {
	h slog.Handler
	r slog.Record
}

// handler wraps next so that its records are held until release.
func (l *startLog) handler(next slog.Handler) slog.Handler { return startLogHandler{next, l} }

// release writes the held records at or above min and lets later records through at once.
func (l *startLog) release(ctx context.Context, min slog.Level) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, h := range l.held {
		if h.r.Level >= min {
			_ = h.h.Handle(ctx, h.r)
		}
	}
	l.held = nil
	l.released.Store(true)
}

type startLogHandler struct {
	next slog.Handler
	log  *startLog
}

func (h startLogHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

func (h startLogHandler) Handle(ctx context.Context, r slog.Record) error {
	if !h.log.released.Load() {
		h.log.mu.Lock()
		if !h.log.released.Load() {
			h.log.held = append(h.log.held, heldRecord{h.next, r.Clone()})
			h.log.mu.Unlock()
			return nil
		}
		h.log.mu.Unlock()
	}
	return h.next.Handle(ctx, r)
}

func (h startLogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return startLogHandler{h.next.WithAttrs(attrs), h.log}
}

func (h startLogHandler) WithGroup(name string) slog.Handler {
	return startLogHandler{h.next.WithGroup(name), h.log}
}
