package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ShadowConfig is the shadow scenario: Devices devices each update their own Device Shadow
// over MQTT — publish {"state":{"reported":{"seq":N}},"clientToken":T} to
// $aws/things/{thing}/shadow[/name/{ShadowName}]/update — and wait for the /update/accepted (or
// /update/rejected) answer echoing T, measuring the round trip. The thing name is the device's
// client id, as the provisioned thing-scoped policy requires.
type ShadowConfig struct {
	Target  Target
	Devices int
	// ShadowName selects a named shadow; empty updates the classic (unnamed) shadow.
	ShadowName string
	// QoS is the QoS of the update requests, 0 or 1. The answers are subscribed at QoS 1, as
	// the AWS device SDKs do, so that a slow consumer loses nothing.
	QoS byte
	// Rate is updates per second per device. The devices' schedules are staggered evenly over
	// one interval, as an unsynchronised fleet's would be, so that the service sees a steady
	// load instead of all devices at the same instant. 0 runs closed-loop: each device sends its
	// next update as soon as the previous one is answered (or timed out), measuring the
	// service's capacity rather than its latency at a given load.
	Rate float64
	// Duration and Updates (per device) end the update phase, whichever comes first; at least
	// one must be set, and a run with a count but no Duration still stops after
	// MaxPublishDuration.
	Duration time.Duration
	Updates  int
	// Inflight bounds a device's unanswered updates when Rate is set (default DefaultInflight);
	// a device waits rather than piling requests on a service that has fallen behind. A
	// closed-loop run always has one.
	Inflight int
	// Timeout is how long an update may wait for its answer before it counts as timed out;
	// default DefaultShadowTimeout. It also bounds the drain after the update phase.
	Timeout time.Duration
	// Concurrency is the connection attempts in flight while connecting; default 50.
	Concurrency int
	Progress    io.Writer
	Logger      *slog.Logger
}

// Defaults and limits of the shadow scenario.
const (
	// DefaultShadowTimeout is generous next to the service's latency, which is milliseconds;
	// AWS's own device SDKs wait seconds for a shadow answer.
	DefaultShadowTimeout = 5 * time.Second
	// maxShadowInflight keeps QoS 1 packet identifiers, derived from sequence numbers, unique
	// among a device's unacknowledged requests.
	maxShadowInflight = 4096
	// maxShadowNameLen is AWS's limit on shadow names.
	maxShadowNameLen = 64
)

// ShadowResult is what the shadow scenario measured. Every update sent ends one way:
// Sent = Accepted + Rejected + TimedOut. Answers that arrive after their update timed out are
// counted as Late, and do not move it out of TimedOut.
type ShadowResult struct {
	Target  TargetInfo `json:"target"`
	Devices int        `json:"devices"`
	// ShadowName is the named shadow updated; empty for the classic shadow.
	ShadowName string `json:"shadow_name,omitempty"`
	QoS        byte   `json:"qos"`
	// RatePerDevice is the asked rate; 0 means closed-loop.
	RatePerDevice  float64 `json:"rate_per_device"`
	Inflight       int     `json:"inflight"`
	TimeoutSeconds float64 `json:"timeout_s"`
	// UpdateSeconds is the update phase; ElapsedSeconds runs from its start to the last answer.
	UpdateSeconds  float64 `json:"update_s"`
	ElapsedSeconds float64 `json:"elapsed_s"`
	// Sent counts update requests written; Acked their PUBACKs (QoS 1).
	Sent  uint64 `json:"sent"`
	Acked uint64 `json:"acked"`
	// Accepted and Rejected count updates answered in time on /update/accepted and
	// /update/rejected; RejectedByCode splits Rejected by the error document's code, and
	// RejectedMessages keeps the first message seen for each code.
	Accepted         uint64            `json:"accepted"`
	Rejected         uint64            `json:"rejected"`
	RejectedByCode   map[string]int    `json:"rejected_by_code,omitempty"`
	RejectedMessages map[string]string `json:"rejected_messages,omitempty"`
	// TimedOut counts updates without an answer within the timeout, including those still
	// unanswered at the end of the drain (or on a connection the server closed).
	TimedOut uint64 `json:"timed_out"`
	// Late counts first answers that came after their update had timed out; Duplicates further
	// answers to an update already answered; Unexpected messages on the answer topics that
	// were not answers to this run's updates (another client's, or unparsable).
	Late       uint64 `json:"late"`
	Duplicates uint64 `json:"duplicates"`
	Unexpected uint64 `json:"unexpected"`
	// VersionRegressions counts accepted answers whose version was not above the previous one
	// of the same device's shadow; VersionsNotSeen counts versions skipped between consecutive
	// accepted answers (an accepted answer lost, or another writer). Both are 0 when the shadow
	// service numbers each device's updates 1, 2, 3, … as answered.
	VersionRegressions uint64 `json:"version_regressions"`
	VersionsNotSeen    uint64 `json:"versions_not_seen"`
	// SentPerSecond is Sent over the update phase; RoundTripsPerSecond is Accepted + Rejected
	// over ElapsedSeconds.
	SentPerSecond       float64 `json:"sent_per_s"`
	RoundTripsPerSecond float64 `json:"round_trips_per_s"`
	// Latency is update publish → matching /update/accepted received; RejectedLatency the
	// same for /update/rejected (when any).
	Latency         Latency  `json:"latency"`
	RejectedLatency *Latency `json:"rejected_latency,omitempty"`
	// Disconnects counts connections the server closed during the run, by cause.
	Disconnects map[string]int `json:"disconnects,omitempty"`
	Connect     ConnectResult  `json:"connect"`
}

