package api_test

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iotcore-local/iotcore-local/registry"
)

func TestEventConfigurationsAPI(t *testing.T) {
	e := newEnv(t)
	var (
		mu   sync.Mutex
		pubs []registry.Publication
	)
	t.Cleanup(e.reg.Watch(func(ev registry.Event) {
		mu.Lock()
		pubs = append(pubs, ev.Publications...)
		mu.Unlock()
	}))
	taken := func() []registry.Publication {
		mu.Lock()
		defer mu.Unlock()
		out := pubs
		pubs = nil
		return out
	}

	before, err := e.iot.DescribeEventConfigurations(e.ctx, &iot.DescribeEventConfigurationsInput{})
	must(t, err)
	if len(before.EventConfigurations) != 11 {
		t.Fatalf("%d event types, want the 11 of AWS's enum: %+v", len(before.EventConfigurations), before.EventConfigurations)
	}
	for name, c := range before.EventConfigurations {
		if c.Enabled {
			t.Errorf("%s is on by default", name)
		}
	}
	if before.CreationDate != nil {
		t.Errorf("creationDate %v before any update", before.CreationDate)
	}

	_, err = e.iot.CreateThing(e.ctx, &iot.CreateThingInput{ThingName: aws.String("quiet")})
	must(t, err)
	if got := taken(); len(got) != 0 {
		t.Fatalf("published with THING off: %+v", got)
	}

	_, err = e.iot.UpdateEventConfigurations(e.ctx, &iot.UpdateEventConfigurationsInput{EventConfigurations: map[string]types.Configuration{
		"THING": {Enabled: true}, "THING_GROUP": {Enabled: true}, "POLICY": {Enabled: false},
	}})
	must(t, err)
	after, err := e.iot.DescribeEventConfigurations(e.ctx, &iot.DescribeEventConfigurationsInput{})
	must(t, err)
	if !after.EventConfigurations["THING"].Enabled || !after.EventConfigurations["THING_GROUP"].Enabled || after.EventConfigurations["JOB"].Enabled ||
		after.CreationDate == nil || after.LastModifiedDate == nil {
		t.Fatalf("after update %+v", after)
	}

	_, err = e.iot.UpdateEventConfigurations(e.ctx, &iot.UpdateEventConfigurationsInput{EventConfigurations: map[string]types.Configuration{"THINGS": {Enabled: true}}})
	wantErr[*types.InvalidRequestException](t, err, http.StatusBadRequest)

	created, err := e.iot.CreateThing(e.ctx, &iot.CreateThingInput{ThingName: aws.String("loud"),
		AttributePayload: &types.AttributePayload{Attributes: map[string]string{"k": "v"}}})
	must(t, err)
	got := taken()
	if len(got) != 1 || got[0].Topic != "$aws/events/thing/loud/created" {
		t.Fatalf("publications %+v", got)
	}
	var msg map[string]any
	must(t, json.Unmarshal(got[0].Payload, &msg))
	if msg["eventType"] != "THING_EVENT" || msg["operation"] != "CREATED" || msg["thingId"] != aws.ToString(created.ThingId) ||
		msg["accountId"] != testAccount || msg["versionNumber"] != 1.0 || msg["thingTypeName"] != nil {
		t.Fatalf("message %s", got[0].Payload)
	}

	// The raw answer carries the dates as numbers and the switches with a capital E.
	resp, body := e.do(t, http.MethodGet, "/event-configurations", "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d %s", resp.StatusCode, body)
	}
	var raw struct {
		EventConfigurations map[string]map[string]any `json:"eventConfigurations"`
		CreationDate        any                       `json:"creationDate"`
	}
	must(t, json.Unmarshal(body, &raw))
	if raw.EventConfigurations["THING"]["Enabled"] != true {
		t.Errorf("raw %s", body)
	}
	if _, ok := raw.CreationDate.(float64); !ok {
		t.Errorf("creationDate is not a number: %s", body)
	}
}
