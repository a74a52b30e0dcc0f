package hooks

import (
	"errors"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// ReadDispatch is the one Mochi hook subscribed to OnPacketRead: it runs the profile's and the
// authorizer's checks of an arriving packet on one copy of it. Mochi hands every hook that
// provides an event its own copy of the ~800-byte packets.Packet (and takes one back), for
// every packet read, PUBACKs included; two hooks on OnPacketRead cost two such round trips per
// packet, ReadDispatch one. The profile and the authorizer given to NewReadDispatch stop
// providing OnPacketRead themselves; their checks run in the order given, as Mochi would run
// the hooks in the order they were added.
//
// Each check takes the packet in place (by pointer), changes it only on its way to a nil error,
// and returns only rejections (errors wrapping packets.ErrRejectPacket). The checks are called
// on concrete types, not through an interface, so that the packet stays on the stack.
type ReadDispatch struct {
	mqtt.HookBase
	profile    *Profile
	authorizer *Authorizer
}

// NewReadDispatch takes over OnPacketRead from p and a (either may be nil). Add the returned
// hook to the server, and p and a as before.
func NewReadDispatch(p *Profile, a *Authorizer) *ReadDispatch {
	if p != nil {
		p.readDispatched = true
	}
	if a != nil {
		a.readDispatched = true
	}
	return &ReadDispatch{profile: p, authorizer: a}
}

// ID names the hook.
func (d *ReadDispatch) ID() string { return "iotcore-read-dispatch" }

// Provides reports whether the hook handles event b: OnPacketRead only.
func (d *ReadDispatch) Provides(b byte) bool { return b == mqtt.OnPacketRead }

// OnPacketRead runs each reader's check on the packet, stopping at the first rejection, which
// Mochi answers by ending the connection (as when the checks were hooks of their own). An error
// that is no rejection is skipped, as Mochi skips a hook that returns one.
func (d *ReadDispatch) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if d.profile != nil {
		if err := d.profile.read(cl, &pk); rejected(err) {
			return pk, err
		}
	}
	if d.authorizer != nil {
		if err := d.authorizer.read(cl, &pk); rejected(err) {
			return pk, err
		}
	}
	return pk, nil
}

// rejected reports whether err makes Mochi drop the packet and end the connection.
func rejected(err error) bool { return err != nil && errors.Is(err, packets.ErrRejectPacket) }