// shadowDevice is one device of the shadow scenario: its connection, the updates it has in
// flight, and what its answers said.
type shadowDevice struct {
	c             *client
	index         int
	updateTopic   string
	acceptedTopic string
	rejectedTopic string
	tokenPrefix   string // "<run>-<index>-": the clientToken is tokenPrefix + sequence number
	subacks       chan []byte
	answered      chan struct{} // signalled (without blocking) after each answer

	mu       sync.Mutex
	pending  map[uint64]int64 // sequence number → send time, of updates awaiting an answer
	next     uint64           // sequence number of the next update, i.e. updates sent
	oldest   uint64           // no update below it is pending: where expiry resumes
	timedOut uint64

	sent, acked, accepted, rejected atomic.Uint64
	last                            atomic.Int64 // run clock of the last answer

	// Owned by the reader goroutine until the connection is closed.
	seen                 []uint64 // bitset of the sequence numbers answered
	lastVersion          int64
	regressions, notSeen uint64
	late, dups, foreign  uint64
	lat, rejLat          Histogram
	byCode               map[int]int
	messages             map[int]string
}

// validate checks a shadow configuration and fills in defaults.
func (cfg *ShadowConfig) validate() error {
	var errs []error
	if cfg.Devices <= 0 {
		errs = append(errs, errors.New("the number of devices must be positive"))
	}
	if cfg.ShadowName != "" && !ValidShadowName(cfg.ShadowName) {
		errs = append(errs, fmt.Errorf("shadow name %q: must be 1-%d characters of a-z, A-Z, 0-9, '$', ':', '_' and '-'", cfg.ShadowName, maxShadowNameLen))
	}
	if cfg.QoS > 1 {
		errs = append(errs, fmt.Errorf("qos %d: must be 0 or 1 (AWS IoT Core has no QoS 2)", cfg.QoS))
	}
	if cfg.Rate < 0 {
		errs = append(errs, errors.New("rate must not be negative"))
	}
	if cfg.Updates < 0 {
		errs = append(errs, errors.New("update count must not be negative"))
	}
	if cfg.Duration <= 0 && cfg.Updates <= 0 {
		errs = append(errs, errors.New("give a duration or an update count"))
	}
	if cfg.Duration <= 0 {
		cfg.Duration = MaxPublishDuration
	}
	if cfg.Inflight < 0 {
		errs = append(errs, errors.New("inflight must not be negative"))
	}
	if cfg.Inflight == 0 {
		cfg.Inflight = DefaultInflight
	}
	if cfg.Rate == 0 {
		cfg.Inflight = 1
	}
	cfg.Inflight = min(cfg.Inflight, maxShadowInflight)
	if cfg.Timeout < 0 {
		errs = append(errs, errors.New("timeout must not be negative"))
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultShadowTimeout
	}
	return errors.Join(errs...)
}

