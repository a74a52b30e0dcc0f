package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Shapes of a pubsub run: who receives what.
const (
	// ShapeAll: every subscriber receives every publisher's messages. One publisher and many
	// subscribers is fan-out, many publishers and one subscriber fan-in.
	ShapeAll = "all"
	// ShapePairs: publisher i's messages go to subscriber i mod S only, like devices each
	// talking to their own backend consumer; throughput without fan-out amplification.
	ShapePairs = "pairs"
)

// PubSubConfig is the pubsub scenario: Publishers publish to topics under TopicPrefix that
// Subscribers receive, at QoS 0 or 1.
type PubSubConfig struct {
	Target      Target
	Publishers  int
	Subscribers int
	// Shape is ShapeAll (the default) or ShapePairs.
	Shape string
	// QoS is 0 or 1 (AWS IoT Core has no QoS 2), for publishing and subscribing alike.
	QoS byte
	// PayloadSize is the payload's size in bytes: at least PayloadHeaderSize, at most 128 KiB;
	// default 64.
	PayloadSize int
	// Rate is messages per second per publisher; 0 publishes as fast as the connection (and,
	// at QoS 1, the in-flight window) allows.
	Rate float64
	// Stagger spreads the publishers' schedules evenly over one interval (publisher i starts
	// i/Publishers of an interval late) instead of all publishing at the same instants, as a
	// fleet of independent devices does. It needs a Rate.
	Stagger bool
	// Duration and Messages (per publisher) end the publishing phase, whichever comes first;
	// at least one must be set, and a run with a count but no Duration still stops after
	// MaxPublishDuration.
	Duration time.Duration
	Messages int
	// Inflight is how many QoS 1 messages a publisher may have unacknowledged; default 32.
	Inflight int
	// Drain bounds the wait for outstanding acknowledgements and deliveries once publishing
	// stops; default 5 s.
	Drain time.Duration
	// Concurrency is the connection attempts in flight while connecting; default 50.
	Concurrency int
	// TopicPrefix is the first topic level; default "bench" (what the provisioned policy allows).
	TopicPrefix string
	Progress    io.Writer
	Logger      *slog.Logger
}

// Limits and defaults of the pubsub scenario.
const (
	// PayloadHeaderSize is the part of each payload the scenario uses: run id, publisher,
	// sequence number and send time.
	PayloadHeaderSize    = 24
	MaxPayloadSize       = 128 << 10 // AWS IoT Core's message size limit
	DefaultPayloadSize   = 64
	DefaultInflight      = 32
	DefaultDrain         = 5 * time.Second
	MaxPublishDuration   = 10 * time.Minute
	DefaultTopicPrefix   = "bench"
	subscribeTimeout     = 10 * time.Second
	quietQoS0, quietQoS1 = time.Second, 2 * time.Second
)

// PubSubResult is what the pubsub scenario measured. The counters always add up:
// Received = Unique + Duplicates and Lost = Expected − Unique.
type PubSubResult struct {
	Target      TargetInfo `json:"target"`
	Publishers  int        `json:"publishers"`
	Subscribers int        `json:"subscribers"`
	Shape       string     `json:"shape"`
	QoS         byte       `json:"qos"`
	PayloadSize int        `json:"payload_bytes"`
	// RatePerPublisher is the asked rate; 0 means as fast as possible.
	RatePerPublisher float64 `json:"rate_per_publisher"`
	// PublishSeconds is the publishing phase; ElapsedSeconds runs from its start to the last
	// delivery.
	PublishSeconds float64 `json:"publish_s"`
	ElapsedSeconds float64 `json:"elapsed_s"`
	// Sent counts PUBLISH packets written; Acked the PUBACKs received for them (QoS 1).
	Sent  uint64 `json:"sent"`
	Acked uint64 `json:"acked"`
	// Expected is the deliveries owed: each message sent times its matching subscribers.
	Expected uint64 `json:"expected"`
	// Received counts deliveries of this run's messages, Unique the distinct ones, Duplicates
	// the rest; Lost is Expected − Unique.
	Received   uint64 `json:"received"`
	Unique     uint64 `json:"unique"`
	Duplicates uint64 `json:"duplicates"`
	Lost       uint64 `json:"lost"`
	// Unexpected counts deliveries that were not this run's (stray or malformed payloads).
	Unexpected uint64 `json:"unexpected"`
	// SentPerSecond is Sent over the publishing phase; DeliveredPerSecond is Received over
	// ElapsedSeconds.
	SentPerSecond      float64 `json:"sent_per_s"`
	DeliveredPerSecond float64 `json:"delivered_per_s"`
	// Latency is publish→deliver, from the timestamp in the payload to its arrival.
	Latency Latency `json:"latency"`
	// AckLatency is publish→PUBACK at QoS 1.
	AckLatency *Latency `json:"ack_latency,omitempty"`
	// Disconnects counts connections the server closed during the run, by role and cause.
	Disconnects map[string]int `json:"disconnects,omitempty"`
	// Connect is how the publishers and subscribers connected.
	Connect ConnectResult `json:"connect"`
}

