package listener

import (
	"fmt"

	"github.com/mochi-mqtt/server/v2/packets"
)

// PacketError is the read error of a connection whose MQTT stream broke one of the framing
// guard's rules; the connection ends with it (lifecycle: CLIENT_ERROR) and nothing else is
// touched.
type PacketError struct{ Reason string }

func (e *PacketError) Error() string { return e.Reason }

// packetGuard watches the MQTT byte stream of one connection, packet by packet, on its way from
// the socket to Mochi's reader, so that what a peer sends is bounded before Mochi allocates for
// it and a malformed packet cannot take the process down:
//
//   - the first packet (the CONNECT, sent before the peer is authenticated) is collected as its
//     bytes arrive and handed on only once complete, capped at maxConnect: Mochi allocates a
//     packet's claimed length before reading it, so a CONNECT claiming 256 MiB and trickling in
//     would otherwise make the server hold 256 MiB;
//   - later packets are capped at maxPacket by Mochi itself (Capabilities.MaximumPacketSize);
//     the guard only finds their boundaries, without copying them;
//   - packets whose decoders in Mochi v2.7.9 can panic on malformed input (SUBSCRIBE: upstream
//     mochi-mqtt/server#501; UNSUBSCRIBE and AUTH for the same kind of parsing) are collected
//     whole and decoded once under recover before Mochi sees them: a packet that would panic
//     ends its own connection with a PacketError.
//
// It is used by one reader goroutine at a time (Mochi's), so it needs no lock.
type packetGuard struct {
	maxConnect, maxPacket int

	version   byte // the protocol level from the CONNECT (3, 4 or 5)
	connected bool // the first packet has been handed on

	// The packet being read: its fixed header so far, and then how many body bytes of a
	// passed-through packet are still to come.
	hdr     [5]byte
	hdrLen  int
	skip    int
	holding bool   // the current packet is being collected in held
	held    []byte // a packet being collected (fixed header included)
	heldLen int    // its full length, once its fixed header is complete (0 before)

	out []byte // checked bytes not yet returned to the reader, in stream order
}

// newPacketGuard returns a guard with the two caps; a cap ≤ 0 means no limit.
func newPacketGuard(maxConnect, maxPacket int) *packetGuard {
	return &packetGuard{maxConnect: maxConnect, maxPacket: maxPacket}
}

// held packet types: collected whole and test-decoded before Mochi reads them.
func heldType(t byte) bool {
	return t == packets.Subscribe || t == packets.Unsubscribe || t == packets.Auth
}

// scan processes n freshly read bytes in p. It returns how many bytes at the start of p can be
// handed to the reader as they are; the rest were taken into the guard (held, or queued in out
// behind a held packet) and come out of pending later.
func (g *packetGuard) scan(p []byte) (keep int, err error) {
	diverted := false // from here on bytes go to out, behind a held packet, not back in p
	emit := func(b []byte) {
		if diverted {
			g.out = append(g.out, b...)
		} else {
			keep += len(b)
		}
	}
	for len(p) > 0 {
		switch {
		case g.holding:
			diverted = true // these bytes are the guard's, so whatever follows them is too
			n, err := g.collect(p)
			if err != nil {
				return 0, err
			}
			p = p[n:]
		case g.skip > 0:
			n := min(g.skip, len(p))
			emit(p[:n])
			g.skip -= n
			p = p[n:]
		case g.hdrLen == 0 && (!g.connected || heldType(p[0]>>4)):
			// A packet to collect starts here: everything from here on is the guard's.
			diverted = true
			g.holding = true
		default:
			// The fixed header of a packet passed through: find its length.
			b := p[0]
			p = p[1:]
			emit([]byte{b})
			g.hdr[g.hdrLen] = b
			g.hdrLen++
			total, done, err := fixedHeaderLength(g.hdr[:g.hdrLen])
			if err != nil {
				return 0, err
			}
			if done {
				g.skip = total - g.hdrLen
				g.hdrLen = 0
			}
		}
	}
	return keep, nil
}

// collect adds bytes of a held packet; when it is complete, it is checked and queued in out.
// It returns how many bytes of p it used.
func (g *packetGuard) collect(p []byte) (int, error) {
	if g.heldLen == 0 {
		// Still reading the fixed header: take one byte at a time until the length is known.
		g.held = append(g.held, p[0])
		total, done, err := fixedHeaderLength(g.held)
		if err != nil {
			return 0, err
		}
		if done {
			if err := g.checkSize(g.held[0]>>4, total); err != nil {
				return 0, err
			}
			g.heldLen = total
			if len(g.held) == total {
				return 1, g.release()
			}
		}
		return 1, nil
	}
	n := min(g.heldLen-len(g.held), len(p))
	g.held = append(g.held, p[:n]...) // grows with what arrives, never to the claimed length at once
	if len(g.held) == g.heldLen {
		return n, g.release()
	}
	return n, nil
}

