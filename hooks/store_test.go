package hooks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	packets5 "github.com/eclipse/paho.golang/packets"
	paho5 "github.com/eclipse/paho.golang/paho"
	paho "github.com/eclipse/paho.mqtt.golang"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/storage"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
	"go.etcd.io/bbolt"
)

// storeTestPrincipals names a certificate after the client id.
type storeTestPrincipals struct{}

func (storeTestPrincipals) PrincipalOf(cl *mqtt.Client) (Principal, bool) {
	return Principal{CertificateID: "cert-" + cl.ID, ThingName: "thing-" + cl.ID}, true
}

// storePermissive admits every connection and allows every operation, except subscriptions to the
// filters in deny.
type storePermissive struct {
	mqtt.HookBase
	deny map[string]bool
}

func (h *storePermissive) ID() string { return "test-permissive" }

func (h *storePermissive) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}

func (h *storePermissive) OnConnectAuthenticate(*mqtt.Client, packets.Packet) bool { return true }

func (h *storePermissive) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	return write || !h.deny[topic]
}

// storeAcks counts, per client, the acknowledgements read from it and the sessions it established.
type storeAcks struct {
	mqtt.HookBase
	mu          sync.Mutex
	completed   map[string]map[uint16]int
	established map[string]int
}

func (h *storeAcks) ID() string { return "test-acks" }

func (h *storeAcks) Provides(b byte) bool {
	return b == mqtt.OnQosComplete || b == mqtt.OnSessionEstablished
}

func (h *storeAcks) OnQosComplete(cl *mqtt.Client, pk packets.Packet) {
	if pk.Created != 0 { // the server's own PUBACK to a publisher
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.completed[cl.ID] == nil {
		h.completed[cl.ID] = map[uint16]int{}
	}
	h.completed[cl.ID][pk.PacketID]++
}

func (h *storeAcks) OnSessionEstablished(cl *mqtt.Client, pk packets.Packet) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.established[cl.ID]++
}

func (h *storeAcks) snapshot(clientID string) (map[uint16]int, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[uint16]int{}
	for k, v := range h.completed[clientID] {
		out[k] = v
	}
	return out, h.established[clientID]
}

// storeTestLogger writes to the test log until the test ends (Mochi's goroutines may log later).
func storeTestLogger(t *testing.T, level slog.Level) *slog.Logger {
	var done atomic.Bool
	t.Cleanup(func() { done.Store(true) })
	return slog.New(slog.NewTextHandler(storeLogWriter{t, &done}, &slog.HandlerOptions{Level: level}))
}

type storeLogWriter struct {
	t    *testing.T
	done *atomic.Bool
}

