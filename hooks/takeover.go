package hooks

import (
	"slices"
	"sync"
	"time"
)

// connectGate serializes the connects of one client id: from its first CONNECT hook until its
// session is established (CONNACK sent, queued messages resent) or its connection ends, a
// connection holds its client id's gate, and other CONNECTs with that id queue for it, first come
// first served. So concurrent connects with one client id take over from each other one at a
// time, in the order they arrived: each is accepted, and the newest wins, as on AWS IoT Core.
// Without it, two CONNECTs with one id interleave in Mochi (authorization, takeover,
// registration) and one of them can be refused or closed without CONNACK though its certificate
// is authorised.
type connectGate struct {
	mu    sync.Mutex
	queue map[string]*gateQueue // client id → its holder's queue; absent when the gate is free
}

// gateQueue is the connects waiting for one client id's gate, in arrival order. Leaving the gate
// hands it to the first of them by closing its channel.
type gateQueue struct{ waiting []chan struct{} }

// enter waits (at most wait) for the client id's gate and takes it. It returns the function that
// leaves the gate (safe to call more than once), and false when the wait ran out: the caller then
// goes on without the gate, as the emulator did before it existed, rather than refuse a device.
func (g *connectGate) enter(clientID string, wait time.Duration) (leave func(), ok bool) {
	g.mu.Lock()
	if g.queue == nil {
		g.queue = map[string]*gateQueue{}
	}
	q, held := g.queue[clientID]
	if !held {
		g.queue[clientID] = &gateQueue{}
		g.mu.Unlock()
		return g.leaver(clientID), true
	}
	turn := make(chan struct{})
	q.waiting = append(q.waiting, turn)
	g.mu.Unlock()

	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-turn:
		return g.leaver(clientID), true
	case <-timer.C:
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if i := slices.Index(q.waiting, turn); i >= 0 {
		q.waiting = slices.Delete(q.waiting, i, i+1)
		return func() {}, false
	}
	return g.leaver(clientID), true // handed the gate as the wait ran out
}

// leaver returns the function with which the holder of clientID's gate leaves it once.
func (g *connectGate) leaver(clientID string) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			defer g.mu.Unlock()
			q := g.queue[clientID]
			if len(q.waiting) == 0 {
				delete(g.queue, clientID)
				return
			}
			next := q.waiting[0]
			q.waiting = q.waiting[1:]
			close(next)
		})
	}
}
