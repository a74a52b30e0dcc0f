package shadow

import (
	"errors"
	"sync"

	"go.etcd.io/bbolt"
)

// Group commit. Every accepted update or delete must be on disk before its answer, and an fsync
// costs far more than the work of an update (~0.2 ms against ~0.02 ms). One goroutine therefore
// runs all write transactions of the store: it takes the next request, adds every request already
// waiting (without waiting for more), runs them in order in one bbolt transaction and answers each
// after that transaction's single fsync. A lone update starts at once, as before; concurrent
// updates queue while a commit is on disk and share the next one.
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
	done chan error
}

// committer is the store's single writer.
type committer struct {
	db      *bbolt.DB
	reqs    chan *writeReq // unbuffered: a send succeeds only while the loop receives
	quit    chan struct{}
	stopped chan struct{}
	once    sync.Once
}

func newCommitter(db *bbolt.DB) *committer {
	c := &committer{db: db, reqs: make(chan *writeReq), quit: make(chan struct{}), stopped: make(chan struct{})}
	go c.loop()
	return c
}

// update runs fn in a write transaction that is committed (and synced, unless the store is
// NoSync) when update returns nil.
func (c *committer) update(fn func(*bbolt.Tx) error) error {
	r := &writeReq{fn: fn, done: make(chan error, 1)}
	select {
	case c.reqs <- r:
	case <-c.quit:
		return errStoreClosed
	}
	return <-r.done
}

// close stops the loop after the batch in progress; later writes fail with errStoreClosed.
func (c *committer) close() {
	c.once.Do(func() { close(c.quit) })
	<-c.stopped
}

func (c *committer) loop() {
	defer close(c.stopped)
	batch := make([]*writeReq, 0, maxCommitBatch)
	for {
		batch = batch[:0]
		select {
		case r := <-c.reqs:
			batch = append(batch, r)
		case <-c.quit:
			return
		}
	fill:
		for len(batch) < maxCommitBatch {
			select {
			case r := <-c.reqs:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		c.commit(batch)
	}
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
			r.done <- err
		}
		return
	}
	for _, r := range batch {
		r.done <- c.db.Update(r.fn)
	}
}