// ValidShadowName reports whether s fits AWS's shadow names: 1-64 of [a-zA-Z0-9$:_-]. Anything
// else would be refused by the service, or break the topic (/, +, #).
func ValidShadowName(s string) bool {
	if s == "" || len(s) > maxShadowNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '$', c == ':', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// shadowTopicPrefix is the topic prefix of a thing's classic or named shadow.
func shadowTopicPrefix(thing, name string) string {
	if name == "" {
		return "$aws/things/" + thing + "/shadow/"
	}
	return "$aws/things/" + thing + "/shadow/name/" + name + "/"
}

// newShadowDevice prepares device index with client id thing for run runID.
func newShadowDevice(index int, thing, shadowName string, runID uint32) *shadowDevice {
	p := shadowTopicPrefix(thing, shadowName)
	return &shadowDevice{
		index:         index,
		updateTopic:   p + "update",
		acceptedTopic: p + "update/accepted",
		rejectedTopic: p + "update/rejected",
		tokenPrefix:   fmt.Sprintf("%08x-%d-", runID, index),
		subacks:       make(chan []byte, 1),
		answered:      make(chan struct{}, 1),
		pending:       map[uint64]int64{},
		byCode:        map[int]int{},
		messages:      map[int]string{},
	}
}

// RunShadow runs the shadow scenario: connect the devices, subscribe each to its
// /update/accepted and /update/rejected, send updates (closed-loop or at a rate), drain the
// answers, disconnect. It fails when any device cannot connect or subscribe, since a partial
// fleet measures something else; refused updates are counted, not fatal.
func RunShadow(ctx context.Context, cfg ShadowConfig) (*ShadowResult, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("shadow: %w", err)
	}
	log := loggerOr(cfg.Logger)
	N := cfg.Devices
	d, err := cfg.Target.prepare(ctx, N)
	if err != nil {
		return nil, fmt.Errorf("shadow: %w", err)
	}
	if err := ensureFileLimit(N+64, log); err != nil {
		return nil, fmt.Errorf("shadow: %w", err)
	}
	runID := rand.Uint32()
	devs := make([]*shadowDevice, N)
	stats := newConnectStats()
	var all []*client
	defer func() { closeAll(all, true) }()

	var subErrs sync.Map
	all = connectMany(ctx, d, 0, N, cfg.Concurrency, stats, log, func(c *client) {
		dev := newShadowDevice(c.index, c.id, cfg.ShadowName, runID)
		dev.c = c
		devs[c.index] = dev
		c.start(handlers{
			publish: dev.onAnswer,
			puback:  func(uint16) { dev.acked.Add(1) },
			suback: func(_ uint16, codes []byte) {
				select {
				case dev.subacks <- append([]byte(nil), codes...):
				default: // a SUBACK nobody waits for
				}
			},
		})
		for i, filter := range []string{dev.acceptedTopic, dev.rejectedTopic} {
			if err := c.subscribe(ctx, uint16(i+1), filter, 1, dev.subacks, subscribeTimeout); err != nil {
				subErrs.Store(c.index, fmt.Errorf("device %s: %w", c.id, err))
				return
			}
		}
	})
	connectRes := stats.result(N, cfg.Concurrency)
	if connectRes.Failed > 0 {
		return nil, fmt.Errorf("shadow: %d of %d connections failed: %s", connectRes.Failed, N, stats.failureSummary())
	}
	var subErr error
	subErrs.Range(func(_, v any) bool { subErr = v.(error); return false })
	if subErr != nil {
		return nil, fmt.Errorf("shadow: %w", subErr)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("shadow: %w", err)
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

	sum := func(f func(*shadowDevice) uint64) (n uint64) {
		for _, dev := range devs {
			n += f(dev)
		}
		return n
	}
	stopProgress := startProgress(cfg.Progress, "shadow", func(el time.Duration) string {
		sent := sum(func(dv *shadowDevice) uint64 { return dv.sent.Load() })
		acc := sum(func(dv *shadowDevice) uint64 { return dv.accepted.Load() })
		rej := sum(func(dv *shadowDevice) uint64 { return dv.rejected.Load() })
		to := sum(func(dv *shadowDevice) uint64 { dv.mu.Lock(); defer dv.mu.Unlock(); return dv.timedOut })
		return fmt.Sprintf("sent %d, accepted %d (%.0f/s), rejected %d, timed out %d", sent, acc, perSecond(float64(acc), el), rej, to)
	})
	defer stopProgress()

	// Update until the duration, the count or the context ends.
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
	var interval int64
	if cfg.Rate > 0 {
		interval = int64(float64(time.Second) / cfg.Rate)
	}
	var wg sync.WaitGroup
	for _, dev := range devs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dev.run(cfg, start+int64(float64(interval)*float64(dev.index)/float64(N)), stopAt, interval, stop)
		}()
	}
	wg.Wait()
	updateEnd := now()
	if timer.Stop() {
		close(stop)
	}

	// Drain: wait until every update is answered or has timed out (each does within Timeout).
	timeout := int64(cfg.Timeout)
	for ctx.Err() == nil {
		pending := 0
		t := now()
		for _, dev := range devs {
			dev.mu.Lock()
			dev.expireLocked(t, timeout)
			pending += len(dev.pending)
			dev.mu.Unlock()
		}
		if pending == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	stopProgress()
	stopKeep()

	// Whatever is still pending (the run was cancelled) is unanswered: timed out. Note who the
	// server dropped before closing everything ourselves.
	disconnects := map[string]int{}
	for _, dev := range devs {
		dev.mu.Lock()
		dev.timedOut += uint64(len(dev.pending))
		clear(dev.pending)
		dev.mu.Unlock()
		if dev.c.closedByServer() {
			disconnects[dev.c.readError()]++
		}
	}
	closeAll(all, true)
	all = nil

	res := &ShadowResult{
		Target: d.info(), Devices: N, ShadowName: cfg.ShadowName, QoS: cfg.QoS,
		RatePerDevice: cfg.Rate, Inflight: cfg.Inflight, TimeoutSeconds: cfg.Timeout.Seconds(),
		UpdateSeconds: time.Duration(updateEnd - start).Seconds(),
		Connect:       connectRes,
	}
	if len(disconnects) > 0 {
		res.Disconnects = disconnects
	}
	var lat, rejLat Histogram
	var lastAnswer int64
	byCode := map[string]int{}
	messages := map[string]string{}
	for _, dev := range devs {
		res.Sent += dev.sent.Load()
		res.Acked += dev.acked.Load()
		res.Accepted += dev.accepted.Load()
		res.Rejected += dev.rejected.Load()
		res.TimedOut += dev.timedOut
		res.Late += dev.late
		res.Duplicates += dev.dups
		res.Unexpected += dev.foreign
		res.VersionRegressions += dev.regressions
		res.VersionsNotSeen += dev.notSeen
		lat.Merge(&dev.lat)
		rejLat.Merge(&dev.rejLat)
		lastAnswer = max(lastAnswer, dev.last.Load())
		for code, n := range dev.byCode {
			k := strconv.Itoa(code)
			byCode[k] += n
			if _, ok := messages[k]; !ok {
				messages[k] = dev.messages[code]
			}
		}
	}
	if len(byCode) > 0 {
		res.RejectedByCode, res.RejectedMessages = byCode, messages
	}
	res.SentPerSecond = perSecond(float64(res.Sent), time.Duration(updateEnd-start))
	if lastAnswer > start {
		res.ElapsedSeconds = time.Duration(lastAnswer - start).Seconds()
		res.RoundTripsPerSecond = perSecond(float64(res.Accepted+res.Rejected), time.Duration(lastAnswer-start))
	}
	res.Latency = lat.Summary()
	if rejLat.Count() > 0 {
		s := rejLat.Summary()
		res.RejectedLatency = &s
	}
	return res, nil
}

