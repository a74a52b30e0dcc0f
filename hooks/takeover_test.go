package hooks

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestConnectGateSerializesOneClientID: holders of one client id's gate never overlap; other ids
// are not held up; a wait that runs out reports it.
func TestConnectGateSerializesOneClientID(t *testing.T) {
	var g connectGate
	var inside, overlaps atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			leave, ok := g.enter("same", 10*time.Second)
			if !ok {
				t.Error("gate wait ran out")
				return
			}
			if inside.Add(1) > 1 {
				overlaps.Add(1)
			}
			time.Sleep(100 * time.Microsecond)
			inside.Add(-1)
			leave()
			leave() // leaving twice is harmless
		}()
	}
	wg.Wait()
	if n := overlaps.Load(); n > 0 {
		t.Fatalf("%d connects held one client id's gate at once", n)
	}

	leave, _ := g.enter("a", time.Second)
	if _, ok := g.enter("b", time.Second); !ok {
		t.Fatal("another client id waited for a's gate")
	}
	if _, ok := g.enter("a", 10*time.Millisecond); ok {
		t.Fatal("a's gate entered twice")
	}
	leave()
	if _, ok := g.enter("a", time.Second); !ok {
		t.Fatal("a's gate not free after leaving")
	}
}
