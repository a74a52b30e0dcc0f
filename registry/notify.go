package registry

import "sync"

// notifier delivers committed events to watchers in commit order. Each write transaction that has
// events takes a ticket while it still holds bbolt's writer lock; delivery then waits until all
// earlier tickets are delivered, so two goroutines committing back to back cannot overtake each
// other at the watchers.
type notifier struct {
	mu       sync.Mutex
	turn     *sync.Cond
	issued   uint64 // next ticket to hand out
	served   uint64 // next ticket allowed to deliver
	nextID   uint64
	watchers map[uint64]func(Event)
	order    []uint64 // watcher ids in registration order
}

func newNotifier() *notifier {
	n := &notifier{watchers: make(map[uint64]func(Event))}
	n.turn = sync.NewCond(&n.mu)
	return n
}

// add registers fn and returns a function that unregisters it (safe to call more than once).
func (n *notifier) add(fn func(Event)) (cancel func()) {
	n.mu.Lock()
	id := n.nextID
	n.nextID++
	n.watchers[id] = fn
	n.order = append(n.order, id)
	n.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			n.mu.Lock()
			defer n.mu.Unlock()
			delete(n.watchers, id)
			for i, w := range n.order {
				if w == id {
					n.order = append(n.order[:i:i], n.order[i+1:]...)
					break
				}
			}
		})
	}
}

// ticket reserves the next place in the delivery order.
func (n *notifier) ticket() uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	t := n.issued
	n.issued++
	return t
}

// deliver waits for ticket t's turn, calls every watcher with events (none when events is empty)
// and passes the turn on, even if a watcher panics.
func (n *notifier) deliver(t uint64, events []Event) {
	n.mu.Lock()
	for n.served != t {
		n.turn.Wait()
	}
	fns := make([]func(Event), 0, len(n.order))
	for _, id := range n.order {
		fns = append(fns, n.watchers[id])
	}
	n.mu.Unlock()

	defer func() {
		n.mu.Lock()
		n.served++
		n.turn.Broadcast()
		n.mu.Unlock()
	}()
	for _, e := range events {
		for _, fn := range fns {
			fn(e)
		}
	}
}
