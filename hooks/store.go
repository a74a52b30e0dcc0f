package hooks

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/storage"
	"github.com/mochi-mqtt/server/v2/packets"
	"go.etcd.io/bbolt"
)

// StoreOptions configure the Store.
type StoreOptions struct {
	// Path is the bbolt file, created when missing (the emulator uses DATA/sessions.db).
	Path string
	// Logger receives the store's messages; nil means slog.Default().
	Logger *slog.Logger
	// Principals names the certificate behind a connection, kept with the stored session so that
	// the authorizer can check messages queued for a restored (offline) session against that
	// certificate's policies. Nil stores sessions without a certificate.
	Principals interface {
		PrincipalOf(cl *mqtt.Client) (Principal, bool)
	}
}

// Store is the Mochi storage hook that keeps what must survive a restart, including a SIGKILL:
// persistent sessions (MQTT 3.1.1 clean session 0, MQTT 5 session expiry > 0) with their granted
// subscriptions and their queued and in-flight QoS 1/2 messages (packet ids included), and every
// retained message. Clean sessions and QoS 0 traffic are never written.
//
// What the server acknowledges is on disk before the acknowledgement leaves: a SUBSCRIBE before
// its SUBACK, a retained PUBLISH before its PUBACK, and a QoS 1/2 PUBLISH that a persistent
// session will receive before its PUBACK. Mochi acknowledges a PUBLISH before it routes it to the
// subscribers, so the store first writes such a publish to a journal (OnPublish) and deletes it
// once the routed copies are recorded (OnPacketProcessed); opening the store routes whatever the
// journal still holds to the stored sessions, so a kill between the PUBACK and the routing loses
// nothing (QoS 1 allows the duplicate that a kill after the routing may cause).
//
// Add the Store after the hooks that may refuse or change a PUBLISH, SUBSCRIBE or CONNECT (the
// profile and the authorizer): it must see what Mochi actually accepted.
//
// All writes go through one goroutine that commits everything queued in one bbolt transaction
// (group commit), in the order the events happened; only the writes above wait for their commit.
type Store struct {
	mqtt.HookBase
	db         *bbolt.DB
	logger     *slog.Logger
	principals interface {
		PrincipalOf(cl *mqtt.Client) (Principal, bool)
	}

	writes     chan *storeWrite
	writerDone chan struct{}
	closeMu    sync.RWMutex // held for reading while submitting, for writing while closing
	closed     bool
	closeOnce  sync.Once
	closeErr   error
	// writesApplied counts committed writes, so that tests can tell that an event wrote nothing.
	writesApplied atomic.Int64

	mu       sync.RWMutex
	sessions map[string]*storedSession // persistent sessions that have (or are about to have) records
	// persistent is never less than len(sessions) as seen without mu: it goes up before an entry is
	// added and down after one is deleted (see addSession). Zero lets the per-message checks
	// (tracked, hasPersistentSubscriber) answer without the lock and the lookups.
	persistent atomic.Int64
	// subscribers indexes the granted subscriptions of persistent sessions, so that OnPublish can
	// tell cheaply whether a publish needs the journal.
	subscribers *mqtt.TopicsIndex

	journalSeq atomic.Uint64
	routing    sync.Map // *mqtt.Client → journal key of the publish it is routing
	// routed counts the entries of routing, so that OnPacketProcessed skips the lookup when no
	// publish is being journaled: the common case, and the only one without persistent sessions.
	routed atomic.Int64
}

// storedSession is what the store remembers in memory about a persistent session.
type storedSession struct {
	certificateID string
	thingName     string
	filters       map[string]struct{} // granted filters, as indexed in subscribers
}

// storeWrite is one change for the writer goroutine; done, when set, receives the commit's outcome.
type storeWrite struct {
	apply func(tx *bbolt.Tx) error
	done  chan error
}

// writeQueue bounds the writes waiting for the writer goroutine; a full queue makes the hooks wait.
const writeQueue = 4096

// maxBatch bounds the writes committed in one transaction.
const maxBatch = 1024

var errStoreClosed = errors.New("session store is closed")

