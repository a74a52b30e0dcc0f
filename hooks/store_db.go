package hooks

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/storage"
	"github.com/mochi-mqtt/server/v2/packets"
	"go.etcd.io/bbolt"
)

// Layout of the store's bbolt file:
//
//	meta/format                         storeFormat
//	sessions/<client id>/client         clientRecord (JSON)
//	sessions/<client id>/subscriptions/<filter>       storage.Subscription (JSON)
//	sessions/<client id>/inflight/<packet id, 2 bytes big-endian>  storage.Message (JSON)
//	retained/<topic>                    storage.Message (JSON)
//	journal/<sequence, 8 bytes big-endian>            storage.Message (JSON), a publish being routed
var (
	bucketMeta          = []byte("meta")
	bucketSessions      = []byte("sessions")
	bucketRetained      = []byte("retained")
	bucketJournal       = []byte("journal")
	bucketSubscriptions = []byte("subscriptions")
	bucketInflight      = []byte("inflight")
	keyClient           = []byte("client")
	keyFormat           = []byte("format")
)

// storeFormat versions the layout above.
const storeFormat = "1"

// clientRecord is a stored persistent session: what Mochi needs to restore it, and the principal
// it was established with.
type clientRecord struct {
	storage.Client
	CertificateID string `json:"certificateId,omitempty"`
	ThingName     string `json:"thingName,omitempty"`
}

func encodeRecord(v any) ([]byte, error) { return json.Marshal(v) }

func decodeRecord(data []byte, v any) error {
	if data == nil {
		return errors.New("record missing")
	}
	return json.Unmarshal(data, v)
}

func packetIDKey(id uint16) []byte { return []byte{byte(id >> 8), byte(id)} }

func packetIDOf(k []byte) uint16 {
	if len(k) != 2 {
		return 0
	}
	return binary.BigEndian.Uint16(k)
}

func seqKey(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// clientRecordOf is the storable form of a connected client's session.
func clientRecordOf(cl *mqtt.Client) clientRecord {
	p := cl.Properties.Props
	return clientRecord{Client: storage.Client{
		ID:              cl.ID,
		T:               "client",
		Remote:          cl.Net.Remote,
		Listener:        cl.Net.Listener,
		Username:        cl.Properties.Username,
		Clean:           cl.Properties.Clean,
		ProtocolVersion: cl.Properties.ProtocolVersion,
		Properties: storage.ClientProperties{
			AuthenticationData:        p.AuthenticationData,
			User:                      p.User,
			AuthenticationMethod:      p.AuthenticationMethod,
			SessionExpiryInterval:     p.SessionExpiryInterval,
			SessionExpiryIntervalFlag: p.SessionExpiryIntervalFlag,
			MaximumPacketSize:         p.MaximumPacketSize,
			ReceiveMaximum:            p.ReceiveMaximum,
			TopicAliasMaximum:         p.TopicAliasMaximum,
			RequestProblemInfo:        p.RequestProblemInfo,
			RequestProblemInfoFlag:    p.RequestProblemInfoFlag,
			RequestResponseInfo:       p.RequestResponseInfo,
		},
		Will: storage.ClientWill(cl.Properties.Will),
	}}
}

// subscriptionOf is the storable form of a granted subscription.
func subscriptionOf(clientID string, f packets.Subscription) storage.Subscription {
	return storage.Subscription{
		T:                 "subscription",
		Client:            clientID,
		Filter:            f.Filter,
		Identifier:        f.Identifier,
		RetainHandling:    f.RetainHandling,
		Qos:               f.Qos,
		RetainAsPublished: f.RetainAsPublished,
		NoLocal:           f.NoLocal,
	}
}

// packetSubscription is the Mochi form of a stored subscription.
func packetSubscription(sub storage.Subscription) packets.Subscription {
	return packets.Subscription{
		Filter:            sub.Filter,
		Identifier:        sub.Identifier,
		RetainHandling:    sub.RetainHandling,
		Qos:               sub.Qos,
		RetainAsPublished: sub.RetainAsPublished,
		NoLocal:           sub.NoLocal,
	}
}

// messageOf is the storable form of a PUBLISH packet.
func messageOf(pk packets.Packet) storage.Message {
	return storage.Message{
		FixedHeader: pk.FixedHeader,
		TopicName:   pk.TopicName,
		Payload:     pk.Payload,
		Origin:      pk.Origin,
		Created:     pk.Created,
		PacketID:    pk.PacketID,
		Properties: storage.MessageProperties{
			CorrelationData:        pk.Properties.CorrelationData,
			SubscriptionIdentifier: pk.Properties.SubscriptionIdentifier,
			User:                   pk.Properties.User,
			ContentType:            pk.Properties.ContentType,
			ResponseTopic:          pk.Properties.ResponseTopic,
			MessageExpiryInterval:  pk.Properties.MessageExpiryInterval,
			TopicAlias:             pk.Properties.TopicAlias,
			PayloadFormat:          pk.Properties.PayloadFormat,
			PayloadFormatFlag:      pk.Properties.PayloadFormatFlag,
		},
	}
}

// sessionBucket returns the bucket of a stored session; create makes it (and its sub-buckets)
// when missing, otherwise a missing session is nil.
func sessionBucket(tx *bbolt.Tx, clientID string, create bool) (*bbolt.Bucket, error) {
	root := tx.Bucket(bucketSessions)
	if b := root.Bucket([]byte(clientID)); b != nil || !create {
		return b, nil
	}
	b, err := root.CreateBucket([]byte(clientID))
	if err != nil {
		return nil, fmt.Errorf("create session %q: %w", clientID, err)
	}
	return b, ensureSessionBuckets(b)
}

func ensureSessionBuckets(b *bbolt.Bucket) error {
	for _, name := range [][]byte{bucketSubscriptions, bucketInflight} {
		if _, err := b.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create %s bucket: %w", name, err)
		}
	}
	return nil
}

