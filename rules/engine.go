// Package rules is the rules engine of AWS IoT Core: topic rules (stored, validated, enabled
// or disabled), their evaluation on every message the broker routes, Basic Ingest, and the
// actions that deliver results (republish, Lambda, HTTP, AWS services through the AWS SDK),
// with errorAction. It knows nothing of Mochi or HTTP serving: hooks give it messages, api its
// control plane, and the emulator a Publisher for republish.
package rules

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/iotcore-local/iotcore-local/rules/sql"
)

// PublisherClientID is the client ID the emulator's rules publisher uses: messages from it
// are republished ones, which the engine feeds back itself (with their loop depth), so the
// broker hook skips them.
const PublisherClientID = "iotcore-rules"

// Publication is a message a republish action sends.
type Publication struct {
	Topic           string
	Payload         []byte
	QoS             byte
	ContentType     string
	ResponseTopic   string
	CorrelationData []byte
	MessageExpiry   uint32
	// PayloadFormat is nil when not set; 0 unspecified bytes, 1 UTF-8.
	PayloadFormat  *byte
	UserProperties [][2]string
}

// Publisher publishes through the broker (the emulator gives one).
type Publisher interface {
	Publish(ctx context.Context, p Publication) error
}

// Invoker calls a Lambda function asynchronously (functions.Client implements it).
type Invoker interface {
	InvokeAsync(ctx context.Context, arn string, payload []byte) error
}

// Message is one PUBLISH the engine evaluates.
type Message struct {
	sql.Message
	// IngestRule is set for Basic Ingest ($aws/rules/<rule>/...): only that rule sees the
	// message, and Topic is what follows the prefix.
	IngestRule string
	// OriginalTopic is the topic as published (the errorAction payload's topic).
	OriginalTopic string
	// MQTT is true for a message a device published over MQTT (it gets a trace ID).
	MQTT  bool
	depth int
}

// Options configure the engine.
type Options struct {
	// Path is the bbolt file of rules and destinations.
	Path            string
	Region, Account string
	Logger          *slog.Logger
	Publisher       Publisher
	// Functions invokes the lambda action's functions; nil makes lambda actions fail (and
	// run the errorAction) with a message saying so.
	Functions Invoker
	// Data serves get_thing_shadow and get_registry_data.
	Data sql.Data
	// QueueSize bounds the messages waiting for evaluation (default 10000); when full, a
	// message is dropped with a log line and counted, and the broker never waits.
	QueueSize int
	// Workers evaluate messages (default 4).
	Workers int
	// MaxRepublishDepth stops a republish loop after this many generations (default 8).
	MaxRepublishDepth int
	// ActivitySize bounds each rule's activity log (default 50).
	ActivitySize int
	// HTTPClient performs http actions and destination confirmations; nil is a client with
	// a 10 s timeout.
	HTTPClient *http.Client
	// APIURL returns the base URL of the emulator's API, for a destination's enableUrl.
	APIURL func() string
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// ActionTimeout bounds each action (default 10 s).
	ActionTimeout time.Duration
}

// Engine runs topic rules.
type Engine struct {
	opts Options
	log  *slog.Logger
	st   *store

	mu    sync.Mutex // serialises control-plane writes
	rules atomic.Pointer[snapshot]
	// active is true while at least one rule is enabled: the broker hook checks it first.
	active atomic.Bool

	dmu   sync.Mutex
	dests map[string]*Destination

	queue   chan Message
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	dropped atomic.Int64

	amu      sync.Mutex
	activity map[string]*ring

	aws awsClients
}

// snapshot is the immutable set of rules evaluation reads without locks.
type snapshot struct {
	byName  map[string]*compiled
	enabled []*compiled // sorted by name
}

