package conformance

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// MQTT control packet types (the high nibble of the first byte).
const (
	typeConnect     byte = 1
	typeConnack     byte = 2
	typePublish     byte = 3
	typePuback      byte = 4
	typePubrec      byte = 5
	typePubrel      byte = 6
	typePubcomp     byte = 7
	typeSubscribe   byte = 8
	typeSuback      byte = 9
	typeUnsubscribe byte = 10
	typeUnsuback    byte = 11
	typePingreq     byte = 12
	typePingresp    byte = 13
	typeDisconnect  byte = 14
	typeAuth        byte = 15
)

var typeNames = [16]string{"RESERVED0", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL",
	"PUBCOMP", "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH"}

// MQTT 5 property identifiers used by the suite.
const (
	propPayloadFormat       byte = 0x01
	propMessageExpiry       byte = 0x02
	propContentType         byte = 0x03
	propResponseTopic       byte = 0x08
	propCorrelationData     byte = 0x09
	propSubscriptionID      byte = 0x0B
	propSessionExpiry       byte = 0x11
	propAssignedClientID    byte = 0x12
	propServerKeepAlive     byte = 0x13
	propAuthMethod          byte = 0x15
	propAuthData            byte = 0x16
	propRequestProblemInfo  byte = 0x17
	propWillDelay           byte = 0x18
	propRequestResponseInfo byte = 0x19
	propResponseInfo        byte = 0x1A
	propServerReference     byte = 0x1C
	propReasonString        byte = 0x1F
	propReceiveMaximum      byte = 0x21
	propTopicAliasMaximum   byte = 0x22
	propTopicAlias          byte = 0x23
	propMaximumQoS          byte = 0x24
	propRetainAvailable     byte = 0x25
	propUserProperty        byte = 0x26
	propMaximumPacketSize   byte = 0x27
	propWildcardSubAvail    byte = 0x28
	propSubIDAvailable      byte = 0x29
	propSharedSubAvailable  byte = 0x2A
)

// propKind says how a property's value is encoded on the wire.
type propKind int

const (
	kindByte propKind = iota
	kindU16
	kindU32
	kindVarInt
	kindString
	kindBinary
	kindPair
)

var propKinds = map[byte]propKind{
	propPayloadFormat: kindByte, propRequestProblemInfo: kindByte, propRequestResponseInfo: kindByte,
	propMaximumQoS: kindByte, propRetainAvailable: kindByte, propWildcardSubAvail: kindByte,
	propSubIDAvailable: kindByte, propSharedSubAvailable: kindByte,
	propServerKeepAlive: kindU16, propReceiveMaximum: kindU16, propTopicAliasMaximum: kindU16, propTopicAlias: kindU16,
	propMessageExpiry: kindU32, propSessionExpiry: kindU32, propWillDelay: kindU32, propMaximumPacketSize: kindU32,
	propSubscriptionID: kindVarInt,
	propContentType:    kindString, propResponseTopic: kindString, propAssignedClientID: kindString,
	propAuthMethod: kindString, propResponseInfo: kindString, propServerReference: kindString, propReasonString: kindString,
	propCorrelationData: kindBinary, propAuthData: kindBinary,
	propUserProperty: kindPair,
}

// property is one encoded MQTT 5 property.
type property struct {
	id    byte
	value []byte
}

// propU32 is a four-byte-integer property.
func propU32(id byte, v uint32) property {
	return property{id, binary.BigEndian.AppendUint32(nil, v)}
}

// propVarInt is a variable-byte-integer property.
func propVarInt(id byte, v int) property { return property{id, appendVarInt(nil, v)} }

// encodeProps is a property list with its variable-byte-integer length in front.
func encodeProps(ps []property) []byte {
	var body []byte
	for _, p := range ps {
		body = append(body, p.id)
		body = append(body, p.value...)
	}
	return append(appendVarInt(nil, len(body)), body...)
}

