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

// sessions indexes sessions by client id.
type sessions struct {
	byID sync.Map // client id → *session
}

func (t *sessions) get(clientID string) *session {
	v, ok := t.byID.Load(clientID)
	if !ok {
		return nil
	}
	return v.(*session)
}

func (t *sessions) put(s *session) { t.byID.Store(s.client.ID, s) }

// putIfAbsent stores s unless the client id already has a session, and returns the one in force.
func (t *sessions) putIfAbsent(s *session) *session {
	v, _ := t.byID.LoadOrStore(s.client.ID, s)
	return v.(*session)
}

// drop forgets the session only if it still belongs to cl, so that the late disconnect of a
// taken-over connection cannot erase its successor.
func (t *sessions) drop(cl *mqtt.Client) {
	if s := t.get(cl.ID); s != nil && s.client == cl {
		t.byID.CompareAndDelete(cl.ID, s)
	}
}

// each calls fn for every session.
func (t *sessions) each(fn func(*session)) {
	t.byID.Range(func(_, v any) bool {
		fn(v.(*session))
		return true
	})
}
