package hooks

import (
	"errors"
	"fmt"
	"log/slog"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/storage"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Group is one Mochi hook standing for several that take no per-packet event of their own in
// the usual case (the lifecycle events, the services' OnPublished router, the rules hook, the
// session store). Mochi raises every event of every packet by asking each hook in turn whether
// it provides it; with a Group in their place it asks once, and the Group asks only the members
// that may provide that event (none for most per-packet events). Members are called in the
// order given, with Mochi's own rules for combining their answers, as if each had been added
// to the server in that order at the Group's place.
//
// A member whose Provides answer changes over time (the store, the rules hook) reports the
// events it may ever provide through mayProvide; the Group asks its Provides at each event.
type Group struct {
	mqtt.HookBase
	id      string
	members []mqtt.Hook
	may     [256][]mqtt.Hook // per event, the members that may provide it, in order
}

// dynamicProvider is a hook whose Provides answer changes over time: mayProvide reports the
// events it may provide at some point.
type dynamicProvider interface{ mayProvide(b byte) bool }

// groupEvents are the events a Group forwards to its members.
var groupEvents = newEventSet(
	mqtt.OnSessionEstablish, mqtt.OnSessionEstablished, mqtt.OnDisconnect,
	mqtt.OnSubscribed, mqtt.OnUnsubscribed,
	mqtt.OnPublish, mqtt.OnPublished, mqtt.OnPacketProcessed,
	mqtt.OnRetainMessage, mqtt.OnRetainedExpired,
	mqtt.OnQosPublish, mqtt.OnQosComplete, mqtt.OnQosDropped,
	mqtt.OnClientExpired, mqtt.OnWillSent,
	mqtt.StoredClients, mqtt.StoredSubscriptions, mqtt.StoredInflightMessages, mqtt.StoredRetainedMessages,
)

// NewGroup groups the members under one hook with the given id. It refuses a member that may
// provide an event the Group does not forward, so that no handler is silently lost.
func NewGroup(id string, members ...mqtt.Hook) (*Group, error) {
	g := &Group{id: id, members: members}
	for _, h := range members {
		for b := range 256 {
			e := byte(b)
			var may bool
			if d, ok := h.(dynamicProvider); ok {
				may = d.mayProvide(e) // a superset of what its Provides ever answers
			} else {
				may = h.Provides(e)
			}
			if !may {
				continue
			}
			if !groupEvents.has(e) {
				return nil, fmt.Errorf("hook group %s: member %s provides event %d, which a group does not forward", id, h.ID(), e)
			}
			g.may[e] = append(g.may[e], h)
		}
	}
	return g, nil
}

// ID names the hook.
func (g *Group) ID() string { return g.id }

// Provides reports whether a member provides event b now.
func (g *Group) Provides(b byte) bool {
	for _, h := range g.may[b] {
		if h.Provides(b) {
			return true
		}
	}
	return false
}

// SetOpts gives every member the server's logger and options, as Mochi's AddHook would.
func (g *Group) SetOpts(l *slog.Logger, o *mqtt.HookOptions) {
	g.HookBase.SetOpts(l, o)
	for _, h := range g.members {
		h.SetOpts(l, o)
	}
}

// Init initialises every member (without a configuration, as the emulator adds its hooks).
func (g *Group) Init(config any) error {
	for _, h := range g.members {
		if err := h.Init(nil); err != nil {
			return fmt.Errorf("initialise %s: %w", h.ID(), err)
		}
	}
	return nil
}

// Stop stops every member, in order.
func (g *Group) Stop() error {
	var errs []error
	for _, h := range g.members {
		if err := h.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stop %s: %w", h.ID(), err))
		}
	}
	return errors.Join(errs...)
}

// each calls fn for the members that provide event b now, in order.
func (g *Group) each(b byte, fn func(h mqtt.Hook)) {
	for _, h := range g.may[b] {
		if h.Provides(b) {
			fn(h)
		}
	}
}

// OnSessionEstablish forwards the event.
func (g *Group) OnSessionEstablish(cl *mqtt.Client, pk packets.Packet) {
	g.each(mqtt.OnSessionEstablish, func(h mqtt.Hook) { h.OnSessionEstablish(cl, pk) })
}

// OnSessionEstablished forwards the event.
func (g *Group) OnSessionEstablished(cl *mqtt.Client, pk packets.Packet) {
	g.each(mqtt.OnSessionEstablished, func(h mqtt.Hook) { h.OnSessionEstablished(cl, pk) })
}

// OnDisconnect forwards the event.
func (g *Group) OnDisconnect(cl *mqtt.Client, err error, expire bool) {
	g.each(mqtt.OnDisconnect, func(h mqtt.Hook) { h.OnDisconnect(cl, err, expire) })
}

// OnSubscribed forwards the event.
func (g *Group) OnSubscribed(cl *mqtt.Client, pk packets.Packet, reasonCodes []byte) {
	g.each(mqtt.OnSubscribed, func(h mqtt.Hook) { h.OnSubscribed(cl, pk, reasonCodes) })
}

