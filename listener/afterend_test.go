package listener

import "testing"

// TestAfterEnd checks that functions given to AfterEnd run once the connection has ended, in
// order, and at once when it has ended already.
func TestAfterEnd(t *testing.T) {
	c := &Conn{ended: make(chan struct{})}
	var calls []string
	c.AfterEnd(func() { calls = append(calls, "first") })
	c.AfterEnd(func() { calls = append(calls, "second") })
	if len(calls) != 0 {
		t.Fatalf("called before the end: %v", calls)
	}
	c.end()
	select {
	case <-c.Ended():
	default:
		t.Fatal("Ended is not closed after end")
	}
	c.AfterEnd(func() { calls = append(calls, "late") })
	if got := len(calls); got != 3 || calls[0] != "first" || calls[1] != "second" || calls[2] != "late" {
		t.Fatalf("calls %v, want first, second, late", calls)
	}
}
