package shadow

import (
	"fmt"
	"sync"
	"testing"
)

// BenchmarkUpdateSync10 is BenchmarkUpdateSync with 10 writers, each updating its own shadow in
// a closed loop (the next update when the last is answered), as 10 devices do: an operation is
// one update; with group commit concurrent updates share an fsync.
//
//	go test -run '^$' -bench 'UpdateSync' -benchtime 3000x ./shadow/
func BenchmarkUpdateSync10(b *testing.B) {
	svc := openTest(b, Options{})
	payload := fmt.Appendf(nil, smallUpdate, 1)
	const writers = 10
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	per := b.N / writers
	for w := range writers {
		n := per
		if w == 0 {
			n += b.N % writers
		}
		key := Key{Thing: fmt.Sprintf("bench-%d", w)}
		wg.Go(func() {
			for range n {
				if r := svc.Update(key, payload); r.Status != 200 {
					b.Error(string(r.Body))
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
}