// OpenStore opens (or creates) the store's file, routes publishes left in the journal by a crash
// to the sessions that subscribed to them, and starts the writer. Add the result to the server
// with AddHook before Serve; the server's Close stops it, and so does Close.
func OpenStore(opts StoreOptions) (*Store, error) {
	if opts.Path == "" {
		return nil, errors.New("session store: no path given")
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	// The timeout turns a second emulator on the same data folder into an error, not a hang.
	db, err := bbolt.Open(opts.Path, 0o600, &bbolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open session store %s: %w", opts.Path, err)
	}
	s := &Store{
		db:          db,
		logger:      log,
		principals:  opts.Principals,
		writes:      make(chan *storeWrite, writeQueue),
		writerDone:  make(chan struct{}),
		sessions:    map[string]*storedSession{},
		subscribers: mqtt.NewTopicsIndex(),
	}
	if err := s.recover(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open session store %s: %w", opts.Path, err)
	}
	go s.writer()
	return s, nil
}

// Close commits the writes still queued and closes the file. It is safe to call more than once;
// hook events after Close are not recorded.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closeMu.Lock()
		s.closed = true
		close(s.writes)
		s.closeMu.Unlock()
		<-s.writerDone
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("close session store: %w", err)
		}
	})
	return s.closeErr
}

// Flush returns once every change recorded so far is committed. Hooks record what clients are
// acknowledged for before the acknowledgement; a publication that reaches the broker another way
// (the inline client, e.g. the HTTP publish API) calls Flush before reporting success, so that a
// QoS 1 message it queued for a persistent session or a retained message survives a crash.
func (s *Store) Flush() error {
	if err := s.submit(true, func(*bbolt.Tx) error { return nil }); err != nil {
		return fmt.Errorf("flush session store: %w", err)
	}
	return nil
}

// CertificateFor tells the authorizer which certificate a stored session (possibly offline,
// restored after a restart) belongs to, so that the messages queued for it are checked against
// that certificate's policies.
func (s *Store) CertificateFor(clientID string) (certID string, ok bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if ss, found := s.sessions[clientID]; found && ss.certificateID != "" {
		return ss.certificateID, true
	}
	return "", false
}

// ID names the hook.
func (s *Store) ID() string { return "iotcore-store" }

// storeEvents are the events the Store handles.
var storeEvents = newEventSet(
	mqtt.OnSessionEstablish, mqtt.OnSessionEstablished, mqtt.OnDisconnect,
	mqtt.OnSubscribed, mqtt.OnUnsubscribed, mqtt.OnPublish, mqtt.OnPacketProcessed,
	mqtt.OnRetainMessage, mqtt.OnRetainedExpired,
	mqtt.OnQosPublish, mqtt.OnQosComplete, mqtt.OnQosDropped,
	mqtt.OnClientExpired, mqtt.OnWillSent,
	mqtt.StoredClients, mqtt.StoredSubscriptions, mqtt.StoredInflightMessages, mqtt.StoredRetainedMessages,
)

// Provides reports whether the hook handles event b. The per-message events are provided only
// while they can do something: OnPublish, OnQosPublish, OnQosComplete and OnQosDropped only
// while a persistent session is tracked (each of them returns at once otherwise, see
// noPersistentSession), OnPacketProcessed also while a journaled publish is being routed. A
// broker with only clean sessions thus copies no packet into the store per message.
func (s *Store) Provides(b byte) bool {
	switch b {
	case mqtt.OnPublish, mqtt.OnQosPublish, mqtt.OnQosComplete, mqtt.OnQosDropped:
		return !s.noPersistentSession()
	case mqtt.OnPacketProcessed:
		return s.routed.Load() != 0 || !s.noPersistentSession()
	}
	return storeEvents.has(b)
}

// mayProvide reports the events the store may provide at some point (see Provides and Group).
func (s *Store) mayProvide(b byte) bool { return storeEvents.has(b) }

// Stop closes the store; Mochi calls it from Server.Close.
func (s *Store) Stop() error { return s.Close() }

// persistentSession reports whether the client's session outlives its connection.
func persistentSession(cl *mqtt.Client) bool {
	if cl.Net.Inline {
		return false
	}
	if cl.Properties.ProtocolVersion == 5 {
		return cl.Properties.Props.SessionExpiryInterval > 0
	}
	return !cl.Properties.Clean
}

