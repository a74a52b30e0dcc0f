package hooks

import (
	"log/slog"
	"strings"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/iotcore-local/iotcore-local/shadow"
)

// ShadowOptions configure the ShadowService hook.
type ShadowOptions struct {
	Service *shadow.Service
	Server  *mqtt.Server // publishes the responses through its inline client
	Logger  *slog.Logger
	// Jobs, when set, answers the requests under $aws/things/{thing}/jobs/ (see Jobs).
	Jobs *Jobs
	// Provisioning, when set, answers the fleet provisioning requests under
	// $aws/certificates/ and $aws/provisioning-templates/ (see ProvisioningService).
	Provisioning *ProvisioningService
}

// ShadowService is the Mochi hook that serves the Device Shadow MQTT API: a publish to
// $aws/things/T/shadow[/name/N]/{get,update,delete} is a request, answered on the /accepted,
// /rejected, /delta and /documents topics. The request is an ordinary publish (authorized by
// iot:Publish, seen by other subscribers) and the answers are ordinary deliveries (each checked by
// iot:Receive), as on AWS.
type ShadowService struct {
	mqtt.HookBase
	opts ShadowOptions
	log  *slog.Logger
}

// NewShadowService returns the hook.
func NewShadowService(opts ShadowOptions) *ShadowService {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &ShadowService{opts: opts, log: log}
}

// ID names the hook.
func (h *ShadowService) ID() string { return "iotcore-shadow" }

// shadowEvents are the events the ShadowService handles.
var shadowEvents = newEventSet(mqtt.OnPublished)

// Provides reports whether the hook handles event b.
func (h *ShadowService) Provides(b byte) bool { return shadowEvents.has(b) }

// OnPublished answers a shadow request after Mochi has acknowledged and routed it, so the
// requester gets its PUBACK before the answer, as on AWS.
func (h *ShadowService) OnPublished(cl *mqtt.Client, pk packets.Packet) {
	// Requests may come from devices or from the HTTP API's Publish; the service's own answers are
	// never on request topics, so they cannot loop.
	if !strings.HasPrefix(pk.TopicName, "$aws/") {
		return // shadow, jobs and provisioning topics all start with $aws/; telemetry stops here
	}
	key, op, ok := shadow.ParseTopic(pk.TopicName)
	if !ok {
		if !h.opts.Jobs.route(cl, pk) {
			h.opts.Provisioning.route(cl, pk)
		}
		return
	}
	res := h.opts.Service.Handle(key, op, pk.Payload)
	if res.Err != nil {
		h.log.Info("shadow request rejected", "client", cl.ID, "thing", key.Thing, "shadow", key.Name, "operation", op, "code", res.Err.Code, "message", res.Err.Message)
	}
	Publish(h.opts.Server, h.log, res.Publications)
}

// Publish sends shadow publications through the broker's inline client (QoS 1, so subscribers get
// them at up to the QoS they asked for). The HTTP API uses it for the updates it makes.
func Publish(server *mqtt.Server, log *slog.Logger, pubs []shadow.Publication) {
	for _, p := range pubs {
		if err := server.Publish(p.Topic, p.Payload, false, 1); err != nil {
			log.Warn("publish shadow response", "topic", p.Topic, "error", err)
		}
	}
}
