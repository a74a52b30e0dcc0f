package hooks

import (
	"log/slog"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/iotcore-local/iotcore-local/auth"
	"github.com/iotcore-local/iotcore-local/jobs"
)

// JobsOptions configure the Jobs router.
type JobsOptions struct {
	Service    *jobs.Service
	Server     *mqtt.Server // publishes notify, notify-next and events through its inline client
	Authorizer *Authorizer  // decides iot:Receive on the direct answers
	Logger     *slog.Logger
}

// Jobs gives the jobs service its MQTT face. It is not a Mochi hook of its own: the
// ShadowService hook, which already looks at every publish under $aws/things/, hands it the
// requests published under $aws/things/{thing}/jobs/, so jobs add nothing to the message path
// of other topics.
//
// The request is an ordinary publish (authorised by iot:Publish like any other, seen by other
// subscribers of its topic). The answer (…/accepted or …/rejected) goes to the requester's
// connection only, whether or not it subscribed, as AWS delivers it; it is sent only if the
// requester's policy allows iot:Receive on the answer topic. notify, notify-next and events are
// ordinary publications to subscribers.
type Jobs struct {
	opts JobsOptions
	log  *slog.Logger
}

// NewJobs returns the router.
func NewJobs(opts JobsOptions) *Jobs {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Jobs{opts: opts, log: log}
}

// route handles pk if it is a jobs request and reports whether it was one.
func (h *Jobs) route(cl *mqtt.Client, pk packets.Packet) bool {
	if h == nil || !jobs.IsRequestTopic(pk.TopicName) {
		return false
	}
	reply, pubs := h.opts.Service.HandleMQTT(pk.TopicName, pk.Payload)
	if reply.Code != "" {
		h.log.Info("jobs request rejected", "client", cl.ID, "topic", pk.TopicName, "code", reply.Code)
	}
	h.answer(cl, reply)
	PublishJobs(h.opts.Server, h.log, pubs)
	return true
}

// answer writes the reply to the requester's connection.
func (h *Jobs) answer(cl *mqtt.Client, r jobs.Reply) {
	if cl == nil || cl.Net.Inline || cl.Closed() {
		return // a publish from the HTTP API: nobody to answer
	}
	if h.opts.Authorizer != nil && !h.opts.Authorizer.mayReceive(cl, r.Topic) {
		h.log.Info("jobs answer not delivered: iot:Receive denied", "client", cl.ID, "topic", r.Topic)
		return
	}
	err := cl.WritePacket(packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish},
		TopicName:   r.Topic,
		Payload:     r.Payload,
	})
	if err != nil {
		h.log.Debug("jobs answer not written", "client", cl.ID, "topic", r.Topic, "error", err)
	}
}

// PublishJobs sends the jobs service's notifications and events through the broker (QoS 1, so
// subscribers get them at up to the QoS they asked for).
func PublishJobs(server *mqtt.Server, log *slog.Logger, pubs []jobs.Publication) {
	for _, p := range pubs {
		if err := server.Publish(p.Topic, p.Payload, false, 1); err != nil {
			log.Warn("publish jobs message", "topic", p.Topic, "error", err)
		}
	}
}

// mayReceive decides iot:Receive on topic for the connection, without the subscription rules of
// ordinary deliveries (a direct answer needs no subscription).
func (a *Authorizer) mayReceive(cl *mqtt.Client, topic string) bool {
	s := a.sessions.current(cl)
	if s == nil {
		return false
	}
	c := s.policy.Load()
	return c != nil && c.Decide(auth.ActionReceive, "topic", topic).Allowed
}