// run sends the device's updates until stop closes, the count is reached or the connection
// fails: paced at interval (run clock nanoseconds) from first when set, and never with more than
// cfg.Inflight unanswered, so that a closed-loop run (Inflight 1) sends each update when the
// previous one is answered or has timed out.
func (d *shadowDevice) run(cfg ShadowConfig, first, stopAt, interval int64, stop <-chan struct{}) {
	timeout := int64(cfg.Timeout)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	// sleepUntil waits until the run clock reaches t, an answer arrives (when wake), or the
	// run ends; it returns false when the run ended.
	sleepUntil := func(t int64, wake bool) bool {
		wait := t - now()
		if wait <= 0 {
			return true
		}
		timer.Reset(time.Duration(wait))
		defer timer.Stop()
		var answered <-chan struct{}
		if wake {
			answered = d.answered
		}
		select {
		case <-timer.C:
		case <-answered:
		case <-stop:
			return false
		case <-d.c.done:
			return false
		}
		return true
	}
	var payload []byte
	for seq := uint64(0); cfg.Updates == 0 || seq < uint64(cfg.Updates); seq++ {
		if interval > 0 {
			due := first + int64(seq)*interval
			if due >= stopAt || !sleepUntil(due, false) {
				return
			}
		}
		for {
			t := now()
			d.mu.Lock()
			oldestSent, _ := d.expireLocked(t, timeout)
			n := len(d.pending)
			d.mu.Unlock()
			if n < cfg.Inflight {
				break
			}
			if !sleepUntil(oldestSent+timeout, true) {
				return
			}
		}
		select {
		case <-stop:
			return
		case <-d.c.done:
			return
		default:
		}
		payload = d.appendUpdate(payload[:0], seq)
		id := uint16(seq%65535) + 1
		d.mu.Lock()
		d.pending[seq] = now()
		d.next = seq + 1
		d.mu.Unlock()
		if err := d.c.write(func(b []byte) []byte { return appendPublish(b, d.updateTopic, cfg.QoS, id, payload) }); err != nil {
			d.mu.Lock()
			delete(d.pending, seq) // not sent: the connection is broken
			d.mu.Unlock()
			return
		}
		d.sent.Add(1)
	}
}

