package registry

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
	"go.etcd.io/bbolt"
)

// EventType is one switch of UpdateEventConfigurations: the AWS IoT EventType enum.
type EventType string

// The event types of AWS IoT's event configurations. All of them can be switched on and off;
// the registry publishes the messages of the registry event types (THING, THING_TYPE,
// THING_TYPE_ASSOCIATION, THING_GROUP, THING_GROUP_MEMBERSHIP, THING_GROUP_HIERARCHY); the jobs
// service reads the JOB and JOB_EXECUTION switches for its own events. AWS documents no topic for
// POLICY, CERTIFICATE and CA_CERTIFICATE, so those switches are stored and reported only.
const (
	EventThing                EventType = "THING"
	EventThingGroup           EventType = "THING_GROUP"
	EventThingType            EventType = "THING_TYPE"
	EventThingGroupMembership EventType = "THING_GROUP_MEMBERSHIP"
	EventThingGroupHierarchy  EventType = "THING_GROUP_HIERARCHY"
	EventThingTypeAssociation EventType = "THING_TYPE_ASSOCIATION"
	EventJob                  EventType = "JOB"
	EventJobExecution         EventType = "JOB_EXECUTION"
	EventPolicy               EventType = "POLICY"
	EventCertificate          EventType = "CERTIFICATE"
	EventCACertificate        EventType = "CA_CERTIFICATE"
)

// EventTypes lists every event type, in the order of the AWS enum.
var EventTypes = []EventType{
	EventThing, EventThingGroup, EventThingType, EventThingGroupMembership, EventThingGroupHierarchy,
	EventThingTypeAssociation, EventJob, EventJobExecution, EventPolicy, EventCertificate, EventCACertificate,
}

// Valid reports whether t is one of AWS's event types.
func (t EventType) Valid() bool { return slices.Contains(EventTypes, t) }

// EventConfigurations is what DescribeEventConfigurations answers: every event type with its
// switch (all off in a new registry, as in a new AWS account), and when the configuration was
// first and last written (zero before the first UpdateEventConfigurations).
type EventConfigurations struct {
	Enabled          map[EventType]bool `json:"enabled"`
	CreationDate     time.Time          `json:"creationDate"`
	LastModifiedDate time.Time          `json:"lastModifiedDate"`
}

var keyEventConfig = []byte("eventConfigurations")

// getEventConfig reads the stored configuration; every type absent from it is off.
func getEventConfig(tx *bbolt.Tx) (EventConfigurations, error) {
	var c EventConfigurations
	if _, err := getJSON(tx.Bucket(bucketMeta), string(keyEventConfig), &c); err != nil {
		return EventConfigurations{}, err
	}
	full := make(map[EventType]bool, len(EventTypes))
	for _, t := range EventTypes {
		full[t] = c.Enabled[t]
	}
	c.Enabled = full
	return c, nil
}

// UpdateEventConfigurations switches the given event types on or off; types not named keep
// their setting. An unknown type is an invalid request and changes nothing.
func (r *Registry) UpdateEventConfigurations(changes map[EventType]bool) error {
	for t := range changes {
		if !t.Valid() {
			return newError(ErrInvalidRequest, "Invalid event type %q: it must be one of %v", t, EventTypes)
		}
	}
	now := r.nowUTC()
	return r.update(func(tx *bbolt.Tx, _ func(Event)) error {
		c, err := getEventConfig(tx)
		if err != nil {
			return err
		}
		maps.Copy(c.Enabled, changes)
		if c.CreationDate.IsZero() {
			c.CreationDate = now
		}
		c.LastModifiedDate = now
		return putJSON(tx.Bucket(bucketMeta), string(keyEventConfig), c)
	})
}

// DescribeEventConfigurations returns every event type's switch.
func (r *Registry) DescribeEventConfigurations() (EventConfigurations, error) {
	var c EventConfigurations
	err := r.view(func(tx *bbolt.Tx) error {
		var err error
		c, err = getEventConfig(tx)
		return err
	})
	return c, err
}

