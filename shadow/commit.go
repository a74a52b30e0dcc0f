package shadow

import (
	"errors"
	"sync"

	"go.etcd.io/bbolt"
)

// Group commit. Every accepted update or delete must be on disk before its answer, and an fsync
// costs far more than the work of an update (~0.2 ms against ~0.02 ms). Writes therefore share
// transactions: a write that finds no commit in progress leads — it commits, in its own
// goroutine, itself and every write that queued meanwhile, in one bbolt transaction with one
// fsync; writes that arrive while a commit is on disk queue and are answered after the commit
// that carries them. When the leader's own commit is done and writes are waiting, it hands the
// lead to the first of them and returns, so no caller commits for others indefinitely. A lone
// write therefore runs at once in its caller's goroutine, as it did before group commit.
//
// bbolt's own DB.Batch does the same but waits up to MaxBatchDelay (10 ms) for a batch to fill,
// which would add that delay to a lone update.

// maxCommitBatch bounds the requests of one transaction (and so the latency a request waits for
// the others of its batch).
const maxCommitBatch = 256

// errStoreClosed answers writes after Close.
var errStoreClosed = errors.New("shadow: store closed")

// writeReq is one write transaction's work. fn may run more than once (a batch that fails is
// retried one request at a time): it must set its results afresh on each run.
type writeReq struct {
	fn   func(*bbolt.Tx) error
	done chan writeResult // buffered (1): the answer, or the lead
}

// writeResult answers a queued write: its commit's error, or lead when the write is to lead the
// next commit itself.
type writeResult struct {
	err  error
	lead bool
}

// committer groups the store's write transactions.
type committer struct {
	db *bbolt.DB

	mu      sync.Mutex
	queue   []*writeReq
	leading bool // a commit is in progress (its leader will hand on or clear this)
	closed  bool
}

func newCommitter(db *bbolt.DB) *committer { return &committer{db: db} }

// update runs fn in a write transaction that is committed (and synced, unless the store is
// NoSync) when update returns nil.
func (c *committer) update(fn func(*bbolt.Tx) error) error {
	r := &writeReq{fn: fn, done: make(chan writeResult, 1)}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return errStoreClosed
	}
	c.queue = append(c.queue, r)
	if c.leading {
		c.mu.Unlock()
		if res := <-r.done; !res.lead {
			return res.err
		}
		c.mu.Lock() // handed the lead: r is first in the queue
	}
	c.leading = true
	n := min(len(c.queue), maxCommitBatch)
	batch := c.queue[:n:n]
	c.queue = append([]*writeReq(nil), c.queue[n:]...)
	c.mu.Unlock()

	c.commit(batch) // answers r too, first of the batch

	c.mu.Lock()
	if len(c.queue) > 0 {
		c.queue[0].done <- writeResult{lead: true}
	} else {
		c.leading = false
	}
	c.mu.Unlock()
	return (<-r.done).err
}

// close refuses later writes. Writes already queued are still committed (or fail with the
// store's error once it is closed).
func (c *committer) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
}

// commit runs a batch in one transaction. When it fails, each request runs again alone, so that
// one request's error does not undo the others and each gets its own answer.
func (c *committer) commit(batch []*writeReq) {
	err := c.db.Update(func(tx *bbolt.Tx) error {
		for _, r := range batch {
			if err := r.fn(tx); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil || len(batch) == 1 {
		for _, r := range batch {
			r.done <- writeResult{err: err}
		}
		return
	}
	for _, r := range batch {
		r.done <- writeResult{err: c.db.Update(r.fn)}
	}
}
