package emulator

// eventObserved reports whether a lifecycle event published on topic now could reach anyone: a
// subscription of the broker matches it (a device's, an offline persistent session's, an inline
// one), or the rules engine has an enabled rule. The other hooks let $aws/events/ messages pass
// untouched, so with neither the publication would cost every connect and disconnect its
// encoding and a trip through the broker for nothing.
func (e *Emulator) eventObserved(topic string) bool {
	if e.rules != nil && e.rules.Active() {
		return true
	}
	subs := e.broker.Topics.Subscribers(topic)
	return len(subs.Subscriptions) > 0 || len(subs.Shared) > 0 || len(subs.InlineSubscriptions) > 0
}