// addSession starts tracking a persistent session; s.mu must be held for writing.
//
// The count of tracked sessions goes up before the entry is added, and removeSession takes the
// entry out before the count goes down, so the count is never below the number of entries, even
// for a reader without the lock. A reader that loads zero (noPersistentSession) loaded it at an
// instant when no session was tracked and answers as the locked lookup would have at that
// instant; any other count sends it to the locked lookup. A session being created concurrently is
// therefore missed only where the locked lookup could miss it too, and neither loses a message:
//   - deliveries (tracked): OnSessionEstablish tracks the session before Mochi adds the connection
//     to its clients, so a routing that can reach it (and call OnQosPublish) loads the count after
//     the increment;
//   - publishes (hasPersistentSubscriber): subscriptions are indexed only for tracked sessions, in
//     OnSubscribed before the SUBACK leaves, so a publish that must be journaled for a subscriber
//     loads the count after the increment. A publish racing with the SUBSCRIBE goes unjournaled as
//     before, and is still recorded by OnQosPublish if Mochi routes it to the session.
func (s *Store) addSession(clientID string, ss *storedSession) {
	s.persistent.Add(1)
	s.sessions[clientID] = ss
}

// removeSession stops tracking a persistent session and its subscriptions; s.mu must be held
// for writing.
func (s *Store) removeSession(clientID string, ss *storedSession) {
	delete(s.sessions, clientID)
	for f := range ss.filters {
		s.subscribers.Unsubscribe(f, clientID)
	}
	s.persistent.Add(-1)
}

// noPersistentSession reports, without the lock, that the store tracks no persistent session, so
// nothing can be recorded for a delivery nor journaled for a publish (see addSession).
func (s *Store) noPersistentSession() bool { return s.persistent.Load() == 0 }

// tracked reports whether clientID is a persistent session the store keeps.
func (s *Store) tracked(clientID string) bool {
	if s.noPersistentSession() {
		return false
	}
	s.mu.RLock()
	_, ok := s.sessions[clientID]
	s.mu.RUnlock()
	return ok
}

// OnSessionEstablish runs before Mochi resumes or replaces the session: a clean start discards
// what was stored for the client id, and a persistent session is tracked from here on, so that
// messages routed to it while it connects are recorded.
func (s *Store) OnSessionEstablish(cl *mqtt.Client, pk packets.Packet) {
	if cl.Net.Inline || cl.ID == "" {
		return
	}
	if pk.Connect.Clean {
		s.forget(cl.ID)
	}
	if !persistentSession(cl) {
		return
	}
	var p Principal
	if s.principals != nil {
		p, _ = s.principals.PrincipalOf(cl)
	}
	s.mu.Lock()
	ss, ok := s.sessions[cl.ID]
	if !ok {
		ss = &storedSession{filters: map[string]struct{}{}}
		s.addSession(cl.ID, ss)
	}
	ss.certificateID, ss.thingName = p.CertificateID, p.ThingName
	s.mu.Unlock()
}

// OnSessionEstablished records the persistent session, after the CONNACK has settled its expiry.
func (s *Store) OnSessionEstablished(cl *mqtt.Client, pk packets.Packet) {
	if cl.Net.Inline || !persistentSession(cl) || !s.tracked(cl.ID) {
		return
	}
	rec := clientRecordOf(cl)
	s.mu.RLock()
	if ss := s.sessions[cl.ID]; ss != nil {
		rec.CertificateID, rec.ThingName = ss.certificateID, ss.thingName
	}
	s.mu.RUnlock()
	data, err := encodeRecord(rec)
	if err != nil {
		s.logger.Error("cannot encode session", "client", cl.ID, "error", err)
		return
	}
	s.submit(false, func(tx *bbolt.Tx) error {
		b, err := sessionBucket(tx, cl.ID, true)
		if err != nil {
			return err
		}
		return b.Put(keyClient, data)
	})
}

// OnDisconnect deletes the records of a session that ends with its connection (MQTT 5 session
// expiry set to 0 at DISCONNECT); a taken-over connection leaves them to its successor.
func (s *Store) OnDisconnect(cl *mqtt.Client, err error, expire bool) {
	s.stopRouting(cl)
	if expire && !cl.IsTakenOver() {
		s.forget(cl.ID)
	}
}

// OnClientExpired deletes the records of a session Mochi expired.
func (s *Store) OnClientExpired(cl *mqtt.Client) {
	s.forget(cl.ID)
}

// forget drops a stored session: its record, subscriptions and messages.
func (s *Store) forget(clientID string) {
	s.mu.Lock()
	ss, ok := s.sessions[clientID]
	if ok {
		s.removeSession(clientID, ss)
	}
	s.mu.Unlock()
	if !ok {
		return
	}
	s.submit(false, func(tx *bbolt.Tx) error {
		err := tx.Bucket(bucketSessions).DeleteBucket([]byte(clientID))
		if errors.Is(err, bbolt.ErrBucketNotFound) {
			return nil
		}
		return err
	})
}

