package registry

import (
	"slices"
	"strings"
	"testing"
)

// TestProvisionAllOrNothing: a provisioning that fails at its last step (a revoked certificate,
// a missing group, a policy conflict) leaves nothing; one that succeeds stores everything and
// publishes its registry events once committed.
func TestProvisionAllOrNothing(t *testing.T) {
	r := openTest(t)
	if err := r.UpdateEventConfigurations(map[EventType]bool{EventThing: true, EventThingGroupMembership: true}); err != nil {
		t.Fatal(err)
	}
	mustGroup(t, r, "fleet", "")
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}`
	base := func(certID string) ProvisionInput {
		return ProvisionInput{
			CertificateID: certID,
			Thing:         &ProvisionThing{Name: "dev-1", Attributes: map[string]string{"a": "1"}, Groups: []string{"fleet"}, HasAttributes: true, HasGroups: true},
			Policies:      []ProvisionPolicy{{Name: "P1", Document: doc}},
		}
	}
	rec := watch(t, r)

	// Failures.
	pending := mustCert(t, r, StatusPendingActivation)
	bad := base(pending.ID)
	bad.Thing.Groups = []string{"fleet", "missing"}
	_, err := r.Provision(bad)
	wantKind(t, err, ErrNotFound)
	bad = base(pending.ID)
	if _, err := r.CreatePolicy("P1", `{"Version":"2012-10-17","Statement":[]}`); err != nil {
		t.Fatal(err)
	}
	_, err = r.Provision(bad)
	wantKind(t, err, ErrResourceConflicts)
	revoked := mustCert(t, r, StatusRevoked)
	_, err = r.Provision(base(revoked.ID))
	wantKind(t, err, ErrCertificateState)
	if _, err := r.DescribeThing("dev-1"); err == nil {
		t.Fatal("a failed provisioning left its thing")
	}
	if evs := rec.take(); len(evs) != 0 {
		t.Fatalf("failed provisionings published %d events", len(evs))
	}
	if err := r.DeletePolicy("P1"); err != nil {
		t.Fatal(err)
	}

	// Success.
	out, err := r.Provision(base(pending.ID))
	if err != nil {
		t.Fatal(err)
	}
	if out.Certificate.Status != StatusActive || out.Thing.Name != "dev-1" || len(out.Policies) != 1 {
		t.Fatalf("result %+v", out)
	}
	view, err := r.CertificateIdentity(pending.ID)
	if err != nil || len(view.Policies) != 1 || view.Policies[0].Name != "P1" || len(view.Things) != 1 || view.Things[0].ThingName != "dev-1" {
		t.Fatalf("view %+v %v", view, err)
	}
	var topics []string
	for _, e := range rec.take() {
		for _, p := range e.Publications {
			topics = append(topics, p.Topic)
		}
	}
	slices.Sort(topics)
	if len(topics) != 2 || !strings.HasPrefix(topics[0], "$aws/events/thing/dev-1/created") || !strings.Contains(topics[1], "thingGroupMembership/thingGroup/fleet/thing/dev-1/added") {
		t.Errorf("event topics %v", topics)
	}
}