// publisher is one publishing connection and its counters.
type publisher struct {
	c     *client
	index int
	topic string

	sent, acked atomic.Uint64

	mu       sync.Mutex
	inflight map[uint16]int64 // packet id → send time, QoS 1
	nextID   uint16
	window   chan struct{}
	ackLat   Histogram // written by the reader goroutine only
}

// subscriber is one subscribing connection and what it has seen. Everything but the atomics is
// owned by its reader goroutine until the connection is closed.
type subscriber struct {
	c       *client
	filter  string
	subacks chan []byte

	received, unique, dups, foreign atomic.Uint64
	last                            atomic.Int64 // run clock of the last delivery
	seen                            [][]uint64   // per publisher, a bitset of sequence numbers
	lat                             Histogram
}

// validate checks a pubsub configuration and fills in defaults.
func (cfg *PubSubConfig) validate() error {
	var errs []error
	if cfg.Publishers <= 0 || cfg.Subscribers <= 0 {
		errs = append(errs, errors.New("publishers and subscribers must be positive"))
	}
	if cfg.Shape == "" {
		cfg.Shape = ShapeAll
	}
	if cfg.Shape != ShapeAll && cfg.Shape != ShapePairs {
		errs = append(errs, fmt.Errorf("shape %q: must be %s or %s", cfg.Shape, ShapeAll, ShapePairs))
	}
	if cfg.Shape == ShapePairs && cfg.Subscribers > cfg.Publishers {
		errs = append(errs, errors.New("shape pairs needs no more subscribers than publishers"))
	}
	if cfg.QoS > 1 {
		errs = append(errs, fmt.Errorf("qos %d: must be 0 or 1 (AWS IoT Core has no QoS 2)", cfg.QoS))
	}
	if cfg.PayloadSize == 0 {
		cfg.PayloadSize = DefaultPayloadSize
	}
	if cfg.PayloadSize < PayloadHeaderSize || cfg.PayloadSize > MaxPayloadSize {
		errs = append(errs, fmt.Errorf("payload size %d: must be %d to %d bytes", cfg.PayloadSize, PayloadHeaderSize, MaxPayloadSize))
	}
	if cfg.Rate < 0 {
		errs = append(errs, errors.New("rate must not be negative"))
	}
	if cfg.Stagger && cfg.Rate == 0 {
		errs = append(errs, errors.New("stagger needs a rate"))
	}
	if cfg.Duration <= 0 && cfg.Messages <= 0 {
		errs = append(errs, errors.New("give a duration or a message count"))
	}
	if cfg.Duration <= 0 {
		cfg.Duration = MaxPublishDuration
	}
	if cfg.Messages < 0 {
		errs = append(errs, errors.New("message count must not be negative"))
	}
	if cfg.Inflight <= 0 {
		cfg.Inflight = DefaultInflight
	}
	cfg.Inflight = min(cfg.Inflight, 65535)
	if cfg.Drain <= 0 {
		cfg.Drain = DefaultDrain
	}
	if cfg.TopicPrefix == "" {
		cfg.TopicPrefix = DefaultTopicPrefix
	}
	return errors.Join(errs...)
}

