package emulator

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/iotcore-local/iotcore-local/registry"
	"github.com/iotcore-local/iotcore-local/rules"
	"github.com/iotcore-local/iotcore-local/shadow"
)

// openRules opens the rules engine. Its republish actions publish through an inline client of
// the broker, so the broker must exist; its workers stop in Close.
func (e *Emulator) openRules() error {
	pub := &rulesPublisher{server: e.broker}
	pub.client = e.broker.NewClient(nil, "rules", rules.PublisherClientID, true)
	pub.client.Properties.ProtocolVersion = 5
	var err error
	e.rules, err = rules.Open(rules.Options{
		Path:      filepath.Join(e.cfg.DataDir, "rules.db"),
		Region:    e.cfg.Region,
		Account:   e.cfg.Account,
		Logger:    e.log.With("component", "rules"),
		Publisher: pub,
		Functions: e.ruleFunctions(),
		Data:      rulesData{shadows: e.shadows, registry: e.registry},
		APIURL:    e.APIURL,
		Now:       e.cfg.Now,
	})
	if err != nil {
		return fmt.Errorf("open rules engine: %w", err)
	}
	return nil
}

// Rules is the rules engine, for tests and embedding.
func (e *Emulator) Rules() *rules.Engine { return e.rules }

// rulesPublisher publishes republish actions' messages through the broker.
type rulesPublisher struct {
	server *mqtt.Server
	client *mqtt.Client
}

func (p *rulesPublisher) Publish(ctx context.Context, m rules.Publication) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	pk := packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: m.QoS},
		TopicName:   m.Topic,
		Payload:     m.Payload,
		Properties: packets.Properties{
			ContentType:           m.ContentType,
			ResponseTopic:         m.ResponseTopic,
			CorrelationData:       m.CorrelationData,
			MessageExpiryInterval: m.MessageExpiry,
		},
	}
	if m.QoS > 0 {
		pk.PacketID = 1 // inline publications complete at once; the ID is only required
	}
	if m.PayloadFormat != nil {
		pk.Properties.PayloadFormat, pk.Properties.PayloadFormatFlag = *m.PayloadFormat, true
	}
	for _, u := range m.UserProperties {
		pk.Properties.User = append(pk.Properties.User, packets.UserProperty{Key: u[0], Val: u[1]})
	}
	return p.server.InjectPacket(p.client, pk)
}

// rulesData gives the SQL functions get_thing_shadow and get_registry_data our own state.
type rulesData struct {
	shadows  *shadow.Service
	registry *registry.Registry
}

func (d rulesData) ThingShadow(thing, name string) ([]byte, error) {
	res := d.shadows.Get(shadow.Key{Thing: thing, Name: name}, nil)
	if res.Err != nil {
		return nil, fmt.Errorf("shadow of %s: %s", thing, res.Err.Message)
	}
	return res.Body, nil
}

func (d rulesData) RegistryData(api, thing string) ([]byte, error) {
	switch api {
	case "DescribeThing":
		t, err := d.registry.DescribeThing(thing)
		if err != nil {
			return nil, err
		}
		attrs := t.Attributes
		if attrs == nil {
			attrs = map[string]string{}
		}
		return json.Marshal(map[string]any{
			"defaultClientId": t.Name, "thingName": t.Name, "thingId": t.ID, "thingArn": t.ARN,
			"thingTypeName": t.TypeName, "attributes": attrs, "version": t.Version,
		})
	case "ListThingGroupsForThing":
		groups, _, err := d.registry.ListThingGroupsForThing(thing, "", 250)
		if err != nil {
			return nil, err
		}
		if groups == nil {
			groups = []registry.GroupNameAndARN{}
		}
		return json.Marshal(map[string]any{"thingGroups": groups})
	}
	return nil, fmt.Errorf("get_registry_data: %q is not DescribeThing or ListThingGroupsForThing", api)
}
