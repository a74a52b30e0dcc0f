package bench

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// MemoryProbe reads how much memory the server under test holds, so the idle scenario can
// report a measured cost per connection rather than an estimate.
type MemoryProbe interface {
	// Source says what is read, for the report.
	Source() string
	// Read returns the current figure in bytes.
	Read() (uint64, error)
}

// InProcessMemory reads this process's Go heap and stacks in use (HeapInuse + StackInuse)
// after a garbage collection: the figure for an emulator embedded in the same process as the
// load generator. It then includes the load generator's own connections too, so it is an upper
// bound for the server alone.
type InProcessMemory struct{}

// Source implements MemoryProbe.
func (InProcessMemory) Source() string {
	return "in-process Go heap+stack in use after GC (includes the load generator's own connections)"
}

// Read implements MemoryProbe.
func (InProcessMemory) Read() (uint64, error) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + ms.StackInuse, nil
}

// ProcessMemory reads the resident set size (VmRSS in /proc/PID/status) of another process,
// such as a broker started separately. Linux only.
type ProcessMemory struct{ PID int }

// Source implements MemoryProbe.
func (p ProcessMemory) Source() string { return fmt.Sprintf("VmRSS of process %d", p.PID) }

// Read implements MemoryProbe.
func (p ProcessMemory) Read() (uint64, error) {
	path := fmt.Sprintf("/proc/%d/status", p.PID)
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("read server memory: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest) // "123456 kB"
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("read server memory: unexpected VmRSS line %q in %s", sc.Text(), path)
		}
		kb, err := strconv.ParseUint(fields[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("read server memory: VmRSS in %s: %w", path, err)
		}
		return kb * 1024, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read server memory: %w", err)
	}
	return 0, fmt.Errorf("read server memory: no VmRSS in %s (is %d a kernel thread?)", path, p.PID)
}
