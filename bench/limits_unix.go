//go:build unix

package bench

import (
	"fmt"
	"log/slog"
	"syscall"
)

// ensureFileLimit makes room for need open files in this process: it raises the soft limit,
// and the hard one when privileged, and explains what to do when it cannot. Thousands of
// connections otherwise fail one by one with "too many open files" halfway through a run.
func ensureFileLimit(need int, log *slog.Logger) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("read the open-file limit: %w", err)
	}
	want := uint64(need)
	if lim.Cur >= want {
		return nil
	}
	raised := lim
	raised.Cur = want
	if raised.Max < want {
		raised.Max = want // only a privileged process may; tried anyway
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err != nil {
		return fmt.Errorf("the run needs about %d open files but the limit is %d (hard %d) and raising it failed: %w; raise it with ulimit -n or run fewer connections", need, lim.Cur, lim.Max, err)
	}
	log.Info("bench: raised the open-file limit", "from", lim.Cur, "to", raised.Cur)
	return nil
}