// eachSession calls fn for every stored session that has a client record.
func eachSession(tx *bbolt.Tx, fn func(clientID string, b *bbolt.Bucket) error) error {
	root := tx.Bucket(bucketSessions)
	return root.ForEachBucket(func(k []byte) error {
		b := root.Bucket(k)
		if b.Get(keyClient) == nil {
			return nil
		}
		return fn(string(k), b)
	})
}

// writer commits the queued writes, all that are waiting in one transaction, in their order.
func (s *Store) writer() {
	defer close(s.writerDone)
	batch := make([]*storeWrite, 0, 64)
	for w := range s.writes {
		batch = append(batch[:0], w)
	collect:
		for len(batch) < maxBatch {
			select {
			case w, ok := <-s.writes:
				if !ok {
					break collect
				}
				batch = append(batch, w)
			default:
				break collect
			}
		}
		s.commit(batch)
		clear(batch)
	}
}

// commit applies a batch in one transaction. A write that fails is logged (or reported to its
// waiter) without undoing the others.
func (s *Store) commit(batch []*storeWrite) {
	errs := make([]error, len(batch))
	err := s.db.Update(func(tx *bbolt.Tx) error {
		for i, w := range batch {
			errs[i] = w.apply(tx)
		}
		return nil
	})
	if err != nil {
		s.logger.Error("session store commit failed", "writes", len(batch), "error", err)
	} else {
		s.writesApplied.Add(int64(len(batch)))
	}
	for i, w := range batch {
		e := errs[i]
		if err != nil {
			e = err
		}
		if w.done != nil {
			w.done <- e
		} else if e != nil && err == nil {
			s.logger.Error("session store write failed", "error", e)
		}
	}
}

// submit queues a write; with wait it returns once the write is committed.
func (s *Store) submit(wait bool, apply func(tx *bbolt.Tx) error) error {
	w := &storeWrite{apply: apply}
	if wait {
		w.done = make(chan error, 1)
	}
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return errStoreClosed
	}
	s.writes <- w
	s.closeMu.RUnlock()
	if !wait {
		return nil
	}
	return <-w.done
}

// submitWait queues a write, waits for its commit and logs a failure.
func (s *Store) submitWait(what, clientID string, apply func(tx *bbolt.Tx) error) bool {
	if err := s.submit(true, apply); err != nil {
		s.logger.Error("session store: cannot "+what, "client", clientID, "error", err)
		return false
	}
	return true
}

// recover prepares the file when the store opens: it creates the buckets, deletes session
// buckets left without a client record, routes the journal's publishes to the stored sessions
// (see routeJournal), and loads the sessions and their filters into memory.
func (s *Store) recover() error {
	err := s.db.Update(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bucketMeta, bucketSessions, bucketRetained, bucketJournal} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create %s bucket: %w", name, err)
			}
		}
		meta := tx.Bucket(bucketMeta)
		switch f := meta.Get(keyFormat); {
		case f == nil:
			if err := meta.Put(keyFormat, []byte(storeFormat)); err != nil {
				return err
			}
		case string(f) != storeFormat:
			return fmt.Errorf("unknown session store format %q (this version reads %q)", f, storeFormat)
		}
		root := tx.Bucket(bucketSessions)
		var orphans [][]byte
		err := root.ForEachBucket(func(k []byte) error {
			b := root.Bucket(k)
			if b.Get(keyClient) == nil {
				orphans = append(orphans, append([]byte(nil), k...))
				return nil
			}
			return ensureSessionBuckets(b)
		})
		if err != nil {
			return err
		}
		for _, k := range orphans {
			if err := root.DeleteBucket(k); err != nil {
				return fmt.Errorf("delete incomplete session %q: %w", k, err)
			}
		}
		return s.routeJournal(tx)
	})
	if err != nil {
		return err
	}
	return s.db.View(func(tx *bbolt.Tx) error {
		return eachSession(tx, func(id string, b *bbolt.Bucket) error {
			var rec clientRecord
			if err := decodeRecord(b.Get(keyClient), &rec); err != nil {
				s.unreadable("session", id, err)
				return nil
			}
			ss := &storedSession{certificateID: rec.CertificateID, thingName: rec.ThingName, filters: map[string]struct{}{}}
			s.addSession(id, ss)
			return b.Bucket(bucketSubscriptions).ForEach(func(k, v []byte) error {
				var sub storage.Subscription
				if err := decodeRecord(v, &sub); err != nil {
					s.unreadable("subscription", id+" "+string(k), err)
					return nil
				}
				sub.Filter = string(k)
				ss.filters[sub.Filter] = struct{}{}
				s.subscribers.Subscribe(id, packetSubscription(sub))
				return nil
			})
		})
	})
}