// appendVarInt appends MQTT's variable byte integer encoding of v.
func appendVarInt(b []byte, v int) []byte {
	for {
		d := byte(v % 128)
		v /= 128
		if v > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if v == 0 {
			return b
		}
	}
}

// appendString appends a length-prefixed string without checking it, so that tests can send
// strings a conforming client never would.
func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// frame is a control packet: first byte, remaining length, body.
func frame(first byte, body []byte) []byte {
	return append(appendVarInt([]byte{first}, len(body)), body...)
}

// willMsg is the will part of a CONNECT.
type willMsg struct {
	topic   string
	payload []byte
	qos     byte
	retain  bool
	props   []property // MQTT 5 only
}

// connectOpts describe a CONNECT. The zero value is a valid MQTT 3.1.1 CONNECT with clean session
// 0, keep-alive 0 and an empty client id; tests fill in what they need.
type connectOpts struct {
	protocol  string // protocol name; "" means "MQTT"
	level     byte   // protocol level; 0 means 4 (MQTT 3.1.1)
	clientID  string
	clean     bool
	keepAlive uint16
	will      *willMsg
	username  *string
	password  []byte // nil: no password
	props     []property
	// rawFlags, when set, replaces the connect flags computed from the fields above.
	rawFlags *byte
	// extra is appended to the payload as it is, for fields a flag says are absent.
	extra []byte
	// truncate, when > 0, cuts the packet body to this many bytes (the remaining length says so).
	truncate int
}

func (o connectOpts) v5() bool { return o.effectiveLevel() == 5 }

func (o connectOpts) effectiveLevel() byte {
	if o.level == 0 {
		return 4
	}
	return o.level
}

// connectPacket encodes o.
func connectPacket(o connectOpts) []byte {
	name := o.protocol
	if name == "" {
		name = "MQTT"
	}
	var flags byte
	if o.clean {
		flags |= 0x02
	}
	if o.will != nil {
		flags |= 0x04 | o.will.qos<<3
		if o.will.retain {
			flags |= 0x20
		}
	}
	if o.password != nil {
		flags |= 0x40
	}
	if o.username != nil {
		flags |= 0x80
	}
	if o.rawFlags != nil {
		flags = *o.rawFlags
	}
	body := appendString(nil, name)
	body = append(body, o.effectiveLevel(), flags)
	body = binary.BigEndian.AppendUint16(body, o.keepAlive)
	if o.v5() {
		body = append(body, encodeProps(o.props)...)
	}
	body = appendString(body, o.clientID)
	if o.will != nil {
		if o.v5() {
			body = append(body, encodeProps(o.will.props)...)
		}
		body = appendString(body, o.will.topic)
		body = appendString(body, string(o.will.payload))
	}
	if o.username != nil {
		body = appendString(body, *o.username)
	}
	if o.password != nil {
		body = appendString(body, string(o.password))
	}
	body = append(body, o.extra...)
	if o.truncate > 0 && o.truncate < len(body) {
		body = body[:o.truncate]
	}
	return frame(typeConnect<<4, body)
}

// pub describes a PUBLISH.
type pub struct {
	topic   string
	payload []byte
	qos     byte
	retain  bool
	dup     bool
	id      uint16
	props   []property // MQTT 5 only
}

// encode is the PUBLISH packet; the packet id is written only for QoS > 0.
func (p pub) encode(v5 bool) []byte {
	first := typePublish<<4 | p.qos<<1
	if p.dup {
		first |= 0x08
	}
	if p.retain {
		first |= 0x01
	}
	body := appendString(nil, p.topic)
	if p.qos > 0 {
		body = binary.BigEndian.AppendUint16(body, p.id)
	}
	if v5 {
		body = append(body, encodeProps(p.props)...)
	}
	body = append(body, p.payload...)
	return frame(first, body)
}

// sub is one topic filter of a SUBSCRIBE with its options byte (the requested QoS for 3.1.1).
type sub struct {
	filter string
	opts   byte
}