// checkSize refuses a held packet whose claimed length is over its cap, before any of its body
// is read.
func (g *packetGuard) checkSize(typ byte, total int) error {
	switch {
	case !g.connected && g.maxConnect > 0 && total > g.maxConnect:
		return &PacketError{Reason: fmt.Sprintf(
			"first packet (%s) claims %d bytes, over the %d-byte limit for a packet before authentication",
			packetName(typ), total, g.maxConnect)}
	case g.connected && g.maxPacket > 0 && total > g.maxPacket:
		return &PacketError{Reason: fmt.Sprintf("%s packet claims %d bytes, over the %d-byte maximum packet size",
			packetName(typ), total, g.maxPacket)}
	}
	return nil
}

// release checks a complete held packet and queues it for the reader.
func (g *packetGuard) release() error {
	pk := g.held
	g.held, g.heldLen, g.holding = nil, 0, false
	if !g.connected {
		g.connected = true
		g.version = connectVersion(pk)
	} else if err := g.tryDecode(pk); err != nil {
		return err
	}
	if len(g.out) == 0 {
		g.out = pk
	} else {
		g.out = append(g.out, pk...)
	}
	return nil
}

// tryDecode runs Mochi's decoder for the packet on a copy, under recover: Mochi decodes the
// packet again itself, but only after this one did not panic.
func (g *packetGuard) tryDecode(raw []byte) (err error) {
	typ := raw[0] >> 4
	_, hdrLen, _ := fixedHeaderLengthWithHeader(raw)
	body := append([]byte(nil), raw[hdrLen:]...)
	pk := packets.Packet{ProtocolVersion: g.version}
	if fh := pk.FixedHeader.Decode(raw[0]); fh != nil {
		return nil // a bad fixed header: Mochi refuses it with the right code
	}
	pk.FixedHeader.Remaining = len(body)
	defer func() {
		if r := recover(); r != nil {
			err = &PacketError{Reason: fmt.Sprintf("malformed %s packet (%d bytes) refused: %v", packetName(typ), len(raw), r)}
		}
	}()
	switch typ {
	case packets.Subscribe:
		_ = pk.SubscribeDecode(body)
	case packets.Unsubscribe:
		_ = pk.UnsubscribeDecode(body)
	case packets.Auth:
		_ = pk.AuthDecode(body)
	}
	return nil
}

// pending hands out queued bytes; it reports 0 when there are none.
func (g *packetGuard) pending(p []byte) int {
	n := copy(p, g.out)
	g.out = g.out[n:]
	if len(g.out) == 0 {
		g.out = nil
	}
	return n
}

// fixedHeaderLength reads a fixed header (type byte and Remaining Length) from the start of b.
// done is false while more bytes are needed; total is the whole packet's length once done.
func fixedHeaderLength(b []byte) (total int, done bool, err error) {
	total, n, err := fixedHeaderLengthWithHeader(b)
	return total, n > 0, err
}

// fixedHeaderLengthWithHeader is fixedHeaderLength that also returns the header's own length
// (0 while incomplete).
func fixedHeaderLengthWithHeader(b []byte) (total, hdrLen int, err error) {
	remaining, mul := 0, 1
	for i := 1; i < len(b); i++ {
		if i > 4 {
			return 0, 0, &PacketError{Reason: "malformed Remaining Length (more than 4 bytes)"}
		}
		remaining += int(b[i]&0x7f) * mul
		if b[i]&0x80 == 0 {
			return 1 + i + remaining, 1 + i, nil
		}
		mul *= 128
	}
	if len(b) > 4 {
		return 0, 0, &PacketError{Reason: "malformed Remaining Length (more than 4 bytes)"}
	}
	return 0, 0, nil
}

// connectVersion is the protocol level byte of a CONNECT packet, or 0 when the packet is not a
// well-formed CONNECT (Mochi refuses it then).
func connectVersion(pk []byte) byte {
	if pk[0]>>4 != packets.Connect {
		return 0
	}
	_, hdrLen, _ := fixedHeaderLengthWithHeader(pk)
	body := pk[hdrLen:]
	if len(body) < 2 {
		return 0
	}
	nameLen := int(body[0])<<8 | int(body[1])
	if len(body) < 2+nameLen+1 {
		return 0
	}
	return body[2+nameLen]
}

// packetName names an MQTT control packet type for messages.
func packetName(t byte) string {
	if name, ok := packets.PacketNames[t]; ok {
		return name
	}
	return fmt.Sprintf("type %d", t)
}
