//go:build !unix

package bench

import "log/slog"

// ensureFileLimit has nothing to raise outside Unix.
func ensureFileLimit(int, *slog.Logger) error { return nil }