// announce emits a RegistryChanged event with the messages build makes, if the event type is
// switched on. build runs only then, inside the transaction, with the event's time in epoch
// milliseconds.
func (r *Registry) announce(tx *bbolt.Tx, emit func(Event), typ EventType, build func(ms int64) ([]Publication, error)) error {
	c, err := getEventConfig(tx)
	if err != nil {
		return err
	}
	if !c.Enabled[typ] {
		return nil
	}
	pubs, err := build(r.nowUTC().UnixMilli())
	if err != nil {
		return err
	}
	if len(pubs) > 0 {
		emit(Event{Kind: RegistryChanged, Publications: pubs})
	}
	return nil
}

// publication encodes one event message.
func publication(topic string, payload any) (Publication, error) {
	data, err := json.Marshal(payload)
	if err != nil {
		return Publication{}, fmt.Errorf("registry: encode the event message for %s: %w", topic, err)
	}
	return Publication{Topic: topic, Payload: data}, nil
}

// The operations of the registry event messages.
const (
	opCreated = "CREATED"
	opUpdated = "UPDATED"
	opDeleted = "DELETED"
	opAdded   = "ADDED"
	opRemoved = "REMOVED"
)

// lowerOp is the topic suffix of an operation: created, updated, deleted, added, removed.
func lowerOp(op string) string {
	switch op {
	case opCreated:
		return "created"
	case opUpdated:
		return "updated"
	case opDeleted:
		return "deleted"
	case opAdded:
		return "added"
	}
	return "removed"
}

// optString is a JSON string that is null when empty, as AWS writes absent values in events.
func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// attrsOrEmpty makes absent attributes {} rather than null.
func attrsOrEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// thingEvent is the payload of $aws/events/thing/<thingName>/<operation>.
type thingEvent struct {
	EventType     string            `json:"eventType"`
	EventID       string            `json:"eventId"`
	Timestamp     int64             `json:"timestamp"`
	Operation     string            `json:"operation"`
	AccountID     string            `json:"accountId"`
	ThingID       string            `json:"thingId"`
	ThingName     string            `json:"thingName"`
	VersionNumber int64             `json:"versionNumber"`
	ThingTypeName *string           `json:"thingTypeName"`
	Attributes    map[string]string `json:"attributes"`
}

// announceThing publishes a THING event for t (its state after the operation, or at deletion).
func (r *Registry) announceThing(tx *bbolt.Tx, emit func(Event), op string, t Thing) error {
	emit(Event{Kind: ThingChanged, ThingName: t.Name})
	return r.announce(tx, emit, EventThing, func(ms int64) ([]Publication, error) {
		p, err := publication("$aws/events/thing/"+t.Name+"/"+lowerOp(op), thingEvent{
			EventType: "THING_EVENT", EventID: uuid.NewString(), Timestamp: ms, Operation: op,
			AccountID: r.acct, ThingID: t.ID, ThingName: t.Name, VersionNumber: t.Version,
			ThingTypeName: optString(t.TypeName), Attributes: attrsOrEmpty(t.Attributes),
		})
		return []Publication{p}, err
	})
}

// thingTypeAssociationEvent is the payload of
// $aws/events/thingTypeAssociation/thing/<thingName>/<thingTypeName>.
type thingTypeAssociationEvent struct {
	EventID       string `json:"eventId"`
	EventType     string `json:"eventType"`
	Operation     string `json:"operation"`
	ThingID       string `json:"thingId"`
	ThingName     string `json:"thingName"`
	ThingTypeName string `json:"thingTypeName"`
	Timestamp     int64  `json:"timestamp"`
}

// announceTypeAssociation publishes a THING_TYPE_ASSOCIATION event: op is CREATED when t became
// of type typeName, DELETED when it stopped being.
func (r *Registry) announceTypeAssociation(tx *bbolt.Tx, emit func(Event), op string, t Thing, typeName string) error {
	return r.announce(tx, emit, EventThingTypeAssociation, func(ms int64) ([]Publication, error) {
		p, err := publication("$aws/events/thingTypeAssociation/thing/"+t.Name+"/"+typeName, thingTypeAssociationEvent{
			EventID: uuid.NewString(), EventType: "THING_TYPE_ASSOCIATION_EVENT", Operation: op,
			ThingID: t.ID, ThingName: t.Name, ThingTypeName: typeName, Timestamp: ms,
		})
		return []Publication{p}, err
	})
}

