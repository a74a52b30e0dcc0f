package conformance

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// client is one raw MQTT connection to a target, driven packet by packet by a test.
type client struct {
	t      *testing.T
	conn   *tls.Conn
	r      *bufio.Reader
	v5     bool
	nextID uint16
	// awaitingRel holds the ids of QoS 2 deliveries this client answered with PUBREC through
	// ack; expect answers their PUBREL with PUBCOMP whenever it arrives.
	awaitingRel map[uint16]bool
}

// dial completes a TLS handshake with the permissive certificate; nothing is sent yet.
func (tg *target) dial(t *testing.T) *client { return tg.dialWith(t, tg.tls) }

// dialWith completes a TLS handshake with the given client configuration.
func (tg *target) dialWith(t *testing.T, cfg *tls.Config) *client {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: waitFor}, "tcp", tg.addr, cfg)
	if err != nil {
		t.Fatalf("TLS dial %s: %v", tg.addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return &client{t: t, conn: conn, r: bufio.NewReaderSize(conn, 1<<16)}
}

// connectRaw dials and sends the CONNECT described by o, without reading the answer.
func (tg *target) connectRaw(t *testing.T, o connectOpts) *client {
	t.Helper()
	c := tg.dial(t)
	c.v5 = o.v5()
	c.send(connectPacket(o))
	return c
}

// connect dials, sends the CONNECT described by o and requires CONNACK with return code 0.
func (tg *target) connect(t *testing.T, o connectOpts) (*client, packet) {
	t.Helper()
	c := tg.connectRaw(t, o)
	ack := c.expectConnack(0)
	return c, ack
}

// session connects with the given client id and clean session flag and a 60 s keep-alive.
func (tg *target) session(t *testing.T, id string, clean bool) (*client, packet) {
	t.Helper()
	return tg.connect(t, connectOpts{clientID: id, clean: clean, keepAlive: 60})
}

// fresh connects a clean session with a unique client id.
func (tg *target) fresh(t *testing.T) *client {
	t.Helper()
	c, _ := tg.session(t, unique(), true)
	return c
}

// fresh5 connects an MQTT 5 clean session with a unique client id.
func (tg *target) fresh5(t *testing.T, ps ...property) (*client, packet) {
	t.Helper()
	return tg.connect(t, connectOpts{level: 5, clientID: unique(), clean: true, keepAlive: 60, props: ps})
}

// send writes the packets in one TLS write; a failed write fails the test.
func (c *client) send(pkts ...[]byte) {
	c.t.Helper()
	if err := c.trySend(pkts...); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// trySend writes the packets in one TLS write and returns the error.
func (c *client) trySend(pkts ...[]byte) error {
	c.conn.SetWriteDeadline(time.Now().Add(waitFor))
	_, err := c.conn.Write(bytes.Join(pkts, nil))
	return err
}

// newID is the next packet identifier of this client (never 0).
func (c *client) newID() uint16 {
	c.nextID++
	if c.nextID == 0 {
		c.nextID = 1
	}
	return c.nextID
}

// next reads one packet, waiting at most d.
func (c *client) next(d time.Duration) (packet, error) {
	c.conn.SetReadDeadline(time.Now().Add(d))
	return readPacket(c.r, c.v5)
}

// isTimeout reports whether err is a read deadline expiring.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// read returns the next packet that needs the test's attention, waiting until deadline. A
// PUBREL completing a QoS 2 delivery acknowledged by ack is answered with PUBCOMP and skipped,
// unless the test waits for a PUBREL.
func (c *client) read(deadline time.Time, want byte) (packet, error) {
	for {
		p, err := c.next(time.Until(deadline))
		if err == nil && p.typ == typePubrel && c.awaitingRel[p.id] {
			delete(c.awaitingRel, p.id)
			if want != typePubrel {
				c.send(ackPacket(typePubcomp, p.id))
				continue
			}
		}
		return p, err
	}
}

// expect reads the next packet and requires it to be of type typ.
func (c *client) expect(typ byte) packet {
	c.t.Helper()
	p, err := c.read(time.Now().Add(waitFor), typ)
	switch {
	case isTimeout(err):
		c.t.Fatalf("waited %v for %s: nothing arrived", waitFor, typeNames[typ])
	case err != nil:
		c.t.Fatalf("waiting for %s: connection ended: %v", typeNames[typ], err)
	case p.typ != typ:
		c.t.Fatalf("waiting for %s: got %v", typeNames[typ], p)
	}
	return p
}

// expectConnack requires a CONNACK with the given return code (reason code for MQTT 5).
func (c *client) expectConnack(code byte) packet {
	c.t.Helper()
	p := c.expect(typeConnack)
	if p.code != code {
		c.t.Fatalf("CONNACK return code 0x%02x, want 0x%02x (%v)", p.code, code, p)
	}
	return p
}

// expectClosed requires the server to close the connection without sending anything more.
func (c *client) expectClosed() {
	c.t.Helper()
	p, err := c.next(waitFor)
	switch {
	case err == nil:
		c.t.Fatalf("want the connection closed with nothing sent, got %v", p)
	case isTimeout(err):
		c.t.Fatalf("want the connection closed; still open after %v", waitFor)
	}
}

// expectNothing requires that nothing arrives for d and the connection stays open.
func (c *client) expectNothing(d time.Duration) {
	c.t.Helper()
	p, err := c.read(time.Now().Add(d), 0)
	switch {
	case err == nil:
		c.t.Fatalf("want nothing, got %v", p)
	case !isTimeout(err):
		c.t.Fatalf("want the connection to stay open, it ended: %v", err)
	}
}

// ping requires the next packet to be the PINGRESP answering a PINGREQ sent now. The server
// writes acknowledgements in the order it reads packets, so a ping also proves that an earlier
// packet got no acknowledgement.
func (c *client) ping() {
	c.t.Helper()
	c.send(pingreqPacket)
	c.expect(typePingresp)
}

// subscribe sends one SUBSCRIBE and returns the SUBACK return codes, checking the packet id.
func (c *client) subscribe(subs ...sub) []byte {
	c.t.Helper()
	id := c.newID()
	c.send(subscribePacket(id, c.v5, nil, subs...))
	p := c.expect(typeSuback)
	if p.id != id {
		c.t.Fatalf("SUBACK packet id %d, want %d", p.id, id)
	}
	return p.codes
}

// sub1 subscribes to one filter and requires the given return code.
func (c *client) sub1(filter string, qos, want byte) {
	c.t.Helper()
	codes := c.subscribe(sub{filter, qos})
	if len(codes) != 1 || codes[0] != want {
		c.t.Fatalf("SUBACK for %q (QoS %d): codes % x, want %02x", filter, qos, codes, want)
	}
}

// unsubscribe sends one UNSUBSCRIBE and waits for its UNSUBACK.
func (c *client) unsubscribe(filters ...string) packet {
	c.t.Helper()
	id := c.newID()
	c.send(unsubscribePacket(id, c.v5, filters...))
	p := c.expect(typeUnsuback)
	if p.id != id {
		c.t.Fatalf("UNSUBACK packet id %d, want %d", p.id, id)
	}
	return p
}

// publish sends a PUBLISH and completes its QoS flow: PUBACK for QoS 1; PUBREC, PUBREL, PUBCOMP
// for QoS 2. A packet id is assigned when p.id is 0.
func (c *client) publish(p pub) {
	c.t.Helper()
	if p.qos > 0 && p.id == 0 {
		p.id = c.newID()
	}
	c.send(p.encode(c.v5))
	switch p.qos {
	case 1:
		if a := c.expect(typePuback); a.id != p.id {
			c.t.Fatalf("PUBACK packet id %d, want %d", a.id, p.id)
		}
	case 2:
		if a := c.expect(typePubrec); a.id != p.id {
			c.t.Fatalf("PUBREC packet id %d, want %d", a.id, p.id)
		}
		c.send(ackPacket(typePubrel, p.id))
		if a := c.expect(typePubcomp); a.id != p.id {
			c.t.Fatalf("PUBCOMP packet id %d, want %d", a.id, p.id)
		}
	}
}

// pub0 publishes a QoS 0 message.
func (c *client) pub0(topic, payload string) {
	c.t.Helper()
	c.publish(pub{topic: topic, payload: []byte(payload)})
}

// receiveRaw waits for a PUBLISH and returns it without acknowledging it.
func (c *client) receiveRaw() packet {
	c.t.Helper()
	return c.expect(typePublish)
}

// receive waits for a PUBLISH and acknowledges it as its QoS requires (for QoS 2 it sends
// PUBREC; expect sends PUBCOMP when the PUBREL comes).
func (c *client) receive() packet {
	c.t.Helper()
	p := c.expect(typePublish)
	c.ack(p)
	return p
}

// ack acknowledges a received PUBLISH.
func (c *client) ack(p packet) {
	c.t.Helper()
	switch p.qos {
	case 1:
		c.send(ackPacket(typePuback, p.id))
	case 2:
		c.send(ackPacket(typePubrec, p.id))
		if c.awaitingRel == nil {
			c.awaitingRel = map[uint16]bool{}
		}
		c.awaitingRel[p.id] = true
	}
}

// receiveOn waits for a PUBLISH and requires its topic and payload.
func (c *client) receiveOn(topic, payload string) packet {
	c.t.Helper()
	p := c.receive()
	if p.topic != topic || string(p.payload) != payload {
		c.t.Fatalf("got %v, want a message %q on %q", p, payload, topic)
	}
	return p
}

// until collects (and acknowledges) every PUBLISH that arrives before one on sentinelTopic, which
// it also acknowledges but does not return. Messages from one publisher reach a subscriber in
// the order they were published, so a sentinel published last bounds what else could come.
func (c *client) until(sentinelTopic string) []packet {
	c.t.Helper()
	var got []packet
	for {
		p := c.receive()
		if p.topic == sentinelTopic {
			return got
		}
		got = append(got, p)
	}
}

// expectOnlySentinel requires that the sentinel is the next message: nothing else was delivered
// first.
func (c *client) expectOnlySentinel(sentinelTopic string) {
	c.t.Helper()
	if got := c.until(sentinelTopic); len(got) > 0 {
		c.t.Fatalf("want no delivery before the sentinel on %q, got %v", sentinelTopic, got)
	}
}

// close drops the connection without DISCONNECT.
func (c *client) close() { c.conn.Close() }

// disconnect sends DISCONNECT and closes the connection.
func (c *client) disconnect() {
	c.send(disconnectPacket)
	c.conn.Close()
}

// str is a pointer to s, for optional CONNECT fields.
func str(s string) *string { return &s }
