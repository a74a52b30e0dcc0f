package reliability

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
)

// TestTakeoverStormReconnecting: 50 devices sharing one client id reconnect over and over (1,000
// CONNECTs), as a fleet with a copied client id does. Every CONNECT of the authorised certificate
// is accepted: none gets CONNACK 5, none is closed without CONNACK. (Before the connect gate, about 1
// in 500 was refused; `go test -run Storm -count 5 ./reliability` runs it longer.)
func TestTakeoverStormReconnecting(t *testing.T) {
	r := start(t)
	const workers, perWorker = 50, 20
	var accepted, refused, silent atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWorker; i++ {
				c := r.dial(t)
				code, err := c.connack("storm", 4)
				switch {
				case err != nil:
					silent.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				case code != 0:
					refused.Add(1)
				default:
					accepted.Add(1)
				}
				c.c.Close()
			}
		}()
	}
	wg.Wait()
	if refused.Load() > 0 || silent.Load() > 0 {
		t.Fatalf("of %d CONNECTs: %d accepted, %d refused with a CONNACK code, %d closed without CONNACK (first: %v)",
			workers*perWorker, accepted.Load(), refused.Load(), silent.Load(), firstErr.Load())
	}
}

// TestTakeoverStorm: many clients CONNECT with one client id at once, over and over, with an
// authorised certificate. On AWS the newer connection always wins and the older gets
// DUPLICATE_CLIENTID: every CONNECT is accepted (CONNACK 0), none is refused or closed silently,
// and when the storm settles exactly one connection is left.
func TestTakeoverStorm(t *testing.T) {
	r := start(t)
	const clients, rounds = 40, 3
	for round := 0; round < rounds; round++ {
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			refused = map[byte]int{}
			silent  []error
			conns   []*mqttConn
		)
		for i := 0; i < clients; i++ {
			c := r.dial(t)
			wg.Add(1)
			go func() {
				defer wg.Done()
				code, err := c.connack("storm", 4)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err != nil:
					silent = append(silent, err)
				case code != 0:
					refused[code]++
				default:
					conns = append(conns, c)
				}
			}()
		}
		wg.Wait()
		if len(refused) > 0 || len(silent) > 0 {
			t.Fatalf("round %d: %d of %d CONNECTs refused %v, %d closed without CONNACK (%v)",
				round, sumCodes(refused), clients, refused, len(silent), firstErrs(silent))
		}
		alive := 0
		for _, c := range conns {
			if c.alive() {
				alive++
			}
		}
		if alive != 1 {
			t.Fatalf("round %d: %d connections still open after the storm, want exactly 1 (the newest)", round, alive)
		}
		for _, c := range conns {
			c.c.Close()
		}
	}
}

func sumCodes(m map[byte]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func firstErrs(errs []error) string {
	if len(errs) == 0 {
		return ""
	}
	eof := 0
	for _, e := range errs {
		if errors.Is(e, io.EOF) {
			eof++
		}
	}
	return fmt.Sprintf("first: %v; EOF: %d", errs[0], eof)
}