// thingTypeEvent is the payload of $aws/events/thingType/<thingTypeName>/<operation>.
type thingTypeEvent struct {
	EventType            string   `json:"eventType"`
	EventID              string   `json:"eventId"`
	Timestamp            int64    `json:"timestamp"`
	Operation            string   `json:"operation"`
	AccountID            string   `json:"accountId"`
	ThingTypeID          string   `json:"thingTypeId"`
	ThingTypeName        string   `json:"thingTypeName"`
	IsDeprecated         bool     `json:"isDeprecated"`
	DeprecationDate      *int64   `json:"deprecationDate"`
	SearchableAttributes []string `json:"searchableAttributes"`
	Description          *string  `json:"description"`
}

// announceThingType publishes a THING_TYPE event; deprecating and undeprecating are UPDATED.
func (r *Registry) announceThingType(tx *bbolt.Tx, emit func(Event), op string, tt ThingType) error {
	return r.announce(tx, emit, EventThingType, func(ms int64) ([]Publication, error) {
		ev := thingTypeEvent{
			EventType: "THING_TYPE_EVENT", EventID: uuid.NewString(), Timestamp: ms, Operation: op,
			AccountID: r.acct, ThingTypeID: tt.ID, ThingTypeName: tt.Name, IsDeprecated: tt.Deprecated,
			SearchableAttributes: tt.SearchableAttributes, Description: optString(tt.Description),
		}
		if ev.SearchableAttributes == nil {
			ev.SearchableAttributes = []string{}
		}
		if tt.Deprecated {
			d := tt.DeprecationDate.UnixMilli()
			ev.DeprecationDate = &d
		}
		p, err := publication("$aws/events/thingType/"+tt.Name+"/"+lowerOp(op), ev)
		return []Publication{p}, err
	})
}

// GroupNameAndARN names a thing group, as rootToParentThingGroups lists them.
type GroupNameAndARN struct {
	GroupName string `json:"groupName"`
	GroupARN  string `json:"groupArn"`
}

// thingGroupEvent is the payload of $aws/events/thingGroup/<groupName>/<operation>.
type thingGroupEvent struct {
	EventType               string            `json:"eventType"`
	EventID                 string            `json:"eventId"`
	Timestamp               int64             `json:"timestamp"`
	Operation               string            `json:"operation"`
	AccountID               string            `json:"accountId"`
	ThingGroupID            string            `json:"thingGroupId"`
	ThingGroupName          string            `json:"thingGroupName"`
	VersionNumber           int64             `json:"versionNumber"`
	ParentGroupName         *string           `json:"parentGroupName"`
	ParentGroupID           *string           `json:"parentGroupId"`
	Description             *string           `json:"description"`
	RootToParentThingGroups []GroupNameAndARN `json:"rootToParentThingGroups"`
	Attributes              map[string]string `json:"attributes"`
}

// announceThingGroup publishes a THING_GROUP event for g, whose ancestors (root first) are given.
func (r *Registry) announceThingGroup(tx *bbolt.Tx, emit func(Event), op string, g ThingGroup, ancestors []ThingGroup) error {
	return r.announce(tx, emit, EventThingGroup, func(ms int64) ([]Publication, error) {
		ev := thingGroupEvent{
			EventType: "THING_GROUP_EVENT", EventID: uuid.NewString(), Timestamp: ms, Operation: op,
			AccountID: r.acct, ThingGroupID: g.ID, ThingGroupName: g.Name, VersionNumber: g.Version,
			Description: optString(g.Description), Attributes: attrsOrEmpty(g.Attributes),
		}
		if n := len(ancestors); n > 0 {
			ev.ParentGroupName, ev.ParentGroupID = &ancestors[n-1].Name, &ancestors[n-1].ID
			for _, a := range ancestors {
				ev.RootToParentThingGroups = append(ev.RootToParentThingGroups, GroupNameAndARN{GroupName: a.Name, GroupARN: a.ARN})
			}
		}
		p, err := publication("$aws/events/thingGroup/"+g.Name+"/"+lowerOp(op), ev)
		return []Publication{p}, err
	})
}

// membershipEvent is the payload of
// $aws/events/thingGroupMembership/thingGroup/<groupName>/thing/<thingName>/<added|removed>.
type membershipEvent struct {
	EventType    string `json:"eventType"`
	EventID      string `json:"eventId"`
	Timestamp    int64  `json:"timestamp"`
	Operation    string `json:"operation"`
	AccountID    string `json:"accountId"`
	GroupARN     string `json:"groupArn"`
	GroupID      string `json:"groupId"`
	ThingARN     string `json:"thingArn"`
	ThingID      string `json:"thingId"`
	MembershipID string `json:"membershipId"`
}