func (w storeLogWriter) Write(p []byte) (int, error) {
	if !w.done.Load() {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// storeBroker is a Mochi server on a loopback port with the store on path.
type storeBroker struct {
	srv   *mqtt.Server
	store *Store
	acks  *storeAcks
	addr  string
	once  sync.Once
}

type storeBrokerOptions struct {
	deny          []string
	sessionExpiry int64 // seconds; 0 means one hour
}

func startStoreBroker(t *testing.T, path string, o storeBrokerOptions) *storeBroker {
	t.Helper()
	store, err := OpenStore(StoreOptions{Path: path, Logger: storeTestLogger(t, slog.LevelInfo), Principals: storeTestPrincipals{}})
	if err != nil {
		t.Fatalf("OpenStore: %v", err)
	}
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumMessageExpiryInterval = 0
	caps.MaximumSessionExpiryInterval = 3600
	if o.sessionExpiry > 0 {
		caps.MaximumSessionExpiryInterval = uint32(o.sessionExpiry)
	}
	srv := mqtt.New(&mqtt.Options{
		Capabilities:           caps,
		InlineClient:           true,
		Logger:                 storeTestLogger(t, slog.LevelWarn),
		SysTopicResendInterval: math.MaxInt32,
	})
	deny := map[string]bool{}
	for _, f := range o.deny {
		deny[f] = true
	}
	b := &storeBroker{srv: srv, store: store, acks: &storeAcks{completed: map[string]map[uint16]int{}, established: map[string]int{}}}
	for _, h := range []mqtt.Hook{&storePermissive{deny: deny}, store, b.acks} {
		if err := srv.AddHook(h, nil); err != nil {
			t.Fatal(err)
		}
	}
	ln := closeSafely{listeners.NewTCP(listeners.Config{ID: "t", Address: "127.0.0.1:0"}), srv}
	if err := srv.AddListener(ln); err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	b.addr = ln.Address()
	t.Cleanup(b.stop)
	return b
}

// closeSafely is a Mochi TCP listener that, when the server closes it, disconnects its clients
// through Clients.GetAll instead of Mochi's closeListenerClients, whose Clients.GetByListener
// takes the clients' read lock twice: a client disconnecting in between (waiting for the write
// lock) blocks both for good and Server.Close never returns (docs/mochi-patches.md; the
// emulator's listeners do the same, emulator/broker.go).
type closeSafely struct {
	*listeners.TCP
	srv *mqtt.Server
}

// Close closes the listener and disconnects its live clients.
func (l closeSafely) Close(listeners.CloseFn) {
	l.TCP.Close(func(id string) {
		for _, cl := range l.srv.Clients.GetAll() {
			if cl.Net.Listener == id && !cl.Closed() {
				_ = l.srv.DisconnectClient(cl, packets.ErrServerShuttingDown)
			}
		}
	})
}

// stop closes the server, which stops the store.
func (b *storeBroker) stop() {
	b.once.Do(func() { b.srv.Close() })
}

// storeReceived is one message a test client got.
type storeReceived struct {
	topic, payload string
	id             uint16
	dup, retained  bool
}

// storeClient is a paho MQTT 3.1.1 client that collects what it receives.
type storeClient struct {
	paho.Client
	sessionPresent bool
	msgs           chan storeReceived
}

func storeConnect(t *testing.T, addr, id string, clean bool) *storeClient {
	t.Helper()
	c := &storeClient{msgs: make(chan storeReceived, 1000)}
	opts := paho.NewClientOptions().
		AddBroker("tcp://" + addr).
		SetClientID(id).
		SetCleanSession(clean).
		SetProtocolVersion(4).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetKeepAlive(30 * time.Second).
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
			c.msgs <- storeReceived{m.Topic(), string(m.Payload()), m.MessageID(), m.Duplicate(), m.Retained()}
		})
	c.Client = paho.NewClient(opts)
	tok := c.Connect()
	if err := storeWaitToken(tok); err != nil {
		t.Fatalf("connect %s: %v", id, err)
	}
	c.sessionPresent = tok.(*paho.ConnectToken).SessionPresent()
	t.Cleanup(func() {
		if c.IsConnected() {
			c.Disconnect(0)
		}
	})
	return c
}

func storeWaitToken(tok paho.Token) error {
	if !tok.WaitTimeout(10 * time.Second) {
		return fmt.Errorf("timed out")
	}
	return tok.Error()
}

func (c *storeClient) subscribe(t *testing.T, filters map[string]byte) map[string]byte {
	t.Helper()
	tok := c.SubscribeMultiple(filters, nil)
	if err := storeWaitToken(tok); err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	return tok.(*paho.SubscribeToken).Result()
}

func (c *storeClient) publish(t *testing.T, topic string, qos byte, retained bool, payload string) {
	t.Helper()
	if err := storeWaitToken(c.Publish(topic, qos, retained, payload)); err != nil {
		t.Fatalf("publish %s: %v", topic, err)
	}
}

// collect waits for n messages.
func (c *storeClient) collect(t *testing.T, n int) []storeReceived {
	t.Helper()
	var out []storeReceived
	timeout := time.After(10 * time.Second)
	for len(out) < n {
		select {
		case m := <-c.msgs:
			out = append(out, m)
		case <-timeout:
			t.Fatalf("received %d of %d messages: %+v", len(out), n, out)
		}
	}
	return out
}

// quiet fails if a message arrives within d.
func (c *storeClient) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case m := <-c.msgs:
		t.Fatalf("unexpected message %+v", m)
	case <-time.After(d):
	}
}

// flush waits until every write submitted so far is committed.
func (s *Store) flush(t *testing.T) {
	t.Helper()
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
}

