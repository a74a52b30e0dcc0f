package hooks

import (
	"errors"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// packetReader checks a packet as it arrives, in place: it changes the packet only on its way
// to a nil error, and the errors it returns are rejections (they wrap packets.ErrRejectPacket).
type packetReader interface {
	read(cl *mqtt.Client, pk *packets.Packet) error
}

// ReadDispatch is the one Mochi hook subscribed to OnPacketRead: it runs the profile's and the
// authorizer's checks of an arriving packet on one copy of it. Mochi hands every hook that
// provides an event its own copy of the ~800-byte packets.Packet (and takes one back), for
// every packet read, PUBACKs included; two hooks on OnPacketRead cost two such round trips per
// packet, ReadDispatch one. The profile and the authorizer given to NewReadDispatch stop
// providing OnPacketRead themselves; their checks run in the order given, as Mochi would run
// the hooks in the order they were added.
type ReadDispatch struct {
	mqtt.HookBase
	readers []packetReader
}

// NewReadDispatch takes over OnPacketRead from p and a (either may be nil). Add the returned
// hook to the server, and p and a as before.
func NewReadDispatch(p *Profile, a *Authorizer) *ReadDispatch {
	d := &ReadDispatch{}
	if p != nil {
		p.readDispatched = true
		d.readers = append(d.readers, p)
	}
	if a != nil {
		a.readDispatched = true
		d.readers = append(d.readers, a)
	}
	return d
}

// ID names the hook.
func (d *ReadDispatch) ID() string { return "iotcore-read-dispatch" }

// Provides reports whether the hook handles event b: OnPacketRead only.
func (d *ReadDispatch) Provides(b byte) bool { return b == mqtt.OnPacketRead }

// OnPacketRead runs each reader's check on the packet, stopping at the first rejection, which
// Mochi answers by ending the connection (as when the checks were hooks of their own). An error
// that is no rejection is skipped, as Mochi skips a hook that returns one.
func (d *ReadDispatch) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	for _, r := range d.readers {
		if err := r.read(cl, &pk); err != nil && errors.Is(err, packets.ErrRejectPacket) {
			return pk, err
		}
	}
	return pk, nil
}
