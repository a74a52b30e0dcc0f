package bench

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// epoch is the run clock's origin. Every timestamp the package takes, including those carried
// in payloads, is monotonic nanoseconds since epoch, so publish→deliver latency never suffers
// from wall-clock steps.
var epoch = time.Now()

// now reads the run clock.
func now() int64 { return int64(time.Since(epoch)) }

// connectTiming is how long each step of one connection took.
type connectTiming struct {
	tcp, tls, connack time.Duration
}

// StageError is a failed connection attempt and the step it failed at: "tcp", "tls" or
// "connack".
type StageError struct {
	Stage string
	Err   error
}

func (e *StageError) Error() string { return e.Stage + ": " + e.Err.Error() }
func (e *StageError) Unwrap() error { return e.Err }

// handlers receive what a connection reads once it is established. They run on the
// connection's reader goroutine, one packet at a time; a PUBLISH's slices are valid only
// during the call.
type handlers struct {
	publish func(p publishPacket)
	puback  func(id uint16)
	suback  func(id uint16, codes []byte)
}

// client is one MQTT 3.1.1 connection over TLS.
type client struct {
	index int
	id    string
	conn  *tls.Conn
	br    *bufio.Reader

	wmu       sync.Mutex
	wbuf      []byte
	lastWrite atomic.Int64 // run clock of the last packet written

	h       handlers
	ackBuf  []byte // PUBACKs the reader owes, written when it has nothing more to read
	done    chan struct{}
	readErr error // why the reader stopped; read after done is closed
	closing atomic.Bool
}

// connect opens connection i: TCP, TLS handshake, CONNECT, and waits for CONNACK, timing each.
// The reader goroutine is not started: call start.
func (d *dialer) connect(ctx context.Context, i int) (*client, connectTiming, error) {
	var tm connectTiming
	clientID, cert := d.identity(i)
	nd := net.Dialer{Timeout: d.t.ConnectTimeout, KeepAlive: -1}
	if la := d.localAddr(i); la != nil {
		nd.LocalAddr = la
	}
	t0 := time.Now()
	raw, err := nd.DialContext(ctx, "tcp", d.addr)
	if err != nil {
		return nil, tm, &StageError{"tcp", err}
	}
	t1 := time.Now()
	tm.tcp = t1.Sub(t0)
	conn := tls.Client(raw, d.tlsConfig(cert))
	hctx, cancel := context.WithTimeout(ctx, d.t.ConnectTimeout)
	err = conn.HandshakeContext(hctx)
	cancel()
	if err != nil {
		raw.Close()
		return nil, tm, &StageError{"tls", err}
	}
	t2 := time.Now()
	tm.tls = t2.Sub(t1)

	c := &client{index: i, id: clientID, conn: conn, br: bufio.NewReaderSize(conn, 1024), done: make(chan struct{})}
	keepAlive := uint16(min(d.t.KeepAlive/time.Second, 65535))
	// Stop waiting for CONNACK when ctx ends, not only at the deadline.
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	conn.SetDeadline(t2.Add(d.t.ConnectTimeout))
	if err := c.write(func(b []byte) []byte { return appendConnect(b, clientID, keepAlive) }); err != nil {
		conn.Close()
		return nil, tm, &StageError{"connack", err}
	}
	header, body, err := readPacket(c.br, nil)
	if err == nil && (header>>4 != packetCONNACK || len(body) != 2) {
		err = fmt.Errorf("expected CONNACK, got packet type %d", header>>4)
	}
	if err == nil && body[1] != 0 {
		err = &ConnackError{Code: body[1]}
	}
	if err != nil {
		conn.Close()
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, tm, &StageError{"connack", err}
	}
	tm.connack = time.Since(t2)
	conn.SetDeadline(time.Time{})
	return c, tm, nil
}

// write appends one packet with fill and writes it, as one TLS record.
func (c *client) write(fill func([]byte) []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wbuf = fill(c.wbuf[:0])
	_, err := c.conn.Write(c.wbuf)
	c.lastWrite.Store(now())
	return err
}

// writeRaw writes bytes already encoded.
func (c *client) writeRaw(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.conn.Write(b)
	c.lastWrite.Store(now())
	return err
}

// start runs the reader goroutine with h until the connection ends.
func (c *client) start(h handlers) {
	c.h = h
	go c.read()
}

