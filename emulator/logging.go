package emulator

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// quietBrokerHandler adapts Mochi's log lines for people. It demotes Mochi's empty-message
// warnings (logged for every session that ends with an error, such as a refused CONNECT) to
// Debug: the listener's transcript and the authorizer already explain those connections. And it
// turns Mochi's "client store quota reached" (one line per dropped message, hundreds a second
// under a burst) into at most one line a second that says what happened and which flag changes
// it (drops).
type quietBrokerHandler struct {
	slog.Handler
	drops *dropNotes
}

// mochiRoutine are Mochi's start and stop lines: the start banner lists the listeners instead,
// and a start that fails should show its error, not a dozen hook lines before it.
var mochiRoutine = map[string]bool{
	"added hook": true, "attached listener": true, "mochi mqtt starting": true,
	"mochi mqtt server started": true, "gracefully stopping server": true, "stopping hook": true,
	"mochi mqtt server stopped": true,
}

// mochiInflightFull is the message Mochi logs when it drops a QoS 1 message because the client
// already has Capabilities.MaximumInflight messages awaiting its PUBACK.
const mochiInflightFull = "client store quota reached"

// dropNotes rate-limits the explanation of dropped messages.
type dropNotes struct {
	writeQueue int
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

func newQuietBrokerHandler(h slog.Handler, writeQueue int) quietBrokerHandler {
	return quietBrokerHandler{Handler: h, drops: &dropNotes{writeQueue: writeQueue}}
}

func (h quietBrokerHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == mochiInflightFull && h.drops != nil {
		return h.handleDrop(ctx, r)
	}
	if (r.Message == "" || mochiRoutine[r.Message]) && r.Level > slog.LevelDebug {
		if !h.Handler.Enabled(ctx, slog.LevelDebug) {
			return nil
		}
		r.Level = slog.LevelDebug
	}
	return h.Handler.Handle(ctx, r)
}

// handleDrop logs the first drop of each second with its meaning and remedy, and how many
// drops the lines it left out stood for.
func (h quietBrokerHandler) handleDrop(ctx context.Context, r slog.Record) error {
	d := h.drops
	d.mu.Lock()
	if !d.last.IsZero() && r.Time.Sub(d.last) < time.Second {
		d.suppressed++
		d.mu.Unlock()
		return nil
	}
	more := d.suppressed
	d.last, d.suppressed = r.Time, 0
	d.mu.Unlock()
	out := slog.NewRecord(r.Time, slog.LevelWarn, "message dropped: the subscriber's queue is full", r.PC)
	r.Attrs(func(a slog.Attr) bool { out.AddAttrs(a); return true })
	out.AddAttrs(
		slog.String("meaning", "the client has as many QoS 1 messages awaiting its PUBACK as --write-queue allows; it reads or acknowledges more slowly than messages arrive for it"),
		slog.Int("write_queue", d.writeQueue),
		slog.String("remedy", "raise serve --write-queue, or publish more slowly"),
	)
	if more > 0 {
		out.AddAttrs(slog.Int("dropped_since_previous_line", more))
	}
	return h.Handler.Handle(ctx, out)
}

func (h quietBrokerHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return quietBrokerHandler{h.Handler.WithAttrs(attrs), h.drops}
}

func (h quietBrokerHandler) WithGroup(name string) slog.Handler {
	return quietBrokerHandler{h.Handler.WithGroup(name), h.drops}
}

// logDrops says at shutdown how many messages Mochi dropped for full client queues during the
// run: those of a full outbound queue are otherwise silent.
func (e *Emulator) logDrops() {
	inflight, queue := atomic.LoadInt64(&e.broker.Info.InflightDropped), atomic.LoadInt64(&e.broker.Info.MessagesDropped)
	if inflight+queue == 0 {
		return
	}
	e.log.Warn("messages dropped during this run because a client's queue was full; raise serve --write-queue or publish more slowly",
		"awaiting_puback_full", inflight, "write_queue_full", queue, "write_queue", e.cfg.WriteQueue)
}
