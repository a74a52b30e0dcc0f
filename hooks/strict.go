package hooks

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// ProtocolViolation is the cause recorded when the profile closes a connection for a malformed
// packet that Mochi would have accepted; lifecycle events report it as CLIENT_ERROR.
type ProtocolViolation struct{ Reason string }

func (e *ProtocolViolation) Error() string { return e.Reason }

// Unwrap makes Mochi treat the error as a rejected packet, which ends the connection.
func (e *ProtocolViolation) Unwrap() error { return packets.ErrRejectPacket }

// connackUnacceptableProtocol is an MQTT 3.1.1 CONNACK with return code 0x01.
var connackUnacceptableProtocol = []byte{0x20, 0x02, 0x00, 0x01}

// checkConnect311 applies MQTT 3.1.1's rules for a CONNECT that Mochi, which reads MQTT 3.1.1 with
// MQTT 5's leniency, lets through or answers with an MQTT 5 code. A violation closes the
// connection without a CONNACK [MQTT-3.1.4-1], except an unsupported protocol level, which gets
// CONNACK 0x01 first [MQTT-3.1.2-2].
func (p *Profile) checkConnect311(cl *mqtt.Client, pk packets.Packet) error {
	if pk.ProtocolVersion == 5 && bytes.Equal(pk.Connect.ProtocolName, []byte("MQTT")) {
		return nil
	}
	c := pk.Connect
	name := string(c.ProtocolName)
	if name != "MQTT" && name != "MQIsdp" {
		return p.violation(cl, "protocol name %q is not MQTT [MQTT-3.1.2-1]", name)
	}
	if name == "MQTT" && pk.ProtocolVersion != 4 || name == "MQIsdp" && pk.ProtocolVersion != 3 {
		_, _ = cl.Net.Conn.Write(connackUnacceptableProtocol)
		return p.violation(cl, "protocol level %d is not supported [MQTT-3.1.2-2]", pk.ProtocolVersion)
	}
	var reason string
	switch {
	case pk.ReservedBit != 0:
		reason = "the reserved connect flag is set [MQTT-3.1.2-3]"
	case !c.WillFlag && (c.WillQos != 0 || c.WillRetain):
		reason = "will QoS or will retain set without the will flag [MQTT-3.1.2-11] [MQTT-3.1.2-13] [MQTT-3.1.2-15]"
	case c.WillFlag && c.WillQos > 2:
		reason = "will QoS 3 [MQTT-3.1.2-14]"
	case c.PasswordFlag && !c.UsernameFlag:
		reason = "a password without a user name [MQTT-3.1.2-22]"
	case !validString(c.ClientIdentifier), !validString(c.WillTopic), !validString(string(c.Username)):
		reason = "a string is not well-formed UTF-8 or contains U+0000 [MQTT-1.5.3-1] [MQTT-1.5.3-2]"
	case connectLength311(pk) != pk.FixedHeader.Remaining:
		reason = "the payload holds fields its flags do not announce [MQTT-3.1.2-18] [MQTT-3.1.2-20]"
	}
	if reason != "" {
		return p.violation(cl, "malformed CONNECT: %s", reason)
	}
	return nil
}

// connectLength311 is the remaining length an MQTT 3.1.1 CONNECT with these fields must have.
func connectLength311(pk packets.Packet) int {
	c := pk.Connect
	n := 2 + len(c.ProtocolName) + 1 + 1 + 2 // protocol name, level, flags, keep alive
	n += 2 + len(c.ClientIdentifier)
	if c.WillFlag {
		n += 2 + len(c.WillTopic) + 2 + len(c.WillPayload)
	}
	if c.UsernameFlag {
		n += 2 + len(c.Username)
	}
	if c.PasswordFlag {
		n += 2 + len(c.Password)
	}
	return n
}

// validString reports whether s is an MQTT UTF-8 string: well-formed and free of U+0000.
func validString(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// checkFraming closes connections that send packets MQTT calls malformed but Mochi accepts.
func (p *Profile) checkFraming(cl *mqtt.Client, pk *packets.Packet) error {
	switch pk.FixedHeader.Type {
	case packets.Pingreq, packets.Disconnect:
		if pk.FixedHeader.Remaining != 0 && cl.Properties.ProtocolVersion < 5 {
			return p.violation(cl, "malformed %s: remaining length %d, must be 0 [MQTT-4.8.0-1]", packets.PacketNames[pk.FixedHeader.Type], pk.FixedHeader.Remaining)
		}
	}
	return nil
}

// violation logs a protocol violation and returns the error that closes the connection.
func (p *Profile) violation(cl *mqtt.Client, format string, args ...any) error {
	reason := fmt.Sprintf(format, args...)
	p.log.Warn("connection closed: protocol violation", "client", cl.ID, "remote", cl.Net.Remote, "reason", reason)
	return &ProtocolViolation{Reason: reason}
}