// OnSubscribed stores the filters granted to a persistent session, with the granted QoS. Refused
// filters (reason code 0x80 or above) are never stored: restored, they would bypass the policy.
// The SUBACK leaves after the commit.
func (s *Store) OnSubscribed(cl *mqtt.Client, pk packets.Packet, reasonCodes []byte) {
	if cl.Net.Inline || cl.IsTakenOver() || !s.tracked(cl.ID) {
		return
	}
	type granted struct {
		filter string
		data   []byte
	}
	var puts []granted
	s.mu.Lock()
	ss := s.sessions[cl.ID]
	for i, f := range pk.Filters {
		if i >= len(reasonCodes) || reasonCodes[i] >= packets.ErrUnspecifiedError.Code {
			continue
		}
		f.Qos = reasonCodes[i]
		data, err := encodeRecord(subscriptionOf(cl.ID, f))
		if err != nil {
			s.logger.Error("cannot encode subscription", "client", cl.ID, "filter", f.Filter, "error", err)
			continue
		}
		if ss != nil {
			ss.filters[f.Filter] = struct{}{}
			s.subscribers.Subscribe(cl.ID, f)
		}
		puts = append(puts, granted{f.Filter, data})
	}
	s.mu.Unlock()
	if len(puts) == 0 {
		return
	}
	s.submitWait("store subscriptions", cl.ID, func(tx *bbolt.Tx) error {
		b, err := sessionBucket(tx, cl.ID, true)
		if err != nil {
			return err
		}
		subs := b.Bucket(bucketSubscriptions)
		for _, g := range puts {
			if err := subs.Put([]byte(g.filter), g.data); err != nil {
				return err
			}
		}
		return nil
	})
}

// OnUnsubscribed deletes the filters a persistent session unsubscribed from.
func (s *Store) OnUnsubscribed(cl *mqtt.Client, pk packets.Packet) {
	if cl.Net.Inline || cl.IsTakenOver() || !s.tracked(cl.ID) {
		return
	}
	filters := make([]string, 0, len(pk.Filters))
	s.mu.Lock()
	if ss := s.sessions[cl.ID]; ss != nil {
		for _, f := range pk.Filters {
			delete(ss.filters, f.Filter)
			s.subscribers.Unsubscribe(f.Filter, cl.ID)
			filters = append(filters, f.Filter)
		}
	}
	s.mu.Unlock()
	if len(filters) == 0 {
		return
	}
	s.submitWait("delete subscriptions", cl.ID, func(tx *bbolt.Tx) error {
		b, err := sessionBucket(tx, cl.ID, false)
		if b == nil || err != nil {
			return err
		}
		subs := b.Bucket(bucketSubscriptions)
		for _, f := range filters {
			if err := subs.Delete([]byte(f)); err != nil {
				return err
			}
		}
		return nil
	})
}

// hasPersistentSubscriber reports whether a persistent session subscribes to topic with QoS 1
// or 2 (a QoS 0 subscription gets QoS 0 deliveries, which are not stored).
func (s *Store) hasPersistentSubscriber(topic string) bool {
	if s.noPersistentSession() {
		return false // subscriptions are indexed only for tracked sessions
	}
	subs := s.subscribers.Subscribers(topic)
	for _, sub := range subs.Subscriptions {
		if sub.Qos > 0 {
			return true
		}
	}
	for _, group := range subs.Shared {
		for _, sub := range group {
			if sub.Qos > 0 {
				return true
			}
		}
	}
	return false
}

// OnPublish journals a QoS 1/2 publish that a persistent session subscribes to, before Mochi
// acknowledges it: Mochi sends the PUBACK before it routes the message, and a crash in between
// must not lose an acknowledged message. Publishes of the inline client are not acknowledged to
// anyone and are not journaled.
func (s *Store) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline || pk.FixedHeader.Qos == 0 || !s.hasPersistentSubscriber(pk.TopicName) {
		return pk, nil
	}
	msg := messageOf(pk)
	msg.T = "journal"
	msg.Origin = cl.ID
	msg.Properties.TopicAlias = 0
	data, err := encodeRecord(msg)
	if err != nil {
		s.logger.Error("cannot encode publish for the journal", "client", cl.ID, "topic", pk.TopicName, "error", err)
		return pk, nil
	}
	key := seqKey(s.journalSeq.Add(1))
	if !s.submitWait("journal publish", cl.ID, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketJournal).Put(key, data)
	}) {
		return pk, nil
	}
	s.routed.Add(1) // before the entry exists, as for persistent
	if _, replaced := s.routing.Swap(cl, key); replaced {
		s.routed.Add(-1)
	}
	return pk, nil
}