// routeJournal delivers the publishes a crash left in the journal — acknowledged to their
// publisher, perhaps not yet recorded for their subscribers — to the stored sessions whose
// subscriptions match, as Mochi would have: QoS reduced to the subscription's, no-local honoured,
// one member per shared-subscription group, a fresh packet id per session. A message that was
// recorded before the crash is then queued twice, which QoS 1 allows.
func (s *Store) routeJournal(tx *bbolt.Tx) error {
	journal := tx.Bucket(bucketJournal)
	c := journal.Cursor()
	if k, _ := c.First(); k == nil {
		return nil
	}
	index := mqtt.NewTopicsIndex()
	err := eachSession(tx, func(id string, b *bbolt.Bucket) error {
		return b.Bucket(bucketSubscriptions).ForEach(func(k, v []byte) error {
			var sub storage.Subscription
			if err := decodeRecord(v, &sub); err != nil {
				return nil // reported when the sessions are loaded
			}
			sub.Filter = string(k)
			index.Subscribe(id, packetSubscription(sub))
			return nil
		})
	})
	if err != nil {
		return err
	}
	ids := map[string]*freePacketIDs{}
	var entries, queued int
	for k, v := c.First(); k != nil; k, v = c.Next() {
		entries++
		var msg storage.Message
		if err := decodeRecord(v, &msg); err != nil {
			s.logger.Warn("session store: unreadable journal entry skipped", "key", fmt.Sprintf("%x", k), "error", err)
			continue
		}
		subs := index.Subscribers(msg.TopicName)
		if len(subs.Shared) > 0 {
			subs.SelectShared()
			subs.MergeSharedSelected()
		}
		for clientID, sub := range subs.Subscriptions {
			if sub.NoLocal && msg.Origin == clientID {
				continue
			}
			qos := min(msg.FixedHeader.Qos, sub.Qos)
			if qos == 0 {
				continue // Mochi does not queue QoS 0 for offline sessions either
			}
			b, err := sessionBucket(tx, clientID, false)
			if err != nil || b == nil {
				continue
			}
			inflight := b.Bucket(bucketInflight)
			alloc := ids[clientID]
			if alloc == nil {
				alloc = newFreePacketIDs(inflight)
				ids[clientID] = alloc
			}
			id, ok := alloc.next()
			if !ok {
				s.logger.Warn("session store: no free packet id; journal message dropped", "client", clientID, "topic", msg.TopicName)
				continue
			}
			out := msg
			out.T, out.Client, out.PacketID = "inflight", clientID, id
			out.FixedHeader.Qos, out.FixedHeader.Dup = qos, false
			out.FixedHeader.Retain = msg.FixedHeader.Retain && sub.RetainAsPublished
			out.Properties.SubscriptionIdentifier = identifiersOf(sub)
			data, err := encodeRecord(out)
			if err != nil {
				return err
			}
			if err := inflight.Put(packetIDKey(id), data); err != nil {
				return err
			}
			queued++
		}
	}
	if err := tx.DeleteBucket(bucketJournal); err != nil {
		return fmt.Errorf("clear journal: %w", err)
	}
	if _, err := tx.CreateBucket(bucketJournal); err != nil {
		return fmt.Errorf("clear journal: %w", err)
	}
	s.logger.Info("session store: routed publishes left by an interrupted run", "publishes", entries, "queued", queued)
	return nil
}

// identifiersOf lists the subscription identifiers a delivery through sub carries.
func identifiersOf(sub packets.Subscription) []int {
	var ids []int
	for _, id := range sub.Identifiers {
		if id > 0 {
			ids = append(ids, id)
		}
	}
	if len(sub.Identifiers) == 0 && sub.Identifier > 0 {
		ids = append(ids, sub.Identifier)
	}
	sort.Ints(ids)
	return ids
}

// freePacketIDs hands out the packet ids a session's stored messages do not use, in increasing
// order after the highest one in use, so that the new messages are resent after the old ones.
type freePacketIDs struct {
	used map[uint16]bool
	last uint16
}

func newFreePacketIDs(inflight *bbolt.Bucket) *freePacketIDs {
	p := &freePacketIDs{used: map[uint16]bool{}}
	_ = inflight.ForEach(func(k, _ []byte) error {
		id := packetIDOf(k)
		p.used[id] = true
		p.last = max(p.last, id)
		return nil
	})
	return p
}

func (p *freePacketIDs) next() (uint16, bool) {
	for range 65535 {
		p.last++
		if p.last == 0 {
			p.last = 1
		}
		if !p.used[p.last] {
			p.used[p.last] = true
			return p.last, true
		}
	}
	return 0, false
}