// subscribePacket encodes a SUBSCRIBE with the standard fixed header flags.
func subscribePacket(id uint16, v5 bool, props []property, subs ...sub) []byte {
	body := binary.BigEndian.AppendUint16(nil, id)
	if v5 {
		body = append(body, encodeProps(props)...)
	}
	for _, s := range subs {
		body = appendString(body, s.filter)
		body = append(body, s.opts)
	}
	return frame(typeSubscribe<<4|0x02, body)
}

// unsubscribePacket encodes an UNSUBSCRIBE with the standard fixed header flags.
func unsubscribePacket(id uint16, v5 bool, filters ...string) []byte {
	body := binary.BigEndian.AppendUint16(nil, id)
	if v5 {
		body = append(body, 0)
	}
	for _, f := range filters {
		body = appendString(body, f)
	}
	return frame(typeUnsubscribe<<4|0x02, body)
}

// ackPacket is a PUBACK, PUBREC, PUBREL or PUBCOMP for id (PUBREL with its mandatory flags 0010).
func ackPacket(typ byte, id uint16) []byte {
	first := typ << 4
	if typ == typePubrel {
		first |= 0x02
	}
	return frame(first, binary.BigEndian.AppendUint16(nil, id))
}

var (
	pingreqPacket    = []byte{typePingreq << 4, 0}
	disconnectPacket = []byte{typeDisconnect << 4, 0}
)

// props holds the decoded MQTT 5 properties of a packet.
type props struct {
	ints   map[byte]uint32
	strs   map[byte]string
	subIDs []uint32
}

// packet is a decoded control packet from the server.
type packet struct {
	typ   byte
	flags byte
	body  []byte

	id             uint16 // packet identifier, where the type has one
	topic          string // PUBLISH
	payload        []byte // PUBLISH
	qos            byte   // PUBLISH
	dup, retain    bool   // PUBLISH
	sessionPresent bool   // CONNACK
	code           byte   // CONNACK return code; MQTT 5 reason code of PUBACK..PUBCOMP, DISCONNECT
	codes          []byte // SUBACK return codes; MQTT 5 UNSUBACK reason codes
	props          props  // MQTT 5
}

func (p packet) String() string {
	name := typeNames[p.typ]
	switch p.typ {
	case typeConnack:
		return fmt.Sprintf("CONNACK(sp=%v code=0x%02x)", p.sessionPresent, p.code)
	case typePublish:
		payload := string(p.payload)
		if len(payload) > 40 {
			payload = payload[:40] + "…"
		}
		return fmt.Sprintf("PUBLISH(topic=%q qos=%d dup=%v retain=%v id=%d payload=%q)", p.topic, p.qos, p.dup, p.retain, p.id, payload)
	case typeSuback:
		return fmt.Sprintf("SUBACK(id=%d codes=% x)", p.id, p.codes)
	case typeDisconnect:
		return fmt.Sprintf("DISCONNECT(% x)", p.body)
	case typePuback, typePubrec, typePubrel, typePubcomp, typeUnsuback:
		return fmt.Sprintf("%s(id=%d)", name, p.id)
	}
	return fmt.Sprintf("%s(flags=%x body=% x)", name, p.flags, p.body)
}

var errMalformed = errors.New("malformed packet from server")

// readPacket reads and decodes one packet; v5 selects MQTT 5 decoding of the variable header.
func readPacket(r *bufio.Reader, v5 bool) (packet, error) {
	first, err := r.ReadByte()
	if err != nil {
		return packet{}, err
	}
	n, mul := 0, 1
	for i := 0; ; i++ {
		b, err := r.ReadByte()
		if err != nil {
			return packet{}, noEOF(err)
		}
		n += int(b&0x7f) * mul
		mul *= 128
		if b&0x80 == 0 {
			break
		}
		if i == 3 {
			return packet{}, fmt.Errorf("%w: remaining length longer than 4 bytes", errMalformed)
		}
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return packet{}, noEOF(err)
	}
	p := packet{typ: first >> 4, flags: first & 0x0f, body: body}
	if err := p.decode(v5); err != nil {
		return p, fmt.Errorf("%w: %s: %v", errMalformed, typeNames[p.typ], err)
	}
	return p, nil
}

