package hooks

import (
	"sync"
	"sync/atomic"

	mqtt "github.com/mochi-mqtt/server/v2"

	"github.com/iotcore-local/iotcore-local/auth"
)

// session is the authorization state of one client id: who it is and its compiled policies.
// It outlives the network connection for persistent sessions, so that messages queued for an
// offline client are still checked against its policies.
type session struct {
	client *mqtt.Client
	who    *principal
	policy atomic.Pointer[auth.Compiled]

	// pending maps the filters of the SUBSCRIBE being processed to their iot:Subscribe decision;
	// nil outside a SUBSCRIBE. Read on every delivery, so it is an atomic pointer, not a lock.
	pending atomic.Pointer[map[string]bool]

	// parents holds, under profile aws, the topics that only "#" subscriptions reach as their parent
	// level ("a" for "a/#"): AWS does not deliver them. Copy-on-write, read on every delivery.
	parents atomic.Pointer[map[string]struct{}]

	// publishRefused is the decision on the PUBLISH being processed; only the connection's read
	// goroutine touches it (OnPacketRead, then the ACL check and OnPublish of the same packet).
	publishRefused bool
}

// subscribeDecision reports the iot:Subscribe decision for a filter of the SUBSCRIBE packet being
// processed, and whether filter is one.
func (s *session) subscribeDecision(filter string) (allowed, ok bool) {
	p := s.pending.Load()
	if p == nil {
		return false, false
	}
	allowed, ok = (*p)[filter]
	return allowed, ok
}

// setPending opens (p non-nil) or closes (nil) a SUBSCRIBE's decision window.
func (s *session) setPending(p map[string]bool) {
	if p == nil {
		s.pending.Store(nil)
		return
	}
	s.pending.Store(&p)
}

// sessions indexes the sessions in force by client id, and the same sessions by the connection
// (*mqtt.Client) they belong to. The hooks look up the connection's own session on every PUBLISH
// and every delivery; a pointer key is cheaper to hash and compare than the client id.
//
// A session is in byClient exactly when it is in byID: a takeover (a new *mqtt.Client for the
// client id) replaces the predecessor's session in both, and a disconnect removes it from both.
// Changes are serialized by mu so that the two indexes agree once each change returns; a lookup
// racing a change sees the index as before or after it, as it would with one index.
type sessions struct {
	mu       sync.Mutex
	byID     sync.Map // client id → *session
	byClient sync.Map // *mqtt.Client → *session, for the sessions in byID
}

// get returns the session in force for the client id, whichever connection it belongs to.
func (t *sessions) get(clientID string) *session {
	v, ok := t.byID.Load(clientID)
	if !ok {
		return nil
	}
	return v.(*session)
}

// of returns the session in force for cl's client id if it belongs to cl, nil otherwise (cl was
// refused, taken over, or has disconnected): the same answer as get(cl.ID) with a check of its
// client, without hashing the id.
func (t *sessions) of(cl *mqtt.Client) *session {
	v, ok := t.byClient.Load(cl)
	if !ok {
		return nil
	}
	return v.(*session)
}

// current returns the session in force for cl's client id, like get(cl.ID), looking up cl's own
// session first: the usual case, and the cheaper lookup.
func (t *sessions) current(cl *mqtt.Client) *session {
	if s := t.of(cl); s != nil {
		return s
	}
	return t.get(cl.ID)
}

// put makes s the session in force for its client id, replacing (in both indexes) the session
// of a connection it takes over.
func (t *sessions) put(s *session) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if v, replaced := t.byID.Swap(s.client.ID, s); replaced {
		t.byClient.Delete(v.(*session).client)
	}
	t.byClient.Store(s.client, s)
}

// putIfAbsent stores s unless the client id already has a session, and returns the one in force.
func (t *sessions) putIfAbsent(s *session) *session {
	t.mu.Lock()
	defer t.mu.Unlock()
	v, loaded := t.byID.LoadOrStore(s.client.ID, s)
	if !loaded {
		t.byClient.Store(s.client, s)
	}
	return v.(*session)
}

// drop forgets the session only if it still belongs to cl, so that the late disconnect of a
// taken-over connection cannot erase its successor.
func (t *sessions) drop(cl *mqtt.Client) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := t.of(cl); s != nil {
		t.byID.CompareAndDelete(cl.ID, s)
		t.byClient.Delete(cl)
	}
}

// each calls fn for every session.
func (t *sessions) each(fn func(*session)) {
	t.byID.Range(func(_, v any) bool {
		fn(v.(*session))
		return true
	})
}
