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

// TestProvisionBillingGroup: a template's BillingGroup puts a new thing in that billing group, a
// missing billing group fails the whole provisioning, and an existing thing already in another
// billing group stays there (templates have no override setting for it).
func TestProvisionBillingGroup(t *testing.T) {
	r := openTest(t)
	for _, g := range []string{"paid", "other"} {
		if _, err := r.CreateBillingGroup(g, "", nil); err != nil {
			t.Fatal(err)
		}
	}
	cert := mustCert(t, r, StatusActive)
	_, err := r.Provision(ProvisionInput{CertificateID: cert.ID, Thing: &ProvisionThing{Name: "b-1", BillingGroup: "missing"}})
	wantKind(t, err, ErrNotFound)
	if _, err := r.DescribeThing("b-1"); err == nil {
		t.Fatal("a provisioning with a missing billing group left its thing")
	}
	if _, err := r.Provision(ProvisionInput{CertificateID: cert.ID, Thing: &ProvisionThing{Name: "b-1", BillingGroup: "paid"}}); err != nil {
		t.Fatal(err)
	}
	if g, err := r.ThingBillingGroup("b-1"); err != nil || g != "paid" {
		t.Fatalf("new thing's billing group %q %v, want paid", g, err)
	}
	if _, err := r.Provision(ProvisionInput{CertificateID: cert.ID, Thing: &ProvisionThing{Name: "b-1", BillingGroup: "other"}}); err != nil {
		t.Fatal(err)
	}
	if g, _ := r.ThingBillingGroup("b-1"); g != "paid" {
		t.Fatalf("existing thing moved to billing group %q", g)
	}
	if err := r.RemoveThingFromBillingGroup("paid", "", "b-1", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Provision(ProvisionInput{CertificateID: cert.ID, Thing: &ProvisionThing{Name: "b-1", BillingGroup: "other"}}); err != nil {
		t.Fatal(err)
	}
	if g, _ := r.ThingBillingGroup("b-1"); g != "other" {
		t.Fatalf("existing thing in no billing group: joined %q, want other", g)
	}
	if things, _, err := r.ListThingsInBillingGroup("other", "", 10); err != nil || len(things) != 1 || things[0] != "b-1" {
		t.Fatalf("ListThingsInBillingGroup: %v %v", things, err)
	}
}
