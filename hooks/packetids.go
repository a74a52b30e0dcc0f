package hooks

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// packetIDs keeps a client's packet identifiers apart from the server's. MQTT gives each side its
// own identifier space, but Mochi keeps both in one inflight table, so a client SUBSCRIBE reusing
// the id of an unacknowledged delivery gets SUBACK 0x91, and a client QoS 1 PUBLISH reusing it
// deletes the pending delivery. On such a collision the client's packet is given a free alias id
// while Mochi processes it, and the acknowledgement goes back with the client's own id.
type packetIDs struct {
	active   atomic.Int32 // number of aliases in use; lets the write path skip the lock
	mu       sync.Mutex
	toClient map[uint16]uint16 // alias → the client's id
	toAlias  map[uint16]uint16 // the client's id → alias (QoS 2 flows span packets)
}

// serverOwned reports whether an inflight entry belongs to the server's identifier space.
func serverOwned(pk packets.Packet) bool {
	return pk.FixedHeader.Type == packets.Publish || pk.FixedHeader.Type == packets.Pubrel
}

// inbound rewrites the id of a client packet that collides with a server delivery. aliased counts,
// profile-wide, the connections with an alias in use (see Profile).
func (ids *packetIDs) inbound(cl *mqtt.Client, pk *packets.Packet, aliased *atomic.Int64) {
	switch pk.FixedHeader.Type {
	case packets.Publish:
		if pk.FixedHeader.Qos == 0 {
			return
		}
	case packets.Subscribe, packets.Unsubscribe:
	case packets.Pubrel:
		if ids.active.Load() == 0 {
			return
		}
		ids.mu.Lock()
		if alias, ok := ids.toAlias[pk.PacketID]; ok {
			pk.PacketID = alias
		}
		ids.mu.Unlock()
		return
	default:
		return
	}
	if ids.active.Load() == 0 {
		// No alias in use, and only this (the read) goroutine adds one: no lock needed to see
		// that the id needs none, unless it collides with a server delivery. Most publishers
		// have nothing in flight at all (Len is cheaper than Get, which copies the packet).
		if cl.State.Inflight.Len() == 0 {
			return
		}
		if held, used := cl.State.Inflight.Get(pk.PacketID); !used || !serverOwned(held) {
			return
		}
	}
	ids.mu.Lock()
	defer ids.mu.Unlock()
	if alias, ok := ids.toAlias[pk.PacketID]; ok { // a resent QoS 2 PUBLISH of an aliased flow
		pk.PacketID = alias
		return
	}
	if held, used := cl.State.Inflight.Get(pk.PacketID); !used || !serverOwned(held) {
		return
	}
	for alias := uint16(65535); alias > 0; alias-- {
		if _, used := cl.State.Inflight.Get(alias); used {
			continue
		}
		if _, used := ids.toClient[alias]; used {
			continue
		}
		if ids.toClient == nil {
			ids.toClient, ids.toAlias = map[uint16]uint16{}, map[uint16]uint16{}
		}
		ids.toClient[alias], ids.toAlias[pk.PacketID] = pk.PacketID, alias
		if ids.active.Add(1) == 1 {
			aliased.Add(1)
		}
		pk.PacketID = alias
		return
	}
}

// outbound gives an acknowledgement of an aliased packet the client's own id back.
func (ids *packetIDs) outbound(pk *packets.Packet, aliased *atomic.Int64) {
	switch pk.FixedHeader.Type {
	case packets.Puback, packets.Pubrec, packets.Pubcomp, packets.Suback, packets.Unsuback:
	default:
		return
	}
	if ids.active.Load() == 0 {
		return
	}
	ids.mu.Lock()
	defer ids.mu.Unlock()
	client, ok := ids.toClient[pk.PacketID]
	if !ok {
		return
	}
	if pk.FixedHeader.Type != packets.Pubrec { // a QoS 2 flow keeps its alias until PUBCOMP
		delete(ids.toClient, pk.PacketID)
		delete(ids.toAlias, client)
		if ids.active.Add(-1) == 0 {
			aliased.Add(-1)
		}
	}
	pk.PacketID = client
}

// forget drops the aliases of a connection that has ended.
func (ids *packetIDs) forget(aliased *atomic.Int64) {
	ids.mu.Lock()
	defer ids.mu.Unlock()
	if ids.active.Load() != 0 {
		ids.active.Store(0)
		aliased.Add(-1)
	}
	ids.toClient, ids.toAlias = nil, nil
}

// resendOrder puts the deliveries Mochi resends to a resumed session back in the order they were
// first sent [MQTT-4.6.0-1]. Mochi orders them by the low 16 bits of their creation second, which
// scrambles messages created in the same second; the profile snapshots the session's inflight
// deliveries before Mochi resumes it and hands them out in send order as Mochi writes its resends.
type resendOrder struct {
	mu    sync.Mutex
	queue []packets.Packet
}

// prepare snapshots the deliveries of the session a new connection resumes. pending counts,
// profile-wide, the connections with resends still to reorder (see Profile).
func (r *resendOrder) prepare(old *mqtt.Client, pending *atomic.Int64) {
	var queue []packets.Packet
	for _, pk := range old.State.Inflight.GetAll(false) {
		if pk.FixedHeader.Type == packets.Publish {
			queue = append(queue, pk)
		}
	}
	if len(queue) < 2 {
		return
	}
	sort.SliceStable(queue, func(i, j int) bool {
		if queue[i].Created != queue[j].Created {
			return queue[i].Created < queue[j].Created
		}
		return sentBefore(queue[i].PacketID, queue[j].PacketID)
	})
	r.mu.Lock()
	if len(r.queue) == 0 {
		pending.Add(1)
	}
	r.queue = queue
	r.mu.Unlock()
}

// sentBefore orders packet ids as Mochi hands them out: ascending, wrapping after 65535.
func sentBefore(a, b uint16) bool { return int16(a-b) < 0 }

// next replaces, in place, a resent delivery being encoded with the next one in send order.
func (r *resendOrder) next(pk *packets.Packet, pending *atomic.Int64) {
	if pk.FixedHeader.Type != packets.Publish || !pk.FixedHeader.Dup || pk.FixedHeader.Qos == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.queue) == 0 {
		return
	}
	out := r.queue[0]
	r.queue = r.queue[1:]
	if len(r.queue) == 0 {
		r.queue = nil
		pending.Add(-1)
	}
	out.FixedHeader.Dup = true
	out.ProtocolVersion, out.Mods = pk.ProtocolVersion, pk.Mods
	// Mochi set the Message Expiry Interval of the packet it is writing; the one swapped in
	// gets its own remaining time [MQTT-3.3.2-6], and one that has expired meanwhile is not
	// sent at all [MQTT-3.3.2-5] (Mochi's housekeeping deletes it from the session).
	if out.Expiry > 0 {
		left := out.Expiry - time.Now().Unix()
		if left < 1 {
			out.FixedHeader.Type = packets.Reserved // Mochi encodes nothing for it
			*pk = out
			return
		}
		out.Properties.MessageExpiryInterval = uint32(left)
	}
	*pk = out
}

// forget drops the resends of a connection that has ended.
func (r *resendOrder) forget(pending *atomic.Int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.queue) != 0 {
		r.queue = nil
		pending.Add(-1)
	}
}
