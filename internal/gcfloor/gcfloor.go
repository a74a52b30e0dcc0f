// Package gcfloor gives the Go garbage collector a heap floor that adapts to the live heap.
//
// A broker keeps little live heap (a few MiB with a handful of devices) but allocates for every
// message, so with Go's default GOGC=100 the heap goal sits at the 4 MiB minimum and a GC cycle
// runs every few MiB allocated: at tens of thousands of messages a second that is a cycle every
// few milliseconds. The floor raises the goal to at least Floor bytes while the live heap is
// small, by setting GOGC after every cycle from the live heap and the GC roots the runtime
// reports (runtime/metrics); once the live heap is large enough for GOGC=100 to reach the floor
// by itself, GOGC stays at 100, so a large fleet's heap grows exactly as without the floor.
// Nothing is allocated to hold the heap up (no ballast): the cost is garbage that waits longer,
// at most Floor bytes of resident memory under load.
//
// The floor stays out of the way when the user tuned the collector: with GOGC or GOMEMLIMIT in
// the environment, Start does nothing.
package gcfloor

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// DefaultMiB is the floor "iotcore-local serve" uses unless told otherwise (--gc-heap-floor).
const DefaultMiB = 64

// maxPercent bounds the GOGC the floor sets, so that a live heap that suddenly grows cannot
// get a goal far beyond the floor before the next adjustment.
const maxPercent = 10000

// basePercent is Go's default GOGC: the floor never sets less.
const basePercent = 100

var (
	mu      sync.Mutex
	active  *floor // the running floor, if any; the collector is process-wide, so at most one
	samples = []metrics.Sample{
		{Name: "/gc/heap/live:bytes"},
		{Name: "/gc/scan/stack:bytes"},
		{Name: "/gc/scan/globals:bytes"},
	}
)

// floor is one running heap floor.
type floor struct {
	mu       sync.Mutex // orders adjust and stop
	bytes    uint64
	previous int // the GOGC before Start, restored by Stop
	stopped  atomic.Bool
	percent  atomic.Int64 // the GOGC last set
	cycles   atomic.Int64 // adjustments made (one per GC cycle)
}

// Status describes the floor for logs and tests.
type Status struct {
	Active  bool   // the floor is running
	Reason  string // why not, when not active
	Bytes   uint64 // the floor
	Percent int    // the GOGC it last set
	Cycles  int64  // GC cycles it has adjusted after
}

// UserTuned reports whether the environment sets GOGC or GOMEMLIMIT, in which case Start
// leaves the collector alone.
func UserTuned() bool {
	return os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != ""
}

// Start sets a heap floor of floorBytes and returns the function that removes it (restoring the
// GOGC of before). It does nothing (and says why in the Status) when floorBytes is 0, when the
// user set GOGC or GOMEMLIMIT, or when a floor already runs in this process.
func Start(floorBytes uint64) (stop func(), st Status) {
	nop := func() {}
	switch {
	case floorBytes == 0:
		return nop, Status{Reason: "no floor configured"}
	case UserTuned():
		return nop, Status{Reason: "GOGC or GOMEMLIMIT set in the environment"}
	}
	mu.Lock()
	defer mu.Unlock()
	if active != nil {
		return nop, Status{Reason: "a heap floor already runs in this process"}
	}
	f := &floor{bytes: floorBytes}
	f.previous = debug.SetGCPercent(basePercent)
	f.percent.Store(basePercent)
	active = f
	f.adjust()
	f.arm()
	return f.stop, f.status()
}

// Current reports the running floor, if any.
func Current() Status {
	mu.Lock()
	defer mu.Unlock()
	if active == nil {
		return Status{Reason: "not running"}
	}
	return active.status()
}

func (f *floor) status() Status {
	return Status{Active: true, Bytes: f.bytes, Percent: int(f.percent.Load()), Cycles: f.cycles.Load()}
}

// sentinel is an object whose finalizer runs once after the GC cycle that finds it unreachable.
type sentinel struct{ f *floor }

// arm allocates a sentinel that calls back after the next GC cycle; each callback re-arms, so
// the floor is adjusted once per cycle with no goroutine of its own.
func (f *floor) arm() {
	s := &sentinel{f: f}
	runtime.SetFinalizer(s, func(s *sentinel) {
		if s.f.stopped.Load() {
			return
		}
		s.f.adjust()
		s.f.cycles.Add(1)
		s.f.arm()
	})
}

// adjust sets GOGC so that the next heap goal is at least the floor. The runtime's goal is
// live + (live + stacks + globals) × GOGC/100, so the GOGC that reaches the floor is
// (floor − live) × 100 / (live + stacks + globals), never less than 100.
func (f *floor) adjust() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped.Load() {
		return
	}
	metrics.Read(samples)
	var live, roots uint64
	for i, s := range samples {
		if s.Value.Kind() != metrics.KindUint64 {
			continue
		}
		v := s.Value.Uint64()
		if i == 0 {
			live = v
		}
		roots += v
	}
	pct := int64(basePercent)
	if roots > 0 && live < f.bytes {
		pct = max(basePercent, min(maxPercent, int64((f.bytes-live)*100/roots)))
	}
	// Setting GOGC recomputes the goal at once; skip changes under ~5 % to keep it quiet.
	if old := f.percent.Load(); pct != old && (pct > old+old/20 || pct < old-old/20 || pct == basePercent) {
		debug.SetGCPercent(int(pct))
		f.percent.Store(pct)
	}
}

// stop removes the floor and restores the GOGC of before Start.
func (f *floor) stop() {
	mu.Lock()
	defer mu.Unlock()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped.Swap(true) {
		return
	}
	debug.SetGCPercent(f.previous)
	if active == f {
		active = nil
	}
}