// group is the topic level that routes publisher or subscriber i.
func (cfg *PubSubConfig) group(i int) string {
	if cfg.Shape == ShapePairs {
		return strconv.Itoa(i % cfg.Subscribers)
	}
	return "all"
}

// matching is how many subscribers receive each message of one publisher.
func (cfg *PubSubConfig) matching() uint64 {
	if cfg.Shape == ShapePairs {
		return 1
	}
	return uint64(cfg.Subscribers)
}

// RunPubSub runs the pubsub scenario: connect and subscribe the subscribers (connections
// Publishers … Publishers+Subscribers−1), connect the publishers (0 … Publishers−1), publish,
// drain, disconnect. It fails when any of them cannot connect or subscribe, since a partial
// fleet measures something else.
func RunPubSub(ctx context.Context, cfg PubSubConfig) (*PubSubResult, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("pubsub: %w", err)
	}
	log := loggerOr(cfg.Logger)
	P, S := cfg.Publishers, cfg.Subscribers
	d, err := cfg.Target.prepare(ctx, P+S)
	if err != nil {
		return nil, fmt.Errorf("pubsub: %w", err)
	}
	if err := ensureFileLimit(P+S+64, log); err != nil {
		return nil, fmt.Errorf("pubsub: %w", err)
	}
	runID := rand.Uint32()
	base := fmt.Sprintf("%s/%08x/", cfg.TopicPrefix, runID)

	subs := make([]*subscriber, S)
	for j := range subs {
		subs[j] = &subscriber{filter: base + cfg.group(j) + "/#", subacks: make(chan []byte, 1), seen: make([][]uint64, P)}
	}
	pubs := make([]*publisher, P)
	stats := newConnectStats()
	var all []*client
	defer func() { closeAll(all, true) }()

	var subErrs sync.Map
	subClients := connectMany(ctx, d, P, S, cfg.Concurrency, stats, log, func(c *client) {
		s := subs[c.index-P]
		s.c = c
		c.start(handlers{
			publish: func(p publishPacket) { s.onPublish(p, runID, P) },
			suback: func(_ uint16, codes []byte) {
				select {
				case s.subacks <- append([]byte(nil), codes...):
				default: // a SUBACK nobody waits for
				}
			},
		})
		if err := c.subscribe(ctx, 1, s.filter, cfg.QoS, s.subacks, subscribeTimeout); err != nil {
			subErrs.Store(c.index, err)
		}
	})
	all = append(all, subClients...)
	pubClients := connectMany(ctx, d, 0, P, cfg.Concurrency, stats, log, func(c *client) {
		p := &publisher{c: c, index: c.index, topic: base + cfg.group(c.index) + "/" + c.id,
			inflight: map[uint16]int64{}, window: make(chan struct{}, cfg.Inflight)}
		pubs[c.index] = p
		c.start(handlers{puback: p.onPuback})
	})
	all = append(all, pubClients...)
	connectRes := stats.result(P+S, cfg.Concurrency)
	if connectRes.Failed > 0 {
		return nil, fmt.Errorf("pubsub: %d of %d connections failed: %s", connectRes.Failed, P+S, stats.failureSummary())
	}
	var subErr error
	subErrs.Range(func(_, v any) bool { subErr = v.(error); return false })
	if subErr != nil {
		return nil, fmt.Errorf("pubsub: %w", subErr)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("pubsub: %w", err)
	}

	kctx, cancelKeep := context.WithCancel(ctx)
	var keepWG sync.WaitGroup
	keepWG.Add(1)
	go func() {
		defer keepWG.Done()
		keepAlive(kctx, func() []*client { return all }, d.t.KeepAlive)
	}()
	stopKeep := func() { cancelKeep(); keepWG.Wait() }
	defer stopKeep()

	var sent, received func() uint64
	sent = func() (n uint64) {
		for _, p := range pubs {
			n += p.sent.Load()
		}
		return n
	}
	received = func() (n uint64) {
		for _, s := range subs {
			n += s.unique.Load() + s.dups.Load()
		}
		return n
	}
	stopProgress := startProgress(cfg.Progress, "pubsub", func(el time.Duration) string {
		sn, rn := sent(), received()
		return fmt.Sprintf("sent %d (%.0f/s), received %d (%.0f/s)", sn, perSecond(float64(sn), el), rn, perSecond(float64(rn), el))
	})
	defer stopProgress()

	// Publish until the duration, the count or the context ends.
	start := now()
	stopAt := start + int64(cfg.Duration)
	stop := make(chan struct{})
	timer := time.AfterFunc(cfg.Duration, func() { close(stop) })
	unhook := context.AfterFunc(ctx, func() {
		if timer.Stop() {
			close(stop)
		}
	})
	defer unhook()
	payload := make([]byte, cfg.PayloadSize)
	for i := PayloadHeaderSize; i < len(payload); i++ {
		payload[i] = 'a' + byte(i%26)
	}
	binary.BigEndian.PutUint32(payload, runID)
	var interval int64
	if cfg.Rate > 0 {
		interval = int64(float64(time.Second) / cfg.Rate)
	}
	var wg sync.WaitGroup
	for _, p := range pubs {
		first := start
		if cfg.Stagger {
			first += interval * int64(p.index) / int64(P)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.publish(cfg, append([]byte(nil), payload...), first, stopAt, interval, stop)
		}()
	}
	wg.Wait()
	publishEnd := now()
	if timer.Stop() {
		close(stop)
	}

	// Drain: wait for outstanding PUBACKs and deliveries, until everything owed has arrived,
	// nothing has arrived for a quiet spell, or the drain time is up.
	quiet := quietQoS0
	if cfg.QoS == 1 {
		quiet = quietQoS1
	}
	expected := sent() * cfg.matching()
	drainEnd := now() + int64(cfg.Drain)
	last, lastChange := received(), now()
	for t := now(); t < drainEnd && ctx.Err() == nil; t = now() {
		r := received()
		acksDone := cfg.QoS == 0 || pubsAcked(pubs)
		if r >= expected && acksDone {
			break
		}
		if r != last {
			last, lastChange = r, t
		} else if t-lastChange > int64(quiet) && acksDone {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	stopProgress()
	stopKeep()

	// Note who the server dropped before closing everything ourselves.
	disconnects := map[string]int{}
	for _, s := range subs {
		if s.c.closedByServer() {
			disconnects["subscriber: "+s.c.readError()]++
		}
	}
	for _, p := range pubs {
		if p.c.closedByServer() {
			disconnects["publisher: "+p.c.readError()]++
		}
	}
	closeAll(all, true)
	all = nil

	res := &PubSubResult{
		Target: d.info(), Publishers: P, Subscribers: S, Shape: cfg.Shape, QoS: cfg.QoS,
		PayloadSize: cfg.PayloadSize, RatePerPublisher: cfg.Rate,
		PublishSeconds: time.Duration(publishEnd - start).Seconds(),
		Connect:        connectRes,
	}
	if len(disconnects) > 0 {
		res.Disconnects = disconnects
	}
	var lat, ackLat Histogram
	var lastDelivery int64
	for _, p := range pubs {
		res.Sent += p.sent.Load()
		res.Acked += p.acked.Load()
		ackLat.Merge(&p.ackLat)
	}
	for _, s := range subs {
		res.Unique += s.unique.Load()
		res.Duplicates += s.dups.Load()
		res.Unexpected += s.foreign.Load()
		lat.Merge(&s.lat)
		lastDelivery = max(lastDelivery, s.last.Load())
	}
	res.Received = res.Unique + res.Duplicates
	res.Expected = res.Sent * cfg.matching()
	if res.Unique < res.Expected {
		res.Lost = res.Expected - res.Unique
	}
	res.SentPerSecond = perSecond(float64(res.Sent), time.Duration(publishEnd-start))
	if lastDelivery > start {
		res.ElapsedSeconds = time.Duration(lastDelivery - start).Seconds()
		res.DeliveredPerSecond = perSecond(float64(res.Received), time.Duration(lastDelivery-start))
	}
	res.Latency = lat.Summary()
	if cfg.QoS == 1 {
		s := ackLat.Summary()
		res.AckLatency = &s
	}
	return res, nil
}

// pubsAcked says whether every publisher has its PUBACKs (or has lost its connection).
func pubsAcked(pubs []*publisher) bool {
	for _, p := range pubs {
		if p.c.alive() && len(p.window) > 0 {
			return false
		}
	}
	return true
}

// publish sends messages until stop closes, the count is reached or the connection fails,
// pacing them at interval (run clock nanoseconds; 0 for as fast as possible) from first.
func (p *publisher) publish(cfg PubSubConfig, payload []byte, start, stopAt, interval int64, stop <-chan struct{}) {
	binary.BigEndian.PutUint32(payload[4:], uint32(p.index))
	var sleeper *time.Timer
	for seq := uint64(0); cfg.Messages == 0 || seq < uint64(cfg.Messages); seq++ {
		if interval > 0 {
			due := start + int64(seq)*interval
			if due >= stopAt {
				return
			}
			if wait := due - now(); wait > 0 {
				if sleeper == nil {
					sleeper = time.NewTimer(time.Duration(wait))
				} else {
					sleeper.Reset(time.Duration(wait))
				}
				select {
				case <-sleeper.C:
				case <-stop:
					return
				}
			}
		}
		select {
		case <-stop:
			return
		case <-p.c.done:
			return
		default:
		}
		var id uint16
		if cfg.QoS == 1 {
			select {
			case p.window <- struct{}{}:
			case <-stop:
				return
			case <-p.c.done:
				return
			}
			id = p.reserveID()
		}
		binary.BigEndian.PutUint64(payload[8:], seq)
		t := now()
		binary.BigEndian.PutUint64(payload[16:], uint64(t))
		if cfg.QoS == 1 {
			p.mu.Lock()
			p.inflight[id] = t
			p.mu.Unlock()
		}
		if err := p.c.write(func(b []byte) []byte { return appendPublish(b, p.topic, cfg.QoS, id, payload) }); err != nil {
			return
		}
		p.sent.Add(1)
	}
}

// reserveID picks a packet identifier no unacknowledged message holds.
func (p *publisher) reserveID() uint16 {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		p.nextID++
		if p.nextID == 0 {
			p.nextID = 1
		}
		if _, busy := p.inflight[p.nextID]; !busy {
			p.inflight[p.nextID] = 0
			return p.nextID
		}
	}
}