// announceMembership publishes a THING_GROUP_MEMBERSHIP event (ADDED or REMOVED).
func (r *Registry) announceMembership(tx *bbolt.Tx, emit func(Event), op string, g ThingGroup, t Thing, membershipID string) error {
	emit(Event{Kind: ThingChanged, ThingName: t.Name})
	return r.announce(tx, emit, EventThingGroupMembership, func(ms int64) ([]Publication, error) {
		p, err := publication("$aws/events/thingGroupMembership/thingGroup/"+g.Name+"/thing/"+t.Name+"/"+lowerOp(op), membershipEvent{
			EventType: "THING_GROUP_MEMBERSHIP_EVENT", EventID: uuid.NewString(), Timestamp: ms, Operation: op,
			AccountID: r.acct, GroupARN: g.ARN, GroupID: g.ID, ThingARN: t.ARN, ThingID: t.ID, MembershipID: membershipID,
		})
		return []Publication{p}, err
	})
}

// hierarchyEvent is the payload of
// $aws/events/thingGroupHierarchy/thingGroup/<parent>/childThingGroup/<child>/<added|removed>.
type hierarchyEvent struct {
	EventType      string `json:"eventType"`
	EventID        string `json:"eventId"`
	Timestamp      int64  `json:"timestamp"`
	Operation      string `json:"operation"`
	AccountID      string `json:"accountId"`
	ThingGroupID   string `json:"thingGroupId"`
	ThingGroupName string `json:"thingGroupName"`
	ChildGroupID   string `json:"childGroupId"`
	ChildGroupName string `json:"childGroupName"`
}

// announceHierarchy publishes a THING_GROUP_HIERARCHY event: child was created under parent
// (ADDED) or deleted from it (REMOVED).
func (r *Registry) announceHierarchy(tx *bbolt.Tx, emit func(Event), op string, parent, child ThingGroup) error {
	return r.announce(tx, emit, EventThingGroupHierarchy, func(ms int64) ([]Publication, error) {
		p, err := publication("$aws/events/thingGroupHierarchy/thingGroup/"+parent.Name+"/childThingGroup/"+child.Name+"/"+lowerOp(op), hierarchyEvent{
			EventType: "THING_GROUP_HIERARCHY_EVENT", EventID: uuid.NewString(), Timestamp: ms, Operation: op,
			AccountID: r.acct, ThingGroupID: parent.ID, ThingGroupName: parent.Name,
			ChildGroupID: child.ID, ChildGroupName: child.Name,
		})
		return []Publication{p}, err
	})
}

// certificateRegisteredEvent is the payload of $aws/events/certificates/registered/<caCertificateId>.
type certificateRegisteredEvent struct {
	CertificateID                    string `json:"certificateId"`
	CACertificateID                  string `json:"caCertificateId"`
	Timestamp                        int64  `json:"timestamp"`
	CertificateStatus                string `json:"certificateStatus"`
	AWSAccountID                     string `json:"awsAccountId"`
	CertificateRegistrationTimestamp string `json:"certificateRegistrationTimestamp"`
}

// CertificateRegisteredPublication builds the message AWS publishes on
// $aws/events/certificates/registered/<caCertificateId> when it registers a certificate just in
// time, and again each time a device presents a certificate that is still PENDING_ACTIVATION.
// AutoRegisterCertificate's event carries it for the first; the caller builds it for the others.
// The registration time is sent as a string of epoch milliseconds, as the developer guide's
// example quotes it.
func (r *Registry) CertificateRegisteredPublication(c Certificate) (Publication, error) {
	return publication("$aws/events/certificates/registered/"+c.CACertificateID, certificateRegisteredEvent{
		CertificateID:                    c.ID,
		CACertificateID:                  c.CACertificateID,
		Timestamp:                        r.nowUTC().UnixMilli(),
		CertificateStatus:                string(c.Status),
		AWSAccountID:                     r.acct,
		CertificateRegistrationTimestamp: strconv.FormatInt(c.CreationDate.UnixMilli(), 10),
	})
}
