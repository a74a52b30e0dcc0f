package registry

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/google/uuid"
)

func TestEventConfigurations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "registry.db")
	r, _ := openTestAt(t, path)
	c, err := r.DescribeEventConfigurations()
	wantKind(t, err, nil)
	if len(c.Enabled) != len(EventTypes) || !c.CreationDate.IsZero() {
		t.Fatalf("new configuration %+v", c)
	}
	for _, typ := range EventTypes {
		if c.Enabled[typ] {
			t.Fatalf("%s is on in a new registry", typ)
		}
	}
	tests := []struct {
		name    string
		changes map[EventType]bool
		kind    error
		on      []EventType
	}{
		{"switch two on", map[EventType]bool{EventThing: true, EventPolicy: true}, nil, []EventType{EventThing, EventPolicy}},
		{"switch one off, another on", map[EventType]bool{EventPolicy: false, EventThingGroup: true}, nil, []EventType{EventThing, EventThingGroup}},
		{"nothing", map[EventType]bool{}, nil, []EventType{EventThing, EventThingGroup}},
		{"unknown type", map[EventType]bool{"THINGS": true, EventJob: true}, ErrInvalidRequest, []EventType{EventThing, EventThingGroup}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantKind(t, r.UpdateEventConfigurations(tc.changes), tc.kind)
			c, err := r.DescribeEventConfigurations()
			wantKind(t, err, nil)
			for _, typ := range EventTypes {
				want := false
				for _, on := range tc.on {
					want = want || on == typ
				}
				if c.Enabled[typ] != want {
					t.Fatalf("%s = %t, want %t", typ, c.Enabled[typ], want)
				}
			}
		})
	}
	c, err = r.DescribeEventConfigurations()
	wantKind(t, err, nil)
	if c.CreationDate.IsZero() || !c.LastModifiedDate.After(c.CreationDate) {
		t.Fatalf("dates %v %v", c.CreationDate, c.LastModifiedDate)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r2, _ := openTestAt(t, path)
	c2, err := r2.DescribeEventConfigurations()
	wantKind(t, err, nil)
	if !reflect.DeepEqual(c2, c) {
		t.Fatalf("after reopen %+v, want %+v", c2, c)
	}
}

// publications collects the publications of RegistryChanged events.
func publications(t *testing.T, events []Event) []Publication {
	t.Helper()
	var out []Publication
	for _, e := range events {
		if e.Kind != RegistryChanged {
			continue
		}
		if len(e.Publications) == 0 {
			t.Fatalf("RegistryChanged without publications: %+v", e)
		}
		out = append(out, e.Publications...)
	}
	return out
}

// payload decodes a message, checks its eventId (a UUID) and timestamp (epoch milliseconds), and
// returns the rest.
func payload(t *testing.T, p Publication) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(p.Payload, &m); err != nil {
		t.Fatalf("%s: %v", p.Topic, err)
	}
	id, _ := m["eventId"].(string)
	if _, err := uuid.Parse(id); err != nil {
		t.Errorf("%s: eventId %v", p.Topic, m["eventId"])
	}
	if ts, ok := m["timestamp"].(float64); !ok || ts < 1e12 {
		t.Errorf("%s: timestamp %v is not epoch milliseconds", p.Topic, m["timestamp"])
	}
	delete(m, "eventId")
	delete(m, "timestamp")
	return m
}

// jsonMap decodes an expected payload written as JSON.
func jsonMap(t *testing.T, format string, args ...any) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(fmt.Sprintf(format, args...)), &m); err != nil {
		t.Fatalf("expected payload: %v", err)
	}
	return m
}

