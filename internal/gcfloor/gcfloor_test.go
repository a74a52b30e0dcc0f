package gcfloor

import (
	"runtime"
	"runtime/debug"
	"testing"
)

// sink keeps allocations from being optimised away.
var sink []byte

// TestFloorRaisesAndRestoresGOGC checks the floor's effect through the runtime itself: while it
// runs, GOGC is above 100 for a small live heap and the heap goal reaches the floor; after Stop
// the GOGC of before is back.
func TestFloorRaisesAndRestoresGOGC(t *testing.T) {
	if UserTuned() {
		t.Skip("GOGC or GOMEMLIMIT set: the floor stays off by design")
	}
	before := debug.SetGCPercent(100)
	debug.SetGCPercent(before)

	const floorBytes = 64 << 20
	stop, st := Start(floorBytes)
	if !st.Active {
		t.Fatalf("floor not started: %s", st.Reason)
	}
	if _, again := Start(floorBytes); again.Active {
		t.Fatal("a second floor started in the same process")
	}
	// A few GC cycles so the finalizer adjusts after each.
	for range 3 {
		runtime.GC()
		for range 100 {
			sink = make([]byte, 1024)
		}
	}
	cur := Current()
	if cur.Percent <= 100 {
		t.Fatalf("GOGC %d with a small live heap and a %d MiB floor; want > 100", cur.Percent, floorBytes>>20)
	}
	if got := debug.SetGCPercent(cur.Percent); got != cur.Percent {
		t.Fatalf("runtime GOGC %d, floor reports %d", got, cur.Percent)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if ms.NextGC < floorBytes*9/10 {
		t.Fatalf("heap goal %d bytes below the %d-byte floor", ms.NextGC, floorBytes)
	}
	stop()
	if got := debug.SetGCPercent(before); got != before {
		t.Fatalf("GOGC %d after Stop, want the %d of before", got, before)
	}
	if Current().Active {
		t.Fatal("floor still reported running after Stop")
	}
}

// TestFloorLeavesLargeHeapsAlone: with a live heap above the floor GOGC stays at 100.
func TestFloorLeavesLargeHeapsAlone(t *testing.T) {
	if UserTuned() {
		t.Skip("GOGC or GOMEMLIMIT set")
	}
	big := make([]byte, 8<<20)
	for i := range big {
		big[i] = byte(i)
	}
	stop, st := Start(4 << 20) // below the live heap
	defer stop()
	if !st.Active {
		t.Fatalf("floor not started: %s", st.Reason)
	}
	runtime.GC()
	runtime.GC()
	if p := Current().Percent; p != 100 {
		t.Fatalf("GOGC %d with a live heap above the floor; want 100", p)
	}
	runtime.KeepAlive(big)
}

// TestUserTunedDisables: GOGC in the environment keeps the floor off.
func TestUserTunedDisables(t *testing.T) {
	t.Setenv("GOGC", "200")
	stop, st := Start(64 << 20)
	defer stop()
	if st.Active {
		t.Fatal("floor started although GOGC is set")
	}
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "1GiB")
	if _, st := Start(64 << 20); st.Active {
		t.Fatal("floor started although GOMEMLIMIT is set")
	}
}
