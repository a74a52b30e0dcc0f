package emulator

import (
	"context"
	"log/slog"
)

// quietBrokerHandler demotes Mochi's empty-message warnings (logged for every session that ends
// with an error, such as a refused CONNECT) to Debug: the listener's transcript and the
// authorizer already explain those connections.
type quietBrokerHandler struct{ slog.Handler }

func (h quietBrokerHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "" && r.Level > slog.LevelDebug {
		if !h.Handler.Enabled(ctx, slog.LevelDebug) {
			return nil
		}
		r.Level = slog.LevelDebug
	}
	return h.Handler.Handle(ctx, r)
}

func (h quietBrokerHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return quietBrokerHandler{h.Handler.WithAttrs(attrs)}
}

func (h quietBrokerHandler) WithGroup(name string) slog.Handler {
	return quietBrokerHandler{h.Handler.WithGroup(name)}
}