// TestRegistryEventMessages checks the topic and every member of each registry event AWS
// documents, through a life of things, types and groups.
func TestRegistryEventMessages(t *testing.T) {
	r := openTest(t)
	rec := watch(t, r)
	const acct = testAccount

	// Everything off: nothing is published.
	mustType(t, r, "quiet")
	mustThing(t, r, "quiet-thing")
	if pubs := publications(t, rec.take()); len(pubs) != 0 {
		t.Fatalf("published with events off: %+v", pubs)
	}
	wantKind(t, r.UpdateEventConfigurations(map[EventType]bool{
		EventThing: true, EventThingType: true, EventThingTypeAssociation: true,
		EventThingGroup: true, EventThingGroupMembership: true, EventThingGroupHierarchy: true,
	}), nil)

	type want struct {
		topic string
		body  map[string]any
	}
	check := func(step string, wants ...want) {
		t.Helper()
		pubs := publications(t, rec.take())
		if len(pubs) != len(wants) {
			t.Fatalf("%s: %d messages, want %d: %+v", step, len(pubs), len(wants), pubs)
		}
		for i, w := range wants {
			if pubs[i].Topic != w.topic {
				t.Errorf("%s: topic %q, want %q", step, pubs[i].Topic, w.topic)
			}
			if got := payload(t, pubs[i]); !reflect.DeepEqual(got, w.body) {
				t.Errorf("%s: %s\n got %v\nwant %v", step, w.topic, got, w.body)
			}
		}
	}

	lamp, err := r.CreateThingType(CreateThingTypeInput{Name: "lamp", Description: "a lamp", SearchableAttributes: []string{"watt"}})
	wantKind(t, err, nil)
	check("CreateThingType", want{"$aws/events/thingType/lamp/created", jsonMap(t,
		`{"eventType":"THING_TYPE_EVENT","operation":"CREATED","accountId":%q,"thingTypeId":%q,"thingTypeName":"lamp",
		  "isDeprecated":false,"deprecationDate":null,"searchableAttributes":["watt"],"description":"a lamp"}`, acct, lamp.ID)})

	t1, err := r.CreateThing(CreateThingInput{Name: "t1", TypeName: "lamp", Attributes: map[string]string{"a": "1"}})
	wantKind(t, err, nil)
	check("CreateThing",
		want{"$aws/events/thing/t1/created", jsonMap(t,
			`{"eventType":"THING_EVENT","operation":"CREATED","accountId":%q,"thingId":%q,"thingName":"t1","versionNumber":1,
			  "thingTypeName":"lamp","attributes":{"a":"1"}}`, acct, t1.ID)},
		want{"$aws/events/thingTypeAssociation/thing/t1/lamp", jsonMap(t,
			`{"eventType":"THING_TYPE_ASSOCIATION_EVENT","operation":"CREATED","thingId":%q,"thingName":"t1","thingTypeName":"lamp"}`, t1.ID)})
	_, err = r.CreateThing(CreateThingInput{Name: "t1", TypeName: "lamp", Attributes: map[string]string{"a": "1"}})
	wantKind(t, err, nil)
	check("idempotent CreateThing")

	_, err = r.UpdateThing(UpdateThingInput{Name: "t1", RemoveThingType: true})
	wantKind(t, err, nil)
	check("UpdateThing",
		want{"$aws/events/thing/t1/updated", jsonMap(t,
			`{"eventType":"THING_EVENT","operation":"UPDATED","accountId":%q,"thingId":%q,"thingName":"t1","versionNumber":2,
			  "thingTypeName":null,"attributes":{"a":"1"}}`, acct, t1.ID)},
		want{"$aws/events/thingTypeAssociation/thing/t1/lamp", jsonMap(t,
			`{"eventType":"THING_TYPE_ASSOCIATION_EVENT","operation":"DELETED","thingId":%q,"thingName":"t1","thingTypeName":"lamp"}`, t1.ID)})

	root := mustGroup(t, r, "root", "")
	check("CreateThingGroup root", want{"$aws/events/thingGroup/root/created", jsonMap(t,
		`{"eventType":"THING_GROUP_EVENT","operation":"CREATED","accountId":%q,"thingGroupId":%q,"thingGroupName":"root",
		  "versionNumber":1,"parentGroupName":null,"parentGroupId":null,"description":null,"rootToParentThingGroups":null,"attributes":{}}`,
		acct, root.ID)})
	child, err := r.CreateThingGroup(CreateThingGroupInput{Name: "child", ParentName: "root", Description: "kid", Attributes: map[string]string{"k": "v"}})
	wantKind(t, err, nil)
	childBody := func(op string, version int) map[string]any {
		return jsonMap(t, `{"eventType":"THING_GROUP_EVENT","operation":%q,"accountId":%q,"thingGroupId":%q,"thingGroupName":"child",
		  "versionNumber":%d,"parentGroupName":"root","parentGroupId":%q,"description":"kid",
		  "rootToParentThingGroups":[{"groupName":"root","groupArn":%q}],"attributes":{"k":"v"}}`,
			op, acct, child.ID, version, root.ID, root.ARN)
	}
	hierarchy := func(op string) map[string]any {
		return jsonMap(t, `{"eventType":"THING_GROUP_HIERARCHY_EVENT","operation":%q,"accountId":%q,"thingGroupId":%q,
		  "thingGroupName":"root","childGroupId":%q,"childGroupName":"child"}`, op, acct, root.ID, child.ID)
	}
	check("CreateThingGroup child",
		want{"$aws/events/thingGroup/child/created", childBody("CREATED", 1)},
		want{"$aws/events/thingGroupHierarchy/thingGroup/root/childThingGroup/child/added", hierarchy("ADDED")})

	wantKind(t, r.AddThingToThingGroup("child", "t1"), nil)
	pubs := rec.take()
	if len(pubs) != 1 || len(pubs[0].Publications) != 1 {
		t.Fatalf("AddThingToThingGroup events %+v", pubs)
	}
	var added map[string]any
	if err := json.Unmarshal(pubs[0].Publications[0].Payload, &added); err != nil {
		t.Fatal(err)
	}
	membershipID, _ := added["membershipId"].(string)
	if _, err := uuid.Parse(membershipID); err != nil {
		t.Fatalf("membershipId %v", added["membershipId"])
	}
	membership := func(op string) map[string]any {
		return jsonMap(t, `{"eventType":"THING_GROUP_MEMBERSHIP_EVENT","operation":%q,"accountId":%q,"groupArn":%q,"groupId":%q,
		  "thingArn":%q,"thingId":%q,"membershipId":%q}`, op, acct, child.ARN, child.ID, t1.ARN, t1.ID, membershipID)
	}
	if got := payload(t, pubs[0].Publications[0]); pubs[0].Publications[0].Topic != "$aws/events/thingGroupMembership/thingGroup/child/thing/t1/added" ||
		!reflect.DeepEqual(got, membership("ADDED")) {
		t.Fatalf("membership message %s %v", pubs[0].Publications[0].Topic, got)
	}

	_, err = r.UpdateThingGroup(UpdateThingGroupInput{Name: "child"})
	wantKind(t, err, nil)
	check("UpdateThingGroup", want{"$aws/events/thingGroup/child/updated", childBody("UPDATED", 2)})

	wantKind(t, r.DeprecateThingType("lamp", false), nil)
	dep, err := r.DescribeThingType("lamp")
	wantKind(t, err, nil)
	check("DeprecateThingType", want{"$aws/events/thingType/lamp/updated", jsonMap(t,
		`{"eventType":"THING_TYPE_EVENT","operation":"UPDATED","accountId":%q,"thingTypeId":%q,"thingTypeName":"lamp",
		  "isDeprecated":true,"deprecationDate":%d,"searchableAttributes":["watt"],"description":"a lamp"}`,
		acct, lamp.ID, dep.DeprecationDate.UnixMilli())})

	wantKind(t, r.DeleteThing("t1", nil), nil)
	check("DeleteThing",
		want{"$aws/events/thingGroupMembership/thingGroup/child/thing/t1/removed", membership("REMOVED")},
		want{"$aws/events/thing/t1/deleted", jsonMap(t,
			`{"eventType":"THING_EVENT","operation":"DELETED","accountId":%q,"thingId":%q,"thingName":"t1","versionNumber":2,
			  "thingTypeName":null,"attributes":{"a":"1"}}`, acct, t1.ID)})

	wantKind(t, r.DeleteThingGroup("child", nil), nil)
	check("DeleteThingGroup",
		want{"$aws/events/thingGroup/child/deleted", childBody("DELETED", 2)},
		want{"$aws/events/thingGroupHierarchy/thingGroup/root/childThingGroup/child/removed", hierarchy("REMOVED")})

	wantKind(t, r.DeleteThingType("lamp"), nil)
	check("DeleteThingType", want{"$aws/events/thingType/lamp/deleted", jsonMap(t,
		`{"eventType":"THING_TYPE_EVENT","operation":"DELETED","accountId":%q,"thingTypeId":%q,"thingTypeName":"lamp",
		  "isDeprecated":true,"deprecationDate":%d,"searchableAttributes":["watt"],"description":"a lamp"}`,
		acct, lamp.ID, dep.DeprecationDate.UnixMilli())})

	// Switching a type off stops its messages only.
	wantKind(t, r.UpdateEventConfigurations(map[EventType]bool{EventThingTypeAssociation: false}), nil)
	mustType(t, r, "fan")
	rec.take()
	t2, err := r.CreateThing(CreateThingInput{Name: "t2", TypeName: "fan"})
	wantKind(t, err, nil)
	check("CreateThing without association events", want{"$aws/events/thing/t2/created", jsonMap(t,
		`{"eventType":"THING_EVENT","operation":"CREATED","accountId":%q,"thingId":%q,"thingName":"t2","versionNumber":1,
		  "thingTypeName":"fan","attributes":{}}`, acct, t2.ID)})
}
