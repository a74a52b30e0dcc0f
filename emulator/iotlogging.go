package emulator

import (
	"context"
	"log/slog"
)

// iotLogLevel follows the account's AWS IoT logging options (SetV2LoggingOptions'
// defaultLogLevel, or disableAllLogs): the log lines of the IoT event components (lifecycle,
// authorization, shadows) below that level are dropped. Until the options are first set it
// lets everything through, so the emulator logs as it always did; it can only quieten what the
// emulator's own --log-level lets through, never add to it.
type iotLogLevel struct {
	level slog.LevelVar
}

// levelDisabled is above every level a component logs at: AWS's DISABLED.
const levelDisabled = slog.LevelError + 8

func newIoTLogLevel() *iotLogLevel {
	l := &iotLogLevel{}
	l.level.Set(slog.LevelDebug - 4)
	return l
}

// set applies an AWS IoT log level name; an unknown name changes nothing.
func (l *iotLogLevel) set(name string) {
	switch name {
	case "DEBUG":
		l.level.Set(slog.LevelDebug)
	case "INFO":
		l.level.Set(slog.LevelInfo)
	case "WARN":
		l.level.Set(slog.LevelWarn)
	case "ERROR":
		l.level.Set(slog.LevelError)
	case "DISABLED":
		l.level.Set(levelDisabled)
	}
}

// wrap returns a logger whose records also pass this level.
func (l *iotLogLevel) wrap(log *slog.Logger) *slog.Logger {
	return slog.New(iotLevelHandler{Handler: log.Handler(), min: &l.level})
}

// iotLevelHandler drops the records below min before its handler sees them.
type iotLevelHandler struct {
	slog.Handler
	min *slog.LevelVar
}

func (h iotLevelHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return level >= h.min.Level() && h.Handler.Enabled(ctx, level)
}

func (h iotLevelHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < h.min.Level() {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h iotLevelHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return iotLevelHandler{Handler: h.Handler.WithAttrs(attrs), min: h.min}
}

func (h iotLevelHandler) WithGroup(name string) slog.Handler {
	return iotLevelHandler{Handler: h.Handler.WithGroup(name), min: h.min}
}
