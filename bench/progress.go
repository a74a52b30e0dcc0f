package bench

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// startProgress prints a progress line to w every second, made by line from the time elapsed,
// until the returned stop is called. Runs shorter than a second print nothing. A nil w prints
// nothing at all.
func startProgress(w io.Writer, scenario string, line func(elapsed time.Duration) string) (stop func()) {
	if w == nil {
		return func() {}
	}
	start := time.Now()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				el := time.Since(start)
				fmt.Fprintf(w, "bench %s %5.1fs  %s\n", scenario, el.Seconds(), line(el))
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done); wg.Wait() }) }
}

// perSecond divides a count by a duration, 0 for an empty duration.
func perSecond(n float64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return n / d.Seconds()
}