// Open loads the stored rules and starts the workers.
func Open(opts Options) (*Engine, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 10000
	}
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	if opts.MaxRepublishDepth <= 0 {
		opts.MaxRepublishDepth = 8
	}
	if opts.ActivitySize <= 0 {
		opts.ActivitySize = 50
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ActionTimeout <= 0 {
		opts.ActionTimeout = 10 * time.Second
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.Account == "" {
		opts.Account = "123456789012"
	}
	st, err := openStore(opts.Path)
	if err != nil {
		return nil, err
	}
	e := &Engine{opts: opts, log: opts.Logger, st: st, dests: map[string]*Destination{}, activity: map[string]*ring{}}
	e.aws.engine = e
	snap := &snapshot{byName: map[string]*compiled{}}
	err = st.each(bucketRules, func(name string, data []byte) error {
		var r Rule
		if err := json.Unmarshal(data, &r); err != nil {
			return fmt.Errorf("stored rule %s: %w", name, err)
		}
		sqlText := r.SQL
		c, err := e.compile(r.Name, &Payload{SQL: &sqlText, Description: r.Description, Actions: r.Actions, RuleDisabled: r.Disabled, AwsIotSqlVersion: r.Version, ErrorAction: r.ErrorAction})
		if err != nil {
			e.log.Warn("stored rule no longer compiles; it stays stored but does not run", "rule", name, "error", err)
			c = &compiled{}
		}
		c.rule = &r
		snap.byName[name] = c
		return nil
	})
	if err == nil {
		err = st.each(bucketDestinations, func(arn string, data []byte) error {
			var d Destination
			if err := json.Unmarshal(data, &d); err != nil {
				return fmt.Errorf("stored destination %s: %w", arn, err)
			}
			e.dests[arn] = &d
			return nil
		})
	}
	if err != nil {
		st.close()
		return nil, err
	}
	e.publish(snap)
	e.queue = make(chan Message, opts.QueueSize)
	e.ctx, e.cancel = context.WithCancel(context.Background())
	for range opts.Workers {
		e.wg.Add(1)
		go e.worker()
	}
	return e, nil
}

// Close stops the workers (abandoning queued messages and cancelling running actions) and
// closes the store.
func (e *Engine) Close() error {
	e.cancel()
	e.wg.Wait()
	return e.st.close()
}

// publish installs a new snapshot and updates the active flag.
func (e *Engine) publish(s *snapshot) {
	s.enabled = s.enabled[:0]
	for _, c := range s.byName {
		if !c.rule.Disabled && c.stmt != nil {
			s.enabled = append(s.enabled, c)
		}
	}
	sort.Slice(s.enabled, func(i, j int) bool { return s.enabled[i].rule.Name < s.enabled[j].rule.Name })
	e.rules.Store(s)
	e.active.Store(len(s.enabled) > 0)
}

// Active reports whether any rule is enabled. The broker hook checks it before anything else,
// so that with no rule the message path costs one atomic load.
func (e *Engine) Active() bool { return e.active.Load() }

// Dropped is the number of messages dropped because the queue was full.
func (e *Engine) Dropped() int64 { return e.dropped.Load() }

// Submit queues a message for evaluation without ever waiting: when the queue is full the
// message is dropped, logged and counted.
func (e *Engine) Submit(m Message) bool {
	if m.OriginalTopic == "" {
		m.OriginalTopic = m.Topic
	}
	select {
	case e.queue <- m:
		return true
	default:
		n := e.dropped.Add(1)
		if n == 1 || n%1000 == 0 {
			e.log.Warn("rules engine queue full: message dropped", "topic", m.OriginalTopic, "dropped_total", n, "queue", cap(e.queue))
		}
		return false
	}
}

// ParseIngest splits a Basic Ingest topic $aws/rules/<rule>[/<rest>].
func ParseIngest(topic string) (rule, rest string, ok bool) {
	const prefix = "$aws/rules/"
	if !strings.HasPrefix(topic, prefix) {
		return "", "", false
	}
	r := topic[len(prefix):]
	if i := strings.IndexByte(r, '/'); i >= 0 {
		return r[:i], r[i+1:], r[:i] != ""
	}
	return r, "", r != ""
}

func (e *Engine) worker() {
	defer e.wg.Done()
	for {
		select {
		case <-e.ctx.Done():
			return
		case m := <-e.queue:
			e.process(m)
		}
	}
}

// process evaluates one message against the rules it concerns.
func (e *Engine) process(m Message) {
	snap := e.rules.Load()
	if m.IngestRule != "" {
		c := snap.byName[m.IngestRule]
		if c == nil || c.rule.Disabled || c.stmt == nil {
			e.log.Info("Basic Ingest message for a missing or disabled rule dropped (RuleNotFound)", "rule", m.IngestRule, "topic", m.OriginalTopic)
			return
		}
		e.run(c, &m)
		return
	}
	for _, c := range snap.enabled {
		if matchFilter(c.filter, m.Topic) {
			e.run(c, &m)
		}
	}
}

// failure is one failed action, as the errorAction payload lists it.
type failure struct {
	FailedAction   string `json:"failedAction"`
	FailedResource string `json:"failedResource"`
	ErrorMessage   string `json:"errorMessage"`
}

// run evaluates a rule on a message and performs its actions.
func (e *Engine) run(c *compiled, m *Message) {
	if c.usesTrace && m.MQTT && m.TraceID == "" {
		m.TraceID = uuid.NewString() // made only for rules that read it (a random UUID costs)
	}
	opts := &sql.Options{Account: e.opts.Account, Data: e.opts.Data, Now: e.opts.Now}
	ev := c.stmt.Evaluate(&m.Message, opts)
	rec := Evaluation{Time: e.opts.Now().UTC(), Topic: m.OriginalTopic, ClientID: m.ClientID, Matched: ev.Matched, Actions: []ActionOutcome{}}
	if !ev.Matched {
		e.record(c.rule.Name, rec)
		return
	}
	payload := ev.Payload()
	rec.Result = resultJSON(payload)
	x := &execution{engine: e, ev: ev, payload: payload, msg: m, rule: c.rule.Name}
	outcomes := make([]ActionOutcome, len(c.actions))
	var wg sync.WaitGroup
	for i, a := range c.actions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outcomes[i] = e.perform(a, x)
		}()
	}
	wg.Wait()
	var failures []failure
	for i, o := range outcomes {
		if !o.OK {
			failures = append(failures, failure{FailedAction: c.actions[i].shape(), FailedResource: o.Target, ErrorMessage: o.Error})
		}
	}
	if len(failures) > 0 && c.errorAction != nil {
		if m.TraceID == "" {
			m.TraceID = uuid.NewString()
		}
		body, _ := json.Marshal(map[string]any{
			"ruleName":              c.rule.Name,
			"topic":                 m.OriginalTopic,
			"cloudwatchTraceId":     m.TraceID,
			"clientId":              clientIDOrNA(m.ClientID),
			"base64OriginalPayload": b64(m.Payload),
			"failures":              failures,
		})
		ex := &execution{engine: e, ev: ev, payload: body, msg: m, rule: c.rule.Name, isError: true}
		o := e.perform(c.errorAction, ex)
		o.Action = "errorAction:" + o.Action
		outcomes = append(outcomes, o)
	}
	rec.Actions = outcomes
	e.record(c.rule.Name, rec)
}

// perform runs one action with its timeout, logs and returns the outcome.
func (e *Engine) perform(a action, x *execution) ActionOutcome {
	ctx, cancel := context.WithTimeout(e.ctx, e.opts.ActionTimeout)
	defer cancel()
	o := ActionOutcome{Action: a.name(), Target: a.target(x)}
	err := a.run(ctx, x)
	if err != nil {
		o.Error = err.Error()
		e.log.Warn("rule action failed", "rule", x.rule, "action", o.Action, "target", o.Target, "error_action", x.isError, "error", err)
	} else {
		o.OK = true
		e.log.Info("rule action done", "rule", x.rule, "action", o.Action, "target", o.Target, "error_action", x.isError)
	}
	return o
}

func clientIDOrNA(id string) string {
	if id == "" {
		return "n/a"
	}
	return id
}
