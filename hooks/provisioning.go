package hooks

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/iotcore-local/iotcore-local/listener"
	"github.com/iotcore-local/iotcore-local/provisioning"
	"github.com/iotcore-local/iotcore-local/registry"
)

// ProvisioningOptions configure the ProvisioningService hook.
type ProvisioningOptions struct {
	Service *provisioning.Service
	Server  *mqtt.Server
	// Receive decides iot:Receive of an answer for the requesting connection (the
	// Authorizer's OnACLCheck with write false).
	Receive func(cl *mqtt.Client, topic string) bool
	Logger  *slog.Logger
}

// ProvisioningService serves the fleet provisioning MQTT API:
// $aws/certificates/create/{json,cbor}, $aws/certificates/create-from-csr/{json,cbor} and
// $aws/provisioning-templates/NAME/provision/{json,cbor}. It is not a Mochi hook of its own: the
// ShadowService hook hands it the publishes that are not shadow or jobs requests, so that it adds
// no hook to the message path. The request is an ordinary publish (authorized by iot:Publish);
// the answer goes to the requesting connection only, on its subscription to the /accepted or
// /rejected topic, checked by iot:Receive — the accepted answer of CreateKeysAndCertificate
// carries a private key, and the identity clients pair answers with requests by topic alone.
type ProvisioningService struct {
	opts ProvisioningOptions
	log  *slog.Logger
}

// NewProvisioningService returns the router; give it to ShadowOptions.Provisioning.
func NewProvisioningService(opts ProvisioningOptions) *ProvisioningService {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &ProvisioningService{opts: opts, log: log}
}

// route serves a provisioning request after Mochi has acknowledged it (the device gets its
// PUBACK before the answer), and reports whether pk was one. It runs on the requester's read
// loop, so one connection's requests are answered in order.
func (h *ProvisioningService) route(cl *mqtt.Client, pk packets.Packet) bool {
	if h == nil || cl.Net.Inline || !strings.HasPrefix(pk.TopicName, "$aws/") {
		return false
	}
	if _, ok := provisioning.ParseTopic(pk.TopicName); !ok {
		return false
	}
	caller := provisioning.Caller{ClientID: cl.ID}
	if conn, ok := cl.Net.Conn.(*listener.Conn); ok {
		if st := conn.ConnectionState(); len(st.PeerCertificates) > 0 {
			caller.CertificateID = registry.CertificateID(st.PeerCertificates[0].Raw)
		}
	}
	ans, ok := h.opts.Service.Handle(context.Background(), pk.TopicName, pk.Payload, caller)
	if !ok {
		return false
	}
	if ans.Err != nil {
		h.log.Info("provisioning request rejected", "client", cl.ID, "topic", pk.TopicName, "status", ans.Err.StatusCode, "code", ans.Err.ErrorCode, "message", ans.Err.ErrorMessage)
	} else {
		h.log.Info("provisioning request accepted", "client", cl.ID, "topic", pk.TopicName)
	}
	h.deliver(cl, ans.Topic, ans.Payload)
	return true
}

// deliver sends an answer to cl alone, through its subscription that matches topic (QoS up to
// 1), if it has one and iot:Receive allows it; otherwise the answer is dropped, as AWS drops
// answers nobody subscribed to.
func (h *ProvisioningService) deliver(cl *mqtt.Client, topic string, payload []byte) {
	sub, ok := h.opts.Server.Topics.Subscribers(topic).Subscriptions[cl.ID]
	if !ok {
		h.log.Debug("provisioning answer dropped: the requester has no subscription to it", "client", cl.ID, "topic", topic)
		return
	}
	if h.opts.Receive != nil && !h.opts.Receive(cl, topic) {
		h.log.Info("provisioning answer dropped: iot:Receive denied", "client", cl.ID, "topic", topic)
		return
	}
	out := packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: min(sub.Qos, 1)},
		TopicName:   topic,
		Payload:     payload,
	}
	if len(sub.Identifiers) > 0 {
		for _, id := range sub.Identifiers {
			out.Properties.SubscriptionIdentifier = append(out.Properties.SubscriptionIdentifier, id)
		}
	}
	if out.FixedHeader.Qos > 0 {
		id, err := cl.NextPacketID()
		if err != nil {
			h.log.Warn("provisioning answer dropped: no packet id", "client", cl.ID, "error", err)
			return
		}
		out.PacketID = uint16(id)
		// Accounted as Mochi accounts its own deliveries, so the PUBACK balances it.
		if cl.State.Inflight.Set(out) {
			atomic.AddInt64(&h.opts.Server.Info.Inflight, 1)
			cl.State.Inflight.DecreaseSendQuota()
		}
	}
	if err := cl.WritePacket(out); err != nil {
		h.log.Debug("provisioning answer not written", "client", cl.ID, "topic", topic, "error", err)
	}
}
