package listener

import (
	"slices"
	"sync"
)

// Default bounds of a Transcripts store.
const (
	// DefaultPerClient is how many connections of one client id a store keeps.
	DefaultPerClient = 8
	// subscriberBuffer is how many records a slow stream subscriber may lag behind before
	// records are dropped for it (the listener never waits for a reader).
	subscriberBuffer = 256
)

// Filter selects records; an empty field matches everything.
type Filter struct {
	ClientID      string
	CertificateID string
	Outcome       string
	Personality   string
}

// Match reports whether r passes the filter.
func (f Filter) Match(r *Record) bool {
	return (f.ClientID == "" || r.ClientID == f.ClientID) &&
		(f.CertificateID == "" || r.CertificateID == f.CertificateID) &&
		(f.Outcome == "" || r.Outcome == f.Outcome) &&
		(f.Personality == "" || r.Personality == f.Personality)
}

// Transcripts keeps finished transcripts in memory, bounded, safe for concurrent use.
//
// Records with a client id are kept per client id (the last DefaultPerClient connections of
// each), so that a user's own device keeps its history while a bench run connects thousands of
// others. At most capacity client ids are kept; beyond that, client ids with no open connection
// are dropped, first those seen on a single connection, newest first (a burst of one-off
// clients churns among itself), then the least recently active. Records without a client id
// (handshake failures, HTTPS, connections closed before CONNECT) share one ring of capacity
// records. Records show their later changes (the disconnect of an open connection), and
// Subscribe streams every new or changed record.
type Transcripts struct {
	mu        sync.Mutex
	capacity  int
	perClient int
	seq       uint64
	anon      ring
	clients   map[string]*clientHistory
	subs      map[chan Record]struct{}
}

// ring is a bounded FIFO of transcripts.
type ring struct {
	buf  []*Transcript
	next int
	full bool
}

func (r *ring) push(t *Transcript) {
	r.buf[r.next] = t
	r.next++
	if r.next == len(r.buf) {
		r.next, r.full = 0, true
	}
}

func (r *ring) all(out []*Transcript) []*Transcript {
	if r.full {
		out = append(out, r.buf[r.next:]...)
	}
	return append(out, r.buf[:r.next]...)
}

// clientHistory is the kept connections of one client id.
type clientHistory struct {
	ring
	created uint64 // store sequence when the client id was first kept
	last    uint64 // store sequence of its newest record
	conns   int    // connections seen (not only kept)
}

// NewTranscripts returns a store keeping capacity records without a client id and the
// connections of up to capacity client ids (each at least one).
func NewTranscripts(capacity int) *Transcripts {
	capacity = max(capacity, 1)
	return &Transcripts{
		capacity:  capacity,
		perClient: DefaultPerClient,
		anon:      ring{buf: make([]*Transcript, capacity)},
		clients:   make(map[string]*clientHistory),
	}
}

// add keeps a transcript that has just been finished, under its client id ("" for none).
func (s *Transcripts) add(t *Transcript, clientID string) {
	s.mu.Lock()
	s.seq++
	seq := s.seq
	t.mu.Lock()
	t.seq = seq
	t.mu.Unlock()
	if clientID == "" {
		s.anon.push(t)
	} else {
		h := s.clients[clientID]
		if h == nil {
			h = &clientHistory{ring: ring{buf: make([]*Transcript, s.perClient)}, created: seq}
			s.clients[clientID] = h
		}
		h.push(t)
		h.last = seq
		h.conns++
		if len(s.clients) > s.capacity {
			s.evictLocked(clientID)
		}
	}
	s.publishLocked(t)
	s.mu.Unlock()
}

// updated streams a kept transcript again after a change.
func (s *Transcripts) updated(t *Transcript) {
	s.mu.Lock()
	s.publishLocked(t)
	s.mu.Unlock()
}

// publishLocked sends a snapshot to every subscriber that has room.
func (s *Transcripts) publishLocked(t *Transcript) {
	if len(s.subs) == 0 {
		return
	}
	rec := t.Record()
	for ch := range s.subs {
		select {
		case ch <- rec:
		default: // a slow reader misses records rather than stalling connections
		}
	}
}

// evictLocked drops client ids until a tenth of the capacity is free again, never keep (the
// client id just added) nor one with an open connection.
func (s *Transcripts) evictLocked(keep string) {
	type candidate struct {
		id string
		h  *clientHistory
	}
	var single, multi []candidate
	for id, h := range s.clients {
		if id == keep || h.hasOpen() {
			continue
		}
		if h.conns == 1 {
			single = append(single, candidate{id, h})
		} else {
			multi = append(multi, candidate{id, h})
		}
	}
	slices.SortFunc(single, func(a, b candidate) int { return compareSeq(b.h.created, a.h.created) }) // newest first
	slices.SortFunc(multi, func(a, b candidate) int { return compareSeq(a.h.last, b.h.last) })        // least recent first
	target := s.capacity - max(s.capacity/10, 1)
	for _, c := range append(single, multi...) {
		if len(s.clients) <= target {
			return
		}
		delete(s.clients, c.id)
	}
}

func compareSeq(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// hasOpen reports whether one of the kept connections is still open.
func (h *clientHistory) hasOpen() bool {
	for _, t := range h.buf {
		if t != nil && t.isOpen() {
			return true
		}
	}
	return false
}

// Records returns snapshots of the kept records, oldest first (by when they were finished).
func (s *Transcripts) Records() []Record { return s.Query(Filter{}) }

// Query returns snapshots of the kept records the filter matches, oldest first.
func (s *Transcripts) Query(f Filter) []Record {
	s.mu.Lock()
	var ts []*Transcript
	if f.ClientID != "" {
		if h := s.clients[f.ClientID]; h != nil {
			ts = h.all(ts)
		}
	} else {
		ts = s.anon.all(ts)
		for _, h := range s.clients {
			ts = h.all(ts)
		}
	}
	s.mu.Unlock()

	type entry struct {
		seq uint64
		rec Record
	}
	entries := make([]entry, 0, len(ts))
	for _, t := range ts {
		t.mu.Lock()
		seq := t.seq
		rec := t.snapshotLocked()
		t.mu.Unlock()
		if f.Match(&rec) {
			entries = append(entries, entry{seq, rec})
		}
	}
	slices.SortFunc(entries, func(a, b entry) int { return compareSeq(a.seq, b.seq) })
	out := make([]Record, len(entries))
	for i := range entries {
		out[i] = entries[i].rec
	}
	return out
}

// Subscribe returns a channel receiving every record kept or changed from now on, and a
// function that ends the subscription (it closes the channel). A reader that falls more than
// a few hundred records behind misses records.
func (s *Transcripts) Subscribe() (<-chan Record, func()) {
	ch := make(chan Record, subscriberBuffer)
	s.mu.Lock()
	if s.subs == nil {
		s.subs = make(map[chan Record]struct{})
	}
	s.subs[ch] = struct{}{}
	s.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			s.mu.Lock()
			delete(s.subs, ch)
			s.mu.Unlock()
			close(ch)
		})
	}
}
