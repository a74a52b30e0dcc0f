package hooks

// eventSet is a set of Mochi hook events (mqtt.OnConnect, mqtt.OnPublish, …), one flag per
// possible event byte. Mochi asks every hook whether it provides an event, for every event of
// every packet, so each hook answers Provides with one indexed load from a set built once.
type eventSet [256]bool

// newEventSet returns the set of the given events.
func newEventSet(events ...byte) *eventSet {
	var s eventSet
	for _, e := range events {
		s[e] = true
	}
	return &s
}

// has reports whether e is in the set.
func (s *eventSet) has(e byte) bool { return s[e] }
