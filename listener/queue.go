package listener

import (
	"fmt"
	"net"
	"sync"
)

// connQueue is the net.Listener the HTTP server accepts from: connections are pushed into it
// by the Listener's handshake goroutines, one at a time, until it is closed.
type connQueue struct {
	addr      net.Addr
	conns     chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
}

var _ net.Listener = (*connQueue)(nil)

func newConnQueue(addr net.Addr) *connQueue {
	return &connQueue{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

// push waits until the server accepts c, and reports false if the queue is closed first.
func (q *connQueue) push(c net.Conn) bool {
	select {
	case <-q.done:
		return false
	default:
	}
	select {
	case q.conns <- c:
		return true
	case <-q.done:
		return false
	}
}

// Accept returns the next pushed connection, or net.ErrClosed once the queue is closed.
func (q *connQueue) Accept() (net.Conn, error) {
	select {
	case c := <-q.conns:
		return c, nil
	case <-q.done:
		return nil, fmt.Errorf("https connection queue: %w", net.ErrClosed)
	}
}

// Close stops Accept and push; it is safe to call more than once.
func (q *connQueue) Close() error {
	q.closeOnce.Do(func() { close(q.done) })
	return nil
}

// Addr is the address of the Listener's socket.
func (q *connQueue) Addr() net.Addr { return q.addr }

// gate counts running work and tells when none is left. Unlike sync.WaitGroup, work may start
// while someone waits, and a wait can be bounded.
type gate struct {
	mu      sync.Mutex
	n       int
	waiters []chan struct{}
}

func (g *gate) enter() {
	g.mu.Lock()
	g.n++
	g.mu.Unlock()
}

func (g *gate) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n--
	if g.n == 0 {
		for _, w := range g.waiters {
			close(w)
		}
		g.waiters = nil
	}
}

// idle returns a channel closed once no work is running.
func (g *gate) idle() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	ch := make(chan struct{})
	if g.n == 0 {
		close(ch)
	} else {
		g.waiters = append(g.waiters, ch)
	}
	return ch
}

func (g *gate) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.n
}