// noEOF turns an EOF in the middle of a packet into ErrUnexpectedEOF.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// decode fills in the typed fields from the body.
func (p *packet) decode(v5 bool) error {
	d := decoder{b: p.body}
	switch p.typ {
	case typeConnack:
		flags := d.byte()
		p.sessionPresent = flags&0x01 != 0
		p.code = d.byte()
		if v5 && d.err == nil && len(d.b) > 0 {
			p.props = d.props()
		}
	case typePublish:
		p.qos = p.flags >> 1 & 0x03
		p.dup = p.flags&0x08 != 0
		p.retain = p.flags&0x01 != 0
		p.topic = d.string()
		if p.qos > 0 {
			p.id = d.u16()
		}
		if v5 {
			p.props = d.props()
		}
		p.payload = d.b
		d.b = nil
	case typePuback, typePubrec, typePubrel, typePubcomp:
		p.id = d.u16()
		if v5 && d.err == nil && len(d.b) > 0 {
			p.code = d.byte()
			if len(d.b) > 0 {
				p.props = d.props()
			}
		}
	case typeSuback, typeUnsuback:
		p.id = d.u16()
		if v5 {
			p.props = d.props()
		}
		p.codes = d.b
		d.b = nil
	case typeDisconnect:
		if v5 && len(d.b) > 0 {
			p.code = d.byte()
			if len(d.b) > 0 {
				p.props = d.props()
			}
		}
	}
	if d.err == nil && len(d.b) > 0 && p.typ != typeDisconnect {
		return fmt.Errorf("%d unexpected trailing bytes", len(d.b))
	}
	return d.err
}

// decoder reads fields from a packet body, remembering the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) need(n int) bool {
	if d.err != nil {
		return false
	}
	if len(d.b) < n {
		d.err = io.ErrUnexpectedEOF
		return false
	}
	return true
}

func (d *decoder) byte() byte {
	if !d.need(1) {
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) u16() uint16 {
	if !d.need(2) {
		return 0
	}
	v := binary.BigEndian.Uint16(d.b)
	d.b = d.b[2:]
	return v
}

func (d *decoder) u32() uint32 {
	if !d.need(4) {
		return 0
	}
	v := binary.BigEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

func (d *decoder) varInt() uint32 {
	var v, mul uint32 = 0, 1
	for i := 0; i < 4; i++ {
		b := d.byte()
		v += uint32(b&0x7f) * mul
		mul *= 128
		if b&0x80 == 0 {
			return v
		}
	}
	if d.err == nil {
		d.err = errors.New("variable byte integer longer than 4 bytes")
	}
	return 0
}

func (d *decoder) string() string {
	n := int(d.u16())
	if !d.need(n) {
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// props reads a property list.
func (d *decoder) props() props {
	p := props{ints: map[byte]uint32{}, strs: map[byte]string{}}
	n := int(d.varInt())
	if !d.need(n) {
		return p
	}
	sub := decoder{b: d.b[:n]}
	d.b = d.b[n:]
	for sub.err == nil && len(sub.b) > 0 {
		id := sub.byte()
		kind, ok := propKinds[id]
		if !ok {
			d.err = fmt.Errorf("unknown property 0x%02x", id)
			return p
		}
		switch kind {
		case kindByte:
			p.ints[id] = uint32(sub.byte())
		case kindU16:
			p.ints[id] = uint32(sub.u16())
		case kindU32:
			p.ints[id] = sub.u32()
		case kindVarInt:
			v := sub.varInt()
			if id == propSubscriptionID {
				p.subIDs = append(p.subIDs, v)
			} else {
				p.ints[id] = v
			}
		case kindString, kindBinary:
			p.strs[id] = sub.string()
		case kindPair:
			k, v := sub.string(), sub.string()
			p.strs[id] = strings.TrimPrefix(p.strs[id]+";"+k+"="+v, ";")
		}
	}
	if sub.err != nil {
		d.err = sub.err
	}
	return p
}