// OnPacketProcessed deletes the journal entry of a publish once Mochi has finished with it: the
// copies queued for persistent sessions during the routing were submitted before, so they commit
// first. A publish that a later hook refused, or whose PUBACK could not be written, is not routed
// and its entry goes too (OnPublished would not be called for those).
func (s *Store) OnPacketProcessed(cl *mqtt.Client, pk packets.Packet, err error) {
	// cl's own goroutine journaled the publish (OnPublish), so a zero count means no entry for cl.
	if pk.FixedHeader.Type != packets.Publish || pk.FixedHeader.Qos == 0 || s.routed.Load() == 0 {
		return
	}
	key, ok := s.stopRouting(cl)
	if !ok {
		return
	}
	s.submit(false, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketJournal).Delete(key)
	})
}

// stopRouting removes and returns the journal key of the publish cl is routing, if any.
func (s *Store) stopRouting(cl *mqtt.Client) (key []byte, ok bool) {
	v, ok := s.routing.LoadAndDelete(cl)
	if !ok {
		return nil, false
	}
	s.routed.Add(-1)
	return v.([]byte), true
}

// OnRetainMessage stores or deletes a retained message before the PUBACK of its publish leaves.
func (s *Store) OnRetainMessage(cl *mqtt.Client, pk packets.Packet, r int64) {
	topic := pk.TopicName
	var apply func(tx *bbolt.Tx) error
	switch r {
	case 1:
		msg := messageOf(pk)
		msg.T = "retained"
		msg.PacketID = 0
		msg.Properties.TopicAlias = 0
		data, err := encodeRecord(msg)
		if err != nil {
			s.logger.Error("cannot encode retained message", "topic", topic, "error", err)
			return
		}
		apply = func(tx *bbolt.Tx) error { return tx.Bucket(bucketRetained).Put([]byte(topic), data) }
	case -1:
		apply = func(tx *bbolt.Tx) error { return tx.Bucket(bucketRetained).Delete([]byte(topic)) }
	default:
		return
	}
	if cl.Net.Inline {
		s.submit(false, apply)
		return
	}
	s.submitWait("store retained message", cl.ID, apply)
}

// OnRetainedExpired deletes a retained message the server expired.
func (s *Store) OnRetainedExpired(filter string) {
	s.submit(false, func(tx *bbolt.Tx) error { return tx.Bucket(bucketRetained).Delete([]byte(filter)) })
}

// OnQosPublish records a QoS 1/2 message queued for, or sent to, a persistent session, under
// the packet id the server gave it (resends overwrite the same record).
func (s *Store) OnQosPublish(cl *mqtt.Client, pk packets.Packet, sent int64, resends int) {
	if pk.FixedHeader.Type != packets.Publish || pk.FixedHeader.Qos == 0 || pk.PacketID == 0 ||
		cl.Net.Inline || cl.IsTakenOver() || !s.tracked(cl.ID) {
		return
	}
	msg := messageOf(pk)
	msg.T = "inflight"
	msg.Client = cl.ID
	if sent > 0 {
		msg.Sent = sent
	}
	data, err := encodeRecord(msg)
	if err != nil {
		s.logger.Error("cannot encode in-flight message", "client", cl.ID, "packet_id", pk.PacketID, "error", err)
		return
	}
	id := pk.PacketID
	s.submit(false, func(tx *bbolt.Tx) error {
		b, err := sessionBucket(tx, cl.ID, true)
		if err != nil {
			return err
		}
		return b.Bucket(bucketInflight).Put(packetIDKey(id), data)
	})
}

// OnQosComplete deletes a message the persistent session acknowledged (PUBACK, or PUBCOMP for
// QoS 2). Mochi also reports the acknowledgements the server itself sends for the client's own
// publishes; those carry a creation time, packets read from the client do not, and they are
// ignored: their packet ids belong to the client, not to the messages stored for it.
func (s *Store) OnQosComplete(cl *mqtt.Client, pk packets.Packet) {
	if pk.Created != 0 || (pk.FixedHeader.Type != packets.Puback && pk.FixedHeader.Type != packets.Pubcomp) {
		return
	}
	s.deleteInflight(cl, pk.PacketID)
}

