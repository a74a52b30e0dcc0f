package bench

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The MQTT 3.1.1 control packet types the load generator sends or reads.
const (
	packetCONNECT    = 1
	packetCONNACK    = 2
	packetPUBLISH    = 3
	packetPUBACK     = 4
	packetSUBSCRIBE  = 8
	packetSUBACK     = 9
	packetPINGREQ    = 12
	packetPINGRESP   = 13
	packetDISCONNECT = 14
)

// maxPacketSize bounds what the reader accepts: AWS IoT's payload limit (128 KiB) plus room for
// the topic and headers. A larger packet means a broken stream, not a message to measure.
const maxPacketSize = 256 << 10

// errPacketTooLarge is a remaining length beyond maxPacketSize.
var errPacketTooLarge = errors.New("mqtt: packet larger than 256 KiB")

// appendRemainingLength appends MQTT's variable-length integer.
func appendRemainingLength(b []byte, n int) []byte {
	for {
		d := byte(n % 128)
		n /= 128
		if n > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if n == 0 {
			return b
		}
	}
}

// appendString appends a length-prefixed UTF-8 string.
func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// appendConnect appends an MQTT 3.1.1 CONNECT with clean session, the client id and keep-alive
// in seconds, and no will, user name or password — what an AWS IoT device on mTLS sends.
func appendConnect(b []byte, clientID string, keepAliveSeconds uint16) []byte {
	rem := 10 + 2 + len(clientID)
	b = append(b, packetCONNECT<<4)
	b = appendRemainingLength(b, rem)
	b = appendString(b, "MQTT")
	b = append(b, 4, 0x02) // protocol level 4 (3.1.1), flags: clean session
	b = binary.BigEndian.AppendUint16(b, keepAliveSeconds)
	return appendString(b, clientID)
}

// appendPublish appends a PUBLISH; the packet id is used only when qos > 0.
func appendPublish(b []byte, topic string, qos byte, id uint16, payload []byte) []byte {
	rem := 2 + len(topic) + len(payload)
	if qos > 0 {
		rem += 2
	}
	b = append(b, packetPUBLISH<<4|qos<<1)
	b = appendRemainingLength(b, rem)
	b = appendString(b, topic)
	if qos > 0 {
		b = binary.BigEndian.AppendUint16(b, id)
	}
	return append(b, payload...)
}

// appendPuback appends the PUBACK of packet id.
func appendPuback(b []byte, id uint16) []byte {
	return append(b, packetPUBACK<<4, 2, byte(id>>8), byte(id))
}

// appendSubscribe appends a SUBSCRIBE for one filter.
func appendSubscribe(b []byte, id uint16, filter string, qos byte) []byte {
	b = append(b, packetSUBSCRIBE<<4|0x02)
	b = appendRemainingLength(b, 2+2+len(filter)+1)
	b = binary.BigEndian.AppendUint16(b, id)
	b = appendString(b, filter)
	return append(b, qos)
}

// Fixed packets without variable parts.
var (
	pingreqPacket    = []byte{packetPINGREQ << 4, 0}
	disconnectPacket = []byte{packetDISCONNECT << 4, 0}
)

// readPacket reads one packet: its first byte and its body into buf (grown as needed, and
// returned so the caller can keep it for the next packet).
func readPacket(r *bufio.Reader, buf []byte) (header byte, body []byte, err error) {
	header, err = r.ReadByte()
	if err != nil {
		return 0, buf, err
	}
	n, mult := 0, 1
	for i := 0; ; i++ {
		d, err := r.ReadByte()
		if err != nil {
			return 0, buf, unexpectedEOF(err)
		}
		n += int(d&0x7f) * mult
		if d&0x80 == 0 {
			break
		}
		if i == 3 {
			return 0, buf, errors.New("mqtt: malformed remaining length")
		}
		mult *= 128
	}
	if n > maxPacketSize {
		return 0, buf, errPacketTooLarge
	}
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	body = buf[:n]
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, buf, unexpectedEOF(err)
	}
	return header, body, nil
}

// unexpectedEOF turns io.EOF in the middle of a packet into io.ErrUnexpectedEOF.
func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// publishPacket is a decoded PUBLISH; its slices alias the read buffer.
type publishPacket struct {
	topic   []byte
	qos     byte
	id      uint16
	payload []byte
}

// parsePublish decodes a PUBLISH body given its first byte.
func parsePublish(header byte, body []byte) (publishPacket, error) {
	p := publishPacket{qos: header >> 1 & 3}
	if len(body) < 2 {
		return p, errors.New("mqtt: PUBLISH shorter than its topic length")
	}
	tl := int(binary.BigEndian.Uint16(body))
	body = body[2:]
	if len(body) < tl {
		return p, errors.New("mqtt: PUBLISH shorter than its topic")
	}
	p.topic, body = body[:tl], body[tl:]
	if p.qos > 0 {
		if len(body) < 2 {
			return p, errors.New("mqtt: PUBLISH without packet id")
		}
		p.id, body = binary.BigEndian.Uint16(body), body[2:]
	}
	p.payload = body
	return p, nil
}

// ConnackError is a CONNACK that refused the connection.
type ConnackError struct{ Code byte }

func (e *ConnackError) Error() string {
	names := map[byte]string{1: "unacceptable protocol version", 2: "identifier rejected",
		3: "server unavailable", 4: "bad user name or password", 5: "not authorized"}
	if n, ok := names[e.Code]; ok {
		return fmt.Sprintf("CONNACK refused: %s (%d)", n, e.Code)
	}
	return fmt.Sprintf("CONNACK refused: code %d", e.Code)
}