// stored reads the records of one session from the open store.
func (s *Store) stored(t *testing.T, clientID string) (found bool, filters map[string]byte, inflight map[uint16]storage.Message) {
	t.Helper()
	s.flush(t)
	filters, inflight = map[string]byte{}, map[uint16]storage.Message{}
	err := s.db.View(func(tx *bbolt.Tx) error {
		b, _ := sessionBucket(tx, clientID, false)
		if b == nil {
			return nil
		}
		found = b.Get(keyClient) != nil
		if err := b.Bucket(bucketSubscriptions).ForEach(func(k, v []byte) error {
			var sub storage.Subscription
			if err := decodeRecord(v, &sub); err != nil {
				return err
			}
			filters[string(k)] = sub.Qos
			return nil
		}); err != nil {
			return err
		}
		return b.Bucket(bucketInflight).ForEach(func(k, v []byte) error {
			var m storage.Message
			if err := decodeRecord(v, &m); err != nil {
				return err
			}
			inflight[packetIDOf(k)] = m
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return found, filters, inflight
}

// waitQueued waits until n messages are stored for clientID: Mochi acknowledges a publish
// before it routes it, so the publisher's PUBACK can precede the record.
func (s *Store) waitQueued(t *testing.T, clientID string, n int) map[uint16]storage.Message {
	t.Helper()
	var inflight map[uint16]storage.Message
	storeWaitFor(t, fmt.Sprintf("%d messages stored for %s", n, clientID), func() bool {
		_, _, inflight = s.stored(t, clientID)
		return len(inflight) == n
	})
	return inflight
}

func storeWaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestStoreRestoresSubscriptions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	b1 := startStoreBroker(t, path, storeBrokerOptions{})
	sub := storeConnect(t, b1.addr, "sub", false)
	if got := sub.subscribe(t, map[string]byte{"a/+": 1, "b/c": 0}); got["a/+"] != 1 || got["b/c"] != 0 {
		t.Fatalf("SUBACK %v", got)
	}
	sub.Disconnect(100)
	b1.stop()

	b2 := startStoreBroker(t, path, storeBrokerOptions{})
	cl, ok := b2.srv.Clients.Get("sub")
	if !ok {
		t.Fatal("session not restored")
	}
	subs := cl.State.Subscriptions.GetAll()
	if len(subs) != 2 || subs["a/+"].Qos != 1 || subs["b/c"].Qos != 0 {
		t.Fatalf("restored subscriptions %+v", subs)
	}
	if cert, ok := b2.store.CertificateFor("sub"); !ok || cert != "cert-sub" {
		t.Fatalf("CertificateFor = %q %v", cert, ok)
	}
	if _, ok := b2.store.CertificateFor("nobody"); ok {
		t.Fatal("CertificateFor knows a client that never connected")
	}

	sub = storeConnect(t, b2.addr, "sub", false)
	if !sub.sessionPresent {
		t.Fatal("CONNACK session present = 0 after restart")
	}
	pub := storeConnect(t, b2.addr, "pub", true)
	pub.publish(t, "a/1", 1, false, "one")
	pub.publish(t, "b/c", 1, false, "two")
	got := sub.collect(t, 2)
	if got[0].payload != "one" || got[1].payload != "two" || got[1].id != 0 {
		t.Fatalf("received %+v", got)
	}
}

func TestStoreNeverRestoresRefusedSubscription(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	b1 := startStoreBroker(t, path, storeBrokerOptions{deny: []string{"secret/#"}})
	sub := storeConnect(t, b1.addr, "sub", false)
	if got := sub.subscribe(t, map[string]byte{"ok/#": 1, "secret/#": 1}); got["ok/#"] != 1 || got["secret/#"] != 0x80 {
		t.Fatalf("SUBACK %v, want ok/# granted and secret/# refused", got)
	}
	if _, filters, _ := b1.store.stored(t, "sub"); len(filters) != 1 || filters["ok/#"] != 1 {
		t.Fatalf("stored filters %v, want only ok/#", filters)
	}
	sub.Disconnect(100)
	b1.stop()

	// The second server would deliver secret/x (only the subscription was refused): a restored
	// refused filter would bypass the policy.
	b2 := startStoreBroker(t, path, storeBrokerOptions{})
	if subs := b2.srv.Topics.Subscribers("secret/x"); len(subs.Subscriptions) != 0 {
		t.Fatalf("refused subscription restored: %+v", subs.Subscriptions)
	}
	sub = storeConnect(t, b2.addr, "sub", false)
	pub := storeConnect(t, b2.addr, "pub", true)
	pub.publish(t, "secret/x", 1, false, "secret")
	pub.publish(t, "ok/x", 1, false, "ok")
	if got := sub.collect(t, 1); got[0].topic != "ok/x" {
		t.Fatalf("received %+v, want only ok/x", got)
	}
	sub.quiet(t, 200*time.Millisecond)
}

func TestStoreDeliversQueuedMessagesAfterRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	b1 := startStoreBroker(t, path, storeBrokerOptions{})
	sub := storeConnect(t, b1.addr, "sub", false)
	sub.subscribe(t, map[string]byte{"q/#": 1})
	sub.Disconnect(100)

	const n = 20
	pub := storeConnect(t, b1.addr, "pub", true)
	for i := range n {
		pub.publish(t, fmt.Sprintf("q/%d", i), 1, false, fmt.Sprintf("m%d", i))
	}
	pub.publish(t, "q/zero", 0, false, "qos0 is not queued for offline sessions")
	inflight := b1.store.waitQueued(t, "sub", n)
	idOf := map[string]uint16{}
	for id, m := range inflight {
		if id == 0 || m.PacketID != id || m.FixedHeader.Qos != 1 || m.Client != "sub" {
			t.Fatalf("stored message %d: %+v", id, m)
		}
		idOf[string(m.Payload)] = id
	}
	b1.stop()

	b2 := startStoreBroker(t, path, storeBrokerOptions{})
	sub = storeConnect(t, b2.addr, "sub", false)
	if !sub.sessionPresent {
		t.Fatal("CONNACK session present = 0 after restart")
	}
	for _, m := range sub.collect(t, n) {
		if want, ok := idOf[m.payload]; !ok || m.id != want || !m.dup {
			t.Fatalf("received %+v; want packet id %d (ok %v) with DUP", m, want, ok)
		}
		delete(idOf, m.payload)
	}
	sub.quiet(t, 300*time.Millisecond)
	storeWaitFor(t, "the acknowledged messages to leave the store", func() bool {
		_, _, inflight := b2.store.stored(t, "sub")
		return len(inflight) == 0
	})
	completed, established := b2.acks.snapshot("sub")
	if established != 1 || len(completed) != n {
		t.Fatalf("sessions established %d (want 1: no reconnect loop), acknowledged ids %d (want %d)", established, len(completed), n)
	}
	for id, times := range completed {
		if times != 1 {
			t.Fatalf("packet id %d acknowledged %d times", id, times)
		}
	}
	sub.Disconnect(100)
	b2.stop()

	// Acknowledged once, gone for good.
	b3 := startStoreBroker(t, path, storeBrokerOptions{})
	sub = storeConnect(t, b3.addr, "sub", false)
	sub.quiet(t, 300*time.Millisecond)
}

func TestStoreRoutesJournalLeftByACrash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	b1 := startStoreBroker(t, path, storeBrokerOptions{})
	sub := storeConnect(t, b1.addr, "sub", false)
	sub.subscribe(t, map[string]byte{"j/#": 1, "j/low": 0})
	sub.Disconnect(100)
	pub := storeConnect(t, b1.addr, "pub", true)
	pub.publish(t, "j/queued", 1, false, "queued")
	b1.stop()

	// What a kill between a PUBACK and the routing leaves: publishes in the journal.
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for i, m := range []storage.Message{
			{TopicName: "j/a", Payload: []byte("journal a"), Origin: "pub", FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}},
			{TopicName: "j/low", Payload: []byte("journal low"), Origin: "pub", FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}},
			{TopicName: "other", Payload: []byte("nobody"), Origin: "pub", FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}},
		} {
			data, err := encodeRecord(m)
			if err != nil {
				return err
			}
			if err := tx.Bucket(bucketJournal).Put(seqKey(uint64(i+1)), data); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	b2 := startStoreBroker(t, path, storeBrokerOptions{})
	_, _, inflight := b2.store.stored(t, "sub")
	if len(inflight) != 3 {
		t.Fatalf("stored %d messages after recovery, want 3: %+v", len(inflight), inflight)
	}
	sub = storeConnect(t, b2.addr, "sub", false)
	got := map[string]storeReceived{}
	for _, m := range sub.collect(t, 3) {
		got[m.payload] = m
	}
	if got["queued"].id == 0 || got["journal a"].id == 0 || got["journal low"].id == 0 || got["queued"].id == got["journal a"].id {
		t.Fatalf("received %+v", got)
	}
	sub.quiet(t, 200*time.Millisecond)
	if err := b2.store.db.View(func(tx *bbolt.Tx) error {
		if k, _ := tx.Bucket(bucketJournal).Cursor().First(); k != nil {
			return fmt.Errorf("journal not emptied")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestStoreRestoresRetainedMessages(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	b1 := startStoreBroker(t, path, storeBrokerOptions{})
	pub := storeConnect(t, b1.addr, "pub", true)
	pub.publish(t, "r/1", 1, true, "one")
	pub.publish(t, "r/2", 0, true, "two")
	pub.publish(t, "r/2", 1, true, "") // an empty retained payload deletes
	if err := b1.srv.Publish("r/3", []byte("three"), true, 0); err != nil {
		t.Fatal(err)
	}
	b1.store.flush(t)
	b1.stop()

	b2 := startStoreBroker(t, path, storeBrokerOptions{})
	for topic, want := range map[string]bool{"r/1": true, "r/2": false, "r/3": true} {
		if _, ok := b2.srv.Topics.Retained.Get(topic); ok != want {
			t.Fatalf("retained %s restored: %v, want %v", topic, ok, want)
		}
	}
	c := storeConnect(t, b2.addr, "reader", true)
	c.subscribe(t, map[string]byte{"r/#": 1})
	got := map[string]storeReceived{}
	for _, m := range c.collect(t, 2) {
		got[m.topic] = m
	}
	if got["r/1"].payload != "one" || !got["r/1"].retained || got["r/3"].payload != "three" || !got["r/3"].retained {
		t.Fatalf("received %+v", got)
	}
	c.quiet(t, 200*time.Millisecond)
}

func TestStoreNeverWritesCleanSessionsOrQoS0(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	b := startStoreBroker(t, path, storeBrokerOptions{})
	persistent := storeConnect(t, b.addr, "persistent", false)
	persistent.subscribe(t, map[string]byte{"p/#": 1})
	atMostOnce := storeConnect(t, b.addr, "at-most-once", false)
	atMostOnce.subscribe(t, map[string]byte{"z/#": 0})
	b.store.flush(t)
	before := b.store.writesApplied.Load()

	clean := storeConnect(t, b.addr, "clean", true)
	clean.subscribe(t, map[string]byte{"c/#": 1, "p/#": 1})
	pub := storeConnect(t, b.addr, "pub", true)
	for i := range 10 {
		pub.publish(t, "c/x", 1, false, fmt.Sprint(i))
		pub.publish(t, "c/x", 0, false, fmt.Sprint(i))
		pub.publish(t, "p/x", 0, false, fmt.Sprint(i)) // QoS 0 to a persistent session, online
	}
	pub.publish(t, "z/x", 1, false, "delivered at QoS 0 to a QoS 0 subscription")
	clean.collect(t, 30)
	atMostOnce.collect(t, 1)
	persistent.collect(t, 10)
	persistent.publish(t, "elsewhere", 1, false, "a persistent publisher's own PUBACK writes nothing")
	persistent.Disconnect(100)
	pub.publish(t, "p/x", 0, false, "offline QoS 0 is not queued")
	if tok := clean.Unsubscribe("c/#"); storeWaitToken(tok) != nil {
		t.Fatal("unsubscribe failed")
	}
	clean.Disconnect(100)
	storeWaitFor(t, "the clean client to leave", func() bool { _, ok := b.srv.Clients.Get("clean"); return !ok })
	b.store.flush(t)
	if n := b.store.writesApplied.Load() - before; n != 1 { // the flush itself
		t.Fatalf("%d writes for clean sessions, QoS 0 traffic and unsubscribed topics, want none", n-1)
	}
	b.stop()

	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var names []string
	err = db.View(func(tx *bbolt.Tx) error {
		if k, _ := tx.Bucket(bucketJournal).Cursor().First(); k != nil {
			return fmt.Errorf("journal not empty")
		}
		return tx.Bucket(bucketSessions).ForEachBucket(func(k []byte) error {
			names = append(names, string(k))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 2 || names[0] != "at-most-once" || names[1] != "persistent" {
		t.Fatalf("stored sessions %v, want only the persistent ones", names)
	}
}

func TestStoreCleanReconnectDiscardsSession(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	b := startStoreBroker(t, path, storeBrokerOptions{})
	sub := storeConnect(t, b.addr, "sub", false)
	sub.subscribe(t, map[string]byte{"x/#": 1})
	sub.Disconnect(100)
	storeConnect(t, b.addr, "pub", true).publish(t, "x/1", 1, false, "queued")
	b.store.waitQueued(t, "sub", 1)
	if found, filters, _ := b.store.stored(t, "sub"); !found || len(filters) != 1 {
		t.Fatalf("before: found %v filters %v", found, filters)
	}
	storeConnect(t, b.addr, "sub", true).Disconnect(100)
	storeWaitFor(t, "the session to be discarded", func() bool {
		found, _, _ := b.store.stored(t, "sub")
		return !found
	})
	if _, ok := b.store.CertificateFor("sub"); ok {
		t.Fatal("CertificateFor still knows the discarded session")
	}
}

func TestStoreDeletesExpiredSessions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	b1 := startStoreBroker(t, path, storeBrokerOptions{sessionExpiry: 1})
	sub := storeConnect(t, b1.addr, "sub", false)
	sub.subscribe(t, map[string]byte{"e/#": 1})
	sub.Disconnect(100)
	storeConnect(t, b1.addr, "pub", true).publish(t, "e/1", 1, false, "queued")
	b1.store.waitQueued(t, "sub", 1)
	storeWaitFor(t, "the expired session to be deleted", func() bool {
		found, _, _ := b1.store.stored(t, "sub")
		return !found
	})
	b1.stop()

	b2 := startStoreBroker(t, path, storeBrokerOptions{})
	if _, ok := b2.srv.Clients.Get("sub"); ok {
		t.Fatal("expired session restored")
	}
	if _, ok := b2.store.CertificateFor("sub"); ok {
		t.Fatal("CertificateFor knows an expired session")
	}
}

// TestStoreTakeoverKeepsMessages: a persistent session taken over by a new connection keeps its
// stored messages (Mochi reports them dropped from the old connection).
func TestStoreTakeoverKeepsMessages(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	b := startStoreBroker(t, path, storeBrokerOptions{})
	sub := storeConnect(t, b.addr, "sub", false)
	sub.subscribe(t, map[string]byte{"t/#": 1})
	sub.Disconnect(100)
	storeConnect(t, b.addr, "pub", true).publish(t, "t/1", 1, false, "queued")
	b.store.waitQueued(t, "sub", 1)

	// Connections that never acknowledge: the message stays in flight while each takes over.
	for i := range 2 {
		got := storeConnectNoAck(t, b.addr, "sub")
		select {
		case <-got:
		case <-time.After(10 * time.Second):
			t.Fatalf("message not redelivered to connection %d", i+1)
		}
		if _, _, inflight := b.store.stored(t, "sub"); len(inflight) != 1 {
			t.Fatalf("%d messages stored after connection %d, want 1", len(inflight), i+1)
		}
	}
	storeConnect(t, b.addr, "sub", false).collect(t, 1)
	storeWaitFor(t, "the acknowledged message to leave the store", func() bool {
		_, _, inflight := b.store.stored(t, "sub")
		return len(inflight) == 0
	})
}

// storeConnectNoAck connects a persistent paho client that never acknowledges what it receives.
func storeConnectNoAck(t *testing.T, addr, id string) <-chan struct{} {
	t.Helper()
	got := make(chan struct{}, 10)
	opts := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).SetCleanSession(false).
		SetAutoReconnect(false).SetAutoAckDisabled(true).
		SetDefaultPublishHandler(func(paho.Client, paho.Message) { got <- struct{}{} })
	c := paho.NewClient(opts)
	if err := storeWaitToken(c.Connect()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return got
}

// TestStoreConcurrentTraffic runs publishers and persistent subscribers at once (meant for -race)
// and checks that everything is delivered and nothing is left stored once acknowledged.
func TestStoreConcurrentTraffic(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	b := startStoreBroker(t, path, storeBrokerOptions{})
	const subscribers, publishers, each = 3, 4, 50
	subs := make([]*storeClient, subscribers)
	for i := range subs {
		subs[i] = storeConnect(t, b.addr, fmt.Sprintf("sub%d", i), false)
		subs[i].subscribe(t, map[string]byte{"load/#": 1})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, publishers)
	for p := range publishers {
		pub := storeConnect(t, b.addr, fmt.Sprintf("pub%d", p), p%2 == 0)
		wg.Add(1)
		go func() {
			defer wg.Done()
			toks := make([]paho.Token, 0, each)
			for i := range each {
				toks = append(toks, pub.Publish(fmt.Sprintf("load/%d", p), 1, i%10 == 0, fmt.Sprintf("%d-%d", p, i)))
			}
			for _, tok := range toks {
				if err := storeWaitToken(tok); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i, s := range subs {
		seen := map[string]bool{}
		for len(seen) < publishers*each {
			select {
			case m := <-s.msgs:
				seen[m.payload] = true
			case <-ctx.Done():
				t.Fatalf("subscriber %d got %d of %d", i, len(seen), publishers*each)
			}
		}
	}
	for i := range subs {
		id := fmt.Sprintf("sub%d", i)
		storeWaitFor(t, id+"'s messages to leave the store", func() bool {
			_, _, inflight := b.store.stored(t, id)
			return len(inflight) == 0
		})
	}
	if err := b.store.db.View(func(tx *bbolt.Tx) error {
		if k, _ := tx.Bucket(bucketJournal).Cursor().First(); k != nil {
			return fmt.Errorf("journal not empty after all publishes were routed")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestStoreMQTT5SessionExpiry: an MQTT 5 session is persistent when its session expiry interval
// is above 0, and ends when the client sets it to 0 at DISCONNECT.
func TestStoreMQTT5SessionExpiry(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	b1 := startStoreBroker(t, path, storeBrokerOptions{})
	for _, c := range []struct {
		id                string
		expiry, atDisconn *uint32
	}{
		{"v5-keep", storePtr[uint32](60), nil},
		{"v5-end", storePtr[uint32](60), storePtr[uint32](0)},
		{"v5-clean", nil, nil},
	} {
		conn, err := net.Dial("tcp", b1.addr)
		if err != nil {
			t.Fatal(err)
		}
		cl := paho5.NewClient(paho5.ClientConfig{Conn: packets5.NewThreadSafeConn(conn)})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if _, err := cl.Connect(ctx, &paho5.Connect{ClientID: c.id, KeepAlive: 30, CleanStart: true,
			Properties: &paho5.ConnectProperties{SessionExpiryInterval: c.expiry}}); err != nil {
			t.Fatalf("connect %s: %v", c.id, err)
		}
		if _, err := cl.Subscribe(ctx, &paho5.Subscribe{Subscriptions: []paho5.SubscribeOptions{{Topic: "v5/#", QoS: 1}}}); err != nil {
			t.Fatalf("subscribe %s: %v", c.id, err)
		}
		cancel()
		if err := cl.Disconnect(&paho5.Disconnect{Properties: &paho5.DisconnectProperties{SessionExpiryInterval: c.atDisconn}}); err != nil {
			t.Fatal(err)
		}
	}
	storeWaitFor(t, "the MQTT 5 sessions to settle", func() bool {
		keep, _, _ := b1.store.stored(t, "v5-keep")
		end, _, _ := b1.store.stored(t, "v5-end")
		clean, _, _ := b1.store.stored(t, "v5-clean")
		return keep && !end && !clean
	})
	b1.stop()

	b2 := startStoreBroker(t, path, storeBrokerOptions{})
	cl, ok := b2.srv.Clients.Get("v5-keep")
	if !ok || cl.Properties.ProtocolVersion != 5 || cl.Properties.Props.SessionExpiryInterval != 60 {
		t.Fatalf("v5-keep restored %v: %+v", ok, cl)
	}
	if _, ok := cl.State.Subscriptions.Get("v5/#"); !ok {
		t.Fatal("v5-keep's subscription not restored")
	}
	for _, id := range []string{"v5-end", "v5-clean"} {
		if _, ok := b2.srv.Clients.Get(id); ok {
			t.Fatalf("%s restored", id)
		}
	}
}

func storePtr[T any](v T) *T { return &v }

// TestStoreSkipsUnreadableRecords: a damaged record is logged and skipped; the server starts.
func TestStoreSkipsUnreadableRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	b1 := startStoreBroker(t, path, storeBrokerOptions{})
	sub := storeConnect(t, b1.addr, "good", false)
	sub.subscribe(t, map[string]byte{"g/#": 1})
	sub.Disconnect(100)
	storeConnect(t, b1.addr, "pub", true).publish(t, "g/1", 1, true, "kept")
	b1.store.waitQueued(t, "good", 1)
	b1.stop()

	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		bad, err := sessionBucket(tx, "bad", true)
		if err != nil {
			return err
		}
		if err := bad.Put(keyClient, []byte("{not json")); err != nil {
			return err
		}
		good, _ := sessionBucket(tx, "good", false)
		if err := good.Bucket(bucketSubscriptions).Put([]byte("broken/#"), []byte("[")); err != nil {
			return err
		}
		if err := good.Bucket(bucketInflight).Put(packetIDKey(999), []byte("nope")); err != nil {
			return err
		}
		return tx.Bucket(bucketRetained).Put([]byte("broken"), []byte("]"))
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	b2 := startStoreBroker(t, path, storeBrokerOptions{})
	cl, ok := b2.srv.Clients.Get("good")
	if !ok {
		t.Fatal("good session not restored")
	}
	if subs := cl.State.Subscriptions.GetAll(); len(subs) != 1 {
		t.Fatalf("subscriptions %v, want only g/#", subs)
	}
	if _, ok := b2.srv.Clients.Get("bad"); ok {
		t.Fatal("unreadable session restored")
	}
	if _, ok := b2.srv.Topics.Retained.Get("g/1"); !ok {
		t.Fatal("retained message lost")
	}
	got := storeConnect(t, b2.addr, "good", false).collect(t, 1)
	if got[0].payload != "kept" {
		t.Fatalf("received %+v", got)
	}
}

func TestOpenStoreErrors(t *testing.T) {
	if _, err := OpenStore(StoreOptions{}); err == nil {
		t.Fatal("OpenStore without a path succeeded")
	}
	if _, err := OpenStore(StoreOptions{Path: filepath.Join(t.TempDir(), "missing", "sessions.db")}); err == nil {
		t.Fatal("OpenStore in a missing folder succeeded")
	}
	s, err := OpenStore(StoreOptions{Path: filepath.Join(t.TempDir(), "sessions.db")})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.Flush(); !errors.Is(err, errStoreClosed) {
		t.Fatalf("Flush after Close: %v", err)
	}
}

// BenchmarkStoreQoS1 measures QoS 1 publish→deliver through a server with the store, to a clean
// subscriber (no writes) and to a persistent one (journal, in-flight record, acknowledgement),
// with 32 publishes awaiting their PUBACK.
func BenchmarkStoreQoS1(b *testing.B) {
	for _, bc := range []struct {
		name  string
		clean bool
	}{{"clean-subscriber", true}, {"persistent-subscriber", false}} {
		b.Run(bc.name, func(b *testing.B) {
			br := startStoreBenchBroker(b, filepath.Join(b.TempDir(), "sessions.db"))
			got := make(chan struct{}, 1024)
			sub := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + br.addr).SetClientID("bench-sub").
				SetCleanSession(bc.clean).SetAutoReconnect(false))
			if err := storeWaitToken(sub.Connect()); err != nil {
				b.Fatal(err)
			}
			defer sub.Disconnect(0)
			if err := storeWaitToken(sub.Subscribe("bench/x", 1, func(paho.Client, paho.Message) { got <- struct{}{} })); err != nil {
				b.Fatal(err)
			}
			pub := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + br.addr).SetClientID("bench-pub").SetAutoReconnect(false))
			if err := storeWaitToken(pub.Connect()); err != nil {
				b.Fatal(err)
			}
			defer pub.Disconnect(0)
			window := make(chan struct{}, 32)
			done := make(chan struct{})
			go func() {
				for range b.N {
					<-got
				}
				close(done)
			}()
			b.ResetTimer()
			for range b.N {
				window <- struct{}{}
				tok := pub.Publish("bench/x", 1, false, "payload")
				go func() {
					tok.Wait()
					<-window
				}()
			}
			<-done
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// startStoreBenchBroker is startStoreBroker for benchmarks, quiet.
func startStoreBenchBroker(b *testing.B, path string) *storeBroker {
	b.Helper()
	quiet := slog.New(slog.DiscardHandler)
	store, err := OpenStore(StoreOptions{Path: path, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	srv := mqtt.New(&mqtt.Options{InlineClient: true, Logger: quiet, SysTopicResendInterval: math.MaxInt32})
	for _, h := range []mqtt.Hook{&storePermissive{}, store} {
		if err := srv.AddHook(h, nil); err != nil {
			b.Fatal(err)
		}
	}
	ln := closeSafely{listeners.NewTCP(listeners.Config{ID: "b", Address: "127.0.0.1:0"}), srv}
	if err := srv.AddListener(ln); err != nil {
		b.Fatal(err)
	}
	if err := srv.Serve(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	return &storeBroker{srv: srv, store: store, addr: ln.Address()}
}

// TestStoreCountsPersistentSessions: the counts behind the store's lock-free fast paths follow the
// sessions and journaled publishes, including the sessions recovered when the store opens.
func TestStoreCountsPersistentSessions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	s, err := OpenStore(StoreOptions{Path: path, Logger: storeTestLogger(t, slog.LevelInfo)})
	if err != nil {
		t.Fatalf("OpenStore: %v", err)
	}
	pub := &mqtt.Client{ID: "pub", Properties: mqtt.ClientProperties{ProtocolVersion: 4, Clean: true}}
	sub := &mqtt.Client{ID: "sub", Properties: mqtt.ClientProperties{ProtocolVersion: 4}}
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, TopicName: "a/b", PacketID: 1}
	if s.tracked("sub") || s.hasPersistentSubscriber("a/b") {
		t.Fatal("empty store tracks a session")
	}

	s.OnSessionEstablish(sub, packets.Packet{})
	s.OnSessionEstablished(sub, packets.Packet{})
	s.OnSubscribed(sub, packets.Packet{Filters: packets.Subscriptions{{Filter: "a/b", Qos: 1}}}, []byte{1})
	if got := s.persistent.Load(); got != 1 || !s.tracked("sub") || !s.hasPersistentSubscriber("a/b") {
		t.Fatalf("persistent subscriber not seen (count %d)", got)
	}
	s.OnPublish(pub, pk)
	if got := s.routed.Load(); got != 1 {
		t.Fatalf("journaled publishes = %d, want 1", got)
	}
	s.OnPacketProcessed(pub, pk, nil)
	if got := s.routed.Load(); got != 0 {
		t.Fatalf("journaled publishes after processing = %d, want 0", got)
	}
	s.flush(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = OpenStore(StoreOptions{Path: path, Logger: storeTestLogger(t, slog.LevelInfo)})
	if err != nil {
		t.Fatalf("OpenStore again: %v", err)
	}
	defer s.Close()
	if got := s.persistent.Load(); got != 1 || !s.hasPersistentSubscriber("a/b") {
		t.Fatalf("recovered session not counted (count %d)", got)
	}
	s.OnClientExpired(sub)
	if got := s.persistent.Load(); got != 0 || s.tracked("sub") || s.hasPersistentSubscriber("a/b") {
		t.Fatalf("expired session still counted (count %d)", got)
	}
}