// appendUpdate appends the update request of sequence number seq:
// {"state":{"reported":{"seq":N}},"clientToken":"<run>-<device>-<N>"}.
func (d *shadowDevice) appendUpdate(b []byte, seq uint64) []byte {
	b = append(b, `{"state":{"reported":{"seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, `}},"clientToken":"`...)
	b = append(b, d.tokenPrefix...)
	b = strconv.AppendUint(b, seq, 10)
	return append(b, `"}`...)
}

// expireLocked moves updates sent before t−timeout from pending to timedOut, and returns the
// send time of the oldest update still pending (ok false when none is). Sequence numbers are
// sent in order, so the pending updates are scanned from the oldest and the scan stops at the
// first one still in time. d.mu must be held.
func (d *shadowDevice) expireLocked(t, timeout int64) (oldestSent int64, ok bool) {
	for ; d.oldest < d.next; d.oldest++ {
		sentAt, pending := d.pending[d.oldest]
		if !pending {
			continue
		}
		if t-sentAt < timeout {
			return sentAt, true
		}
		delete(d.pending, d.oldest)
		d.timedOut++
	}
	return 0, false
}

// shadowAnswer holds the fields of an /update/accepted or /update/rejected document the
// scenario reads; the rest (state, metadata) is skipped.
type shadowAnswer struct {
	ClientToken string `json:"clientToken"`
	Version     int64  `json:"version"`
	Code        int    `json:"code"`
	Message     string `json:"message"`
}

// onAnswer handles a publication on the device's answer topics (on its reader goroutine):
// match it to its update by clientToken, time the round trip, and check the version.
func (d *shadowDevice) onAnswer(p publishPacket) {
	t := now()
	topic := string(p.topic)
	accepted := topic == d.acceptedTopic
	if !accepted && topic != d.rejectedTopic {
		d.foreign++
		return
	}
	var ans shadowAnswer
	if err := json.Unmarshal(p.payload, &ans); err != nil {
		d.foreign++
		return
	}
	digits, ours := strings.CutPrefix(ans.ClientToken, d.tokenPrefix)
	seq, err := strconv.ParseUint(digits, 10, 64)
	if !ours || err != nil {
		d.foreign++
		return
	}
	d.mu.Lock()
	if seq >= d.next {
		d.mu.Unlock()
		d.foreign++ // a token of this run that was never sent
		return
	}
	sentAt, inTime := d.pending[seq]
	delete(d.pending, seq)
	d.mu.Unlock()

	word, mask := int(seq/64), uint64(1)<<(seq%64)
	if word >= len(d.seen) {
		d.seen = append(d.seen, make([]uint64, word-len(d.seen)+1+len(d.seen)/2)...)
	}
	if d.seen[word]&mask != 0 {
		d.dups++
		return
	}
	d.seen[word] |= mask
	d.last.Store(t)
	if accepted {
		d.checkVersion(ans.Version) // a late accepted update moved the version too
	}
	switch {
	case !inTime:
		d.late++
	case accepted:
		d.lat.Record(t - sentAt)
		d.accepted.Add(1)
	default:
		d.rejLat.Record(t - sentAt)
		d.byCode[ans.Code]++
		if _, ok := d.messages[ans.Code]; !ok {
			d.messages[ans.Code] = ans.Message
		}
		d.rejected.Add(1)
	}
	select {
	case d.answered <- struct{}{}:
	default:
	}
}

// checkVersion compares an accepted version with the device's previous one: it must be higher
// (a missing or zero version counts as a regression, since versions start at 1), and one
// higher unless an accepted answer went missing.
func (d *shadowDevice) checkVersion(v int64) {
	switch {
	case v <= 0 || d.lastVersion > 0 && v <= d.lastVersion:
		d.regressions++
	case d.lastVersion > 0 && v > d.lastVersion+1:
		d.notSeen += uint64(v - d.lastVersion - 1)
	}
	d.lastVersion = max(d.lastVersion, v)
}
