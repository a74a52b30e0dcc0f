package index

import (
	"fmt"
	"time"
)

// Dynamic thing groups: their members are the things their query matches. The index keeps them
// with one worker goroutine: every change that can move a thing in or out of a group (a thing's
// registry record, its shadow, its connectivity) and every create or update of a dynamic group
// kicks the worker, which waits a moment for more changes (membership is eventually
// consistent, as on AWS), then evaluates every dynamic group's query and sets its members in
// the registry. With no dynamic group, a kick is one atomic load.

// dynamicSettle is how long the worker waits after a kick before it evaluates, so that a burst
// of changes costs one evaluation.
const dynamicSettle = 50 * time.Millisecond

// startWorker starts the dynamic group worker; Close stops it.
func (x *Index) startWorker() {
	x.kick = make(chan struct{}, 1)
	x.done = make(chan struct{})
	x.workerDone = make(chan struct{})
	go x.worker()
}

func (x *Index) worker() {
	defer close(x.workerDone)
	for {
		select {
		case <-x.done:
			return
		case <-x.kick:
		}
		select {
		case <-x.done:
			return
		case <-time.After(dynamicSettle):
		}
		x.evaluateDynamic()
	}
}

// Kick asks for the dynamic groups to be evaluated again (after a change of a dynamic group).
func (x *Index) Kick() {
	select {
	case x.kick <- struct{}{}:
	default:
	}
}

// maybeKick kicks the worker when dynamic groups exist.
func (x *Index) maybeKick() {
	if x.hasDynamic.Load() {
		x.Kick()
	}
}

// evaluateDynamic sets the members of every dynamic group to the things its query matches.
func (x *Index) evaluateDynamic() {
	groups, err := x.reg.DynamicThingGroups()
	if err != nil {
		x.log.Warn("index: list dynamic thing groups", "error", err)
		return
	}
	x.hasDynamic.Store(len(groups) > 0)
	if len(groups) == 0 || !x.on.Load() {
		return
	}
	x.freshen()
	for _, g := range groups {
		n, err := Parse(g.Dynamic.QueryString)
		if err != nil {
			x.log.Warn("index: dynamic thing group query does not parse", "group", g.Name, "error", err)
			continue
		}
		x.mu.RLock()
		names := x.matchingThings(n)
		x.mu.RUnlock()
		joined, left, err := x.reg.SetDynamicMembers(g.Name, names)
		if err != nil {
			x.log.Warn("index: set dynamic thing group members", "group", g.Name, "error", err)
			continue
		}
		if joined+left > 0 {
			x.log.Debug("index: dynamic thing group updated", "group", g.Name, "joined", joined, "left", left)
		}
	}
}

// CheckDynamicQuery checks what CreateDynamicThingGroup and UpdateDynamicThingGroup are given:
// the thing index must be on, the index must be AWS_Things, the query must parse.
func (x *Index) CheckDynamicQuery(indexName, query string) error {
	if indexName != "" && indexName != ThingsIndex {
		return fmt.Errorf("%w: indexName: dynamic thing groups query %s, not %s", ErrInvalidRequest, ThingsIndex, indexName)
	}
	if !x.on.Load() {
		return fmt.Errorf("%w: fleet indexing is OFF: turn thing indexing on (UpdateIndexingConfiguration) before using dynamic thing groups", ErrInvalidRequest)
	}
	if query != "" {
		if _, err := parseQuery(query); err != nil {
			return err
		}
	}
	x.hasDynamic.Store(true)
	return nil
}

// stopWorker stops the worker and waits for it.
func (x *Index) stopWorker() {
	if x.done == nil {
		return
	}
	x.closeOnce.Do(func() { close(x.done) })
	<-x.workerDone
}