// onPuback completes a QoS 1 message.
func (p *publisher) onPuback(id uint16) {
	p.mu.Lock()
	sentAt, ok := p.inflight[id]
	delete(p.inflight, id)
	p.mu.Unlock()
	if !ok {
		return
	}
	p.ackLat.Record(now() - sentAt)
	p.acked.Add(1)
	<-p.window
}

// onPublish records one delivery: its latency, and whether its sequence number was seen before.
func (s *subscriber) onPublish(p publishPacket, runID uint32, publishers int) {
	t := now()
	pl := p.payload
	if len(pl) < PayloadHeaderSize || binary.BigEndian.Uint32(pl) != runID {
		s.foreign.Add(1)
		return
	}
	pub := int(binary.BigEndian.Uint32(pl[4:]))
	seq := binary.BigEndian.Uint64(pl[8:])
	sentAt := int64(binary.BigEndian.Uint64(pl[16:]))
	if pub >= publishers {
		s.foreign.Add(1)
		return
	}
	s.lat.Record(t - sentAt)
	word := int(seq / 64)
	bits := s.seen[pub]
	if word >= len(bits) {
		bits = append(bits, make([]uint64, word-len(bits)+1+len(bits)/2)...)
		s.seen[pub] = bits
	}
	if mask := uint64(1) << (seq % 64); bits[word]&mask != 0 {
		s.dups.Add(1)
	} else {
		bits[word] |= mask
		s.unique.Add(1)
	}
	s.last.Store(t)
}
