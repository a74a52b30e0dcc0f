package hooks

import (
	"log/slog"
	"net"
	"strings"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/iotcore-local/iotcore-local/rules"
	"github.com/iotcore-local/iotcore-local/rules/sql"
)

// RulesOptions configure the Rules hook.
type RulesOptions struct {
	Engine     *rules.Engine
	Principals interface {
		PrincipalOf(cl *mqtt.Client) (Principal, bool)
	}
	Logger *slog.Logger
}

// Rules is the Mochi hook that hands every routed PUBLISH to the rules engine, and Basic
// Ingest ($aws/rules/<rule>/...) publishes to their rule only, never to subscribers.
//
// It provides its events only while a rule is enabled (Provides reads the engine's atomic
// flag), so with no rule the broker does not even call it. It never waits: the engine queues
// the message, or drops and counts it when its queue is full.
type Rules struct {
	mqtt.HookBase
	opts RulesOptions
	log  *slog.Logger
}

// NewRules returns the hook.
func NewRules(opts RulesOptions) *Rules {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Rules{opts: opts, log: log}
}

// ID names the hook.
func (h *Rules) ID() string { return "iotcore-rules" }

// Provides reports the hook's events, only while a rule is enabled.
func (h *Rules) Provides(b byte) bool {
	return (b == mqtt.OnPublish || b == mqtt.OnPublished) && h.opts.Engine.Active()
}

// mayProvide reports the events the hook may provide at some point (see Provides and Group).
func (h *Rules) mayProvide(b byte) bool { return b == mqtt.OnPublish || b == mqtt.OnPublished }

const ingestPrefix = "$aws/rules/"

// OnPublish takes Basic Ingest messages: acknowledged (QoS 1 PUBACK means "handed to the
// rules engine"), given to their rule, never routed or retained.
func (h *Rules) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if !strings.HasPrefix(pk.TopicName, ingestPrefix) {
		return pk, nil
	}
	if cl.ID != rules.PublisherClientID { // the engine feeds its own republications back
		rule, rest, ok := rules.ParseIngest(pk.TopicName)
		if ok {
			m := h.message(cl, pk)
			m.IngestRule, m.Topic = rule, rest
			h.opts.Engine.Submit(m)
		}
	}
	return pk, packets.CodeSuccessIgnore
}

// OnPublished gives every other routed message to the engine.
func (h *Rules) OnPublished(cl *mqtt.Client, pk packets.Packet) {
	if pk.Ignore || cl.ID == rules.PublisherClientID || strings.HasPrefix(pk.TopicName, ingestPrefix) {
		return
	}
	h.opts.Engine.Submit(h.message(cl, pk))
}

// message copies what the engine needs out of the packet.
func (h *Rules) message(cl *mqtt.Client, pk packets.Packet) rules.Message {
	m := rules.Message{Message: sql.Message{
		Topic:           pk.TopicName,
		Payload:         append([]byte(nil), pk.Payload...),
		Received:        time.Now(),
		ContentType:     pk.Properties.ContentType,
		ResponseTopic:   pk.Properties.ResponseTopic,
		CorrelationData: pk.Properties.CorrelationData,
	}, OriginalTopic: pk.TopicName}
	if pk.Properties.PayloadFormatFlag {
		f := pk.Properties.PayloadFormat
		m.PayloadFormat = &f
	}
	for _, u := range pk.Properties.User {
		m.UserProperties = append(m.UserProperties, [2]string{u.Key, u.Val})
	}
	if !cl.Net.Inline {
		m.ClientID, m.MQTT = cl.ID, true
		if host, _, err := net.SplitHostPort(cl.Net.Remote); err == nil {
			m.SourceIP = host
		}
		if h.opts.Principals != nil {
			if p, ok := h.opts.Principals.PrincipalOf(cl); ok {
				m.Principal = p.CertificateID
			}
		}
	}
	return m
}