// read dispatches incoming packets. PUBACKs it owes for QoS 1 deliveries are batched and
// written when nothing more is buffered, as a busy device would.
func (c *client) read() {
	defer close(c.done)
	var buf []byte
	for {
		if len(c.ackBuf) > 0 && (c.br.Buffered() == 0 || len(c.ackBuf) >= 1024) {
			if err := c.writeRaw(c.ackBuf); err != nil {
				c.readErr = fmt.Errorf("write PUBACK: %w", err)
				return
			}
			c.ackBuf = c.ackBuf[:0]
		}
		var header byte
		var body []byte
		var err error
		header, body, err = readPacket(c.br, buf)
		buf = body[:0:cap(body)]
		if err != nil {
			c.readErr = err
			return
		}
		switch header >> 4 {
		case packetPUBLISH:
			p, err := parsePublish(header, body)
			if err != nil {
				c.readErr = err
				return
			}
			if p.qos == 1 {
				c.ackBuf = appendPuback(c.ackBuf, p.id)
			}
			if c.h.publish != nil {
				c.h.publish(p)
			}
		case packetPUBACK:
			if len(body) >= 2 && c.h.puback != nil {
				c.h.puback(binary.BigEndian.Uint16(body))
			}
		case packetSUBACK:
			if len(body) >= 2 && c.h.suback != nil {
				c.h.suback(binary.BigEndian.Uint16(body), body[2:])
			}
		}
	}
}

// subscribe sends one SUBSCRIBE and waits for its SUBACK; the reader must be running with a
// suback handler that forwards to acks.
func (c *client) subscribe(ctx context.Context, id uint16, filter string, qos byte, acks <-chan []byte, timeout time.Duration) error {
	if err := c.write(func(b []byte) []byte { return appendSubscribe(b, id, filter, qos) }); err != nil {
		return fmt.Errorf("subscribe %s: %w", filter, err)
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case codes := <-acks:
		if len(codes) != 1 || codes[0] == 0x80 || codes[0] > 2 {
			return fmt.Errorf("subscribe %s: refused (SUBACK %x)", filter, codes)
		}
		return nil
	case <-c.done:
		return fmt.Errorf("subscribe %s: connection closed: %w", filter, c.readErr)
	case <-t.C:
		return fmt.Errorf("subscribe %s: no SUBACK within %v", filter, timeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// alive says whether the reader still runs, i.e. the server has not closed the connection.
func (c *client) alive() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// close sends DISCONNECT and closes the connection, waiting for the reader (if started) to
// stop. A writer blocked on a full socket is cut off by the write deadline.
func (c *client) close(started bool) {
	if !c.closing.CompareAndSwap(false, true) {
		return
	}
	c.conn.SetWriteDeadline(time.Now().Add(time.Second)) // frees a writer blocked on a full socket
	if c.alive() || !started {
		c.wmu.Lock()
		c.conn.SetWriteDeadline(time.Now().Add(time.Second))
		c.conn.Write(disconnectPacket)
		c.wmu.Unlock()
	}
	c.conn.Close()
	if started {
		<-c.done
	}
}

// closedByServer reports whether the reader stopped because the server ended the connection
// (as opposed to our own close).
func (c *client) closedByServer() bool {
	return !c.alive() && !c.closing.Load()
}

// readError describes why the reader stopped, for failure counts.
func (c *client) readError() string {
	err := c.readErr
	switch {
	case err == nil:
		return "closed"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "closed by server"
	}
	var alert tls.AlertError
	if errors.As(err, &alert) {
		return "tls alert: " + alert.Error()
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return err.Error()
}

// keepAlive sends PINGREQ on every live connection that has written nothing for half the
// keep-alive, checking once a second, until ctx ends. A connection busy writing is skipped:
// its writes keep it alive anyway.
func keepAlive(ctx context.Context, clients func() []*client, interval time.Duration) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	half := int64(interval / 2)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		t := now()
		for _, c := range clients() {
			if c == nil || !c.alive() || c.closing.Load() || t-c.lastWrite.Load() < half {
				continue
			}
			if c.wmu.TryLock() {
				c.conn.SetWriteDeadline(time.Now().Add(time.Second))
				c.conn.Write(pingreqPacket)
				c.conn.SetWriteDeadline(time.Time{})
				c.lastWrite.Store(now())
				c.wmu.Unlock()
			}
			if ctx.Err() != nil {
				return
			}
		}
	}
}

// closeAll disconnects every client, a bounded number at a time.
func closeAll(clients []*client, started bool) {
	const parallel = 64
	var wg sync.WaitGroup
	sem := make(chan struct{}, parallel)
	for _, c := range clients {
		if c == nil {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			c.close(started)
		}()
	}
	wg.Wait()
}