// OnUnsubscribed forwards the event.
func (g *Group) OnUnsubscribed(cl *mqtt.Client, pk packets.Packet) {
	g.each(mqtt.OnUnsubscribed, func(h mqtt.Hook) { h.OnUnsubscribed(cl, pk) })
}

// OnPublish passes the packet through the members that provide the event, each getting what the
// one before returned; the first error ends the chain and is returned with the packet as it came
// (Mochi's Hooks.OnPublish does the same across hooks).
func (g *Group) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	pkx := pk
	for _, h := range g.may[mqtt.OnPublish] {
		if !h.Provides(mqtt.OnPublish) {
			continue
		}
		npk, err := h.OnPublish(cl, pkx)
		if err != nil {
			return pk, err
		}
		pkx = npk
	}
	return pkx, nil
}

// OnPublished forwards the event.
func (g *Group) OnPublished(cl *mqtt.Client, pk packets.Packet) {
	for _, h := range g.may[mqtt.OnPublished] {
		if h.Provides(mqtt.OnPublished) {
			h.OnPublished(cl, pk)
		}
	}
}

// OnPacketProcessed forwards the event.
func (g *Group) OnPacketProcessed(cl *mqtt.Client, pk packets.Packet, err error) {
	for _, h := range g.may[mqtt.OnPacketProcessed] {
		if h.Provides(mqtt.OnPacketProcessed) {
			h.OnPacketProcessed(cl, pk, err)
		}
	}
}

// OnRetainMessage forwards the event.
func (g *Group) OnRetainMessage(cl *mqtt.Client, pk packets.Packet, r int64) {
	g.each(mqtt.OnRetainMessage, func(h mqtt.Hook) { h.OnRetainMessage(cl, pk, r) })
}

// OnRetainedExpired forwards the event.
func (g *Group) OnRetainedExpired(filter string) {
	g.each(mqtt.OnRetainedExpired, func(h mqtt.Hook) { h.OnRetainedExpired(filter) })
}

// OnQosPublish forwards the event.
func (g *Group) OnQosPublish(cl *mqtt.Client, pk packets.Packet, sent int64, resends int) {
	for _, h := range g.may[mqtt.OnQosPublish] {
		if h.Provides(mqtt.OnQosPublish) {
			h.OnQosPublish(cl, pk, sent, resends)
		}
	}
}

// OnQosComplete forwards the event.
func (g *Group) OnQosComplete(cl *mqtt.Client, pk packets.Packet) {
	for _, h := range g.may[mqtt.OnQosComplete] {
		if h.Provides(mqtt.OnQosComplete) {
			h.OnQosComplete(cl, pk)
		}
	}
}

// OnQosDropped forwards the event.
func (g *Group) OnQosDropped(cl *mqtt.Client, pk packets.Packet) {
	g.each(mqtt.OnQosDropped, func(h mqtt.Hook) { h.OnQosDropped(cl, pk) })
}

// OnClientExpired forwards the event.
func (g *Group) OnClientExpired(cl *mqtt.Client) {
	g.each(mqtt.OnClientExpired, func(h mqtt.Hook) { h.OnClientExpired(cl) })
}

// OnWillSent forwards the event.
func (g *Group) OnWillSent(cl *mqtt.Client, pk packets.Packet) {
	g.each(mqtt.OnWillSent, func(h mqtt.Hook) { h.OnWillSent(cl, pk) })
}

// stored returns the first non-empty answer or error of the members providing event b, as
// Mochi's Hooks.StoredClients and its siblings do across hooks.
func stored[T any](g *Group, b byte, get func(mqtt.Hook) ([]T, error)) ([]T, error) {
	for _, h := range g.may[b] {
		if !h.Provides(b) {
			continue
		}
		v, err := get(h)
		if err != nil || len(v) > 0 {
			return v, err
		}
	}
	return nil, nil
}

// StoredClients returns the stored clients of the first member that has any.
func (g *Group) StoredClients() ([]storage.Client, error) {
	return stored(g, mqtt.StoredClients, func(h mqtt.Hook) ([]storage.Client, error) { return h.StoredClients() })
}

// StoredSubscriptions returns the stored subscriptions of the first member that has any.
func (g *Group) StoredSubscriptions() ([]storage.Subscription, error) {
	return stored(g, mqtt.StoredSubscriptions, func(h mqtt.Hook) ([]storage.Subscription, error) { return h.StoredSubscriptions() })
}

// StoredInflightMessages returns the stored in-flight messages of the first member that has any.
func (g *Group) StoredInflightMessages() ([]storage.Message, error) {
	return stored(g, mqtt.StoredInflightMessages, func(h mqtt.Hook) ([]storage.Message, error) { return h.StoredInflightMessages() })
}

// StoredRetainedMessages returns the stored retained messages of the first member that has any.
func (g *Group) StoredRetainedMessages() ([]storage.Message, error) {
	return stored(g, mqtt.StoredRetainedMessages, func(h mqtt.Hook) ([]storage.Message, error) { return h.StoredRetainedMessages() })
}