// OnQosDropped deletes a message Mochi gave up on (expired, refused by the client, or the
// session cleared). A taken-over connection hands its messages to its successor: kept.
func (s *Store) OnQosDropped(cl *mqtt.Client, pk packets.Packet) {
	s.deleteInflight(cl, pk.PacketID)
}

func (s *Store) deleteInflight(cl *mqtt.Client, id uint16) {
	if id == 0 || cl.Net.Inline || cl.IsTakenOver() || !s.tracked(cl.ID) {
		return
	}
	s.submit(false, func(tx *bbolt.Tx) error {
		b, err := sessionBucket(tx, cl.ID, false)
		if b == nil || err != nil {
			return err
		}
		return b.Bucket(bucketInflight).Delete(packetIDKey(id))
	})
}

// OnWillSent clears the will stored with a persistent session once the server has sent it.
func (s *Store) OnWillSent(cl *mqtt.Client, pk packets.Packet) {
	if cl.Net.Inline || cl.IsTakenOver() || !s.tracked(cl.ID) {
		return
	}
	s.submit(false, func(tx *bbolt.Tx) error {
		b, err := sessionBucket(tx, cl.ID, false)
		if b == nil || err != nil {
			return err
		}
		var rec clientRecord
		if data := b.Get(keyClient); data == nil {
			return nil
		} else if err := decodeRecord(data, &rec); err != nil {
			return err
		}
		rec.Will = storage.ClientWill{}
		data, err := encodeRecord(rec)
		if err != nil {
			return err
		}
		return b.Put(keyClient, data)
	})
}

// unreadable logs a stored record that cannot be decoded; it is skipped rather than keeping the
// emulator from starting.
func (s *Store) unreadable(kind, key string, err error) {
	if err == nil {
		err = errors.New("invalid key")
	}
	s.logger.Warn("session store: unreadable record skipped", "kind", kind, "key", key, "error", err)
}

// StoredClients returns the stored persistent sessions for Mochi to restore as offline sessions.
func (s *Store) StoredClients() ([]storage.Client, error) {
	var out []storage.Client
	err := s.db.View(func(tx *bbolt.Tx) error {
		return eachSession(tx, func(id string, b *bbolt.Bucket) error {
			var rec clientRecord
			if err := decodeRecord(b.Get(keyClient), &rec); err != nil {
				s.unreadable("session", id, err)
				return nil
			}
			rec.Client.ID = id
			out = append(out, rec.Client)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read stored sessions: %w", err)
	}
	return out, nil
}

// StoredSubscriptions returns the granted subscriptions of the stored sessions.
func (s *Store) StoredSubscriptions() ([]storage.Subscription, error) {
	var out []storage.Subscription
	err := s.db.View(func(tx *bbolt.Tx) error {
		return eachSession(tx, func(id string, b *bbolt.Bucket) error {
			return b.Bucket(bucketSubscriptions).ForEach(func(k, v []byte) error {
				var sub storage.Subscription
				if err := decodeRecord(v, &sub); err != nil {
					s.unreadable("subscription", id+" "+string(k), err)
					return nil
				}
				sub.Client, sub.Filter = id, string(k)
				out = append(out, sub)
				return nil
			})
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read stored subscriptions: %w", err)
	}
	return out, nil
}

// StoredInflightMessages returns the messages queued for, or in flight to, the stored sessions,
// each with its packet id.
func (s *Store) StoredInflightMessages() ([]storage.Message, error) {
	var out []storage.Message
	err := s.db.View(func(tx *bbolt.Tx) error {
		return eachSession(tx, func(id string, b *bbolt.Bucket) error {
			return b.Bucket(bucketInflight).ForEach(func(k, v []byte) error {
				var msg storage.Message
				err := decodeRecord(v, &msg)
				msg.Client, msg.PacketID = id, packetIDOf(k)
				if err != nil || msg.PacketID == 0 {
					s.unreadable("message", fmt.Sprintf("%s %x", id, k), err)
					return nil
				}
				out = append(out, msg)
				return nil
			})
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read stored messages: %w", err)
	}
	return out, nil
}

// StoredRetainedMessages returns the retained messages.
func (s *Store) StoredRetainedMessages() ([]storage.Message, error) {
	var out []storage.Message
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketRetained).ForEach(func(k, v []byte) error {
			var msg storage.Message
			if err := decodeRecord(v, &msg); err != nil {
				s.unreadable("retained message", string(k), err)
				return nil
			}
			msg.TopicName = string(k)
			out = append(out, msg)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read retained messages: %w", err)
	}
	return out, nil
}
