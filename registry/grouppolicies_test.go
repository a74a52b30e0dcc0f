package registry

import (
	"slices"
	"testing"
)

// policyNames lists the names of policies, in order.
func policyNames(ps []Policy) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return out
}

func TestGroupPolicies(t *testing.T) {
	r := openTest(t)
	fleet := mustGroup(t, r, "fleet", "")
	eu := mustGroup(t, r, "eu", "fleet")
	mustGroup(t, r, "solo", "")
	for _, n := range []string{"p-fleet", "p-eu", "p-cert", "p-extra", "p-third"} {
		mustPolicy(t, r, n)
	}
	dev := mustThing(t, r, "dev")
	other := mustThing(t, r, "other")
	cert := mustCert(t, r, StatusActive)
	cert2 := mustCert(t, r, StatusActive)
	wantKind(t, r.AttachThingPrincipal(dev.Name, cert.ARN, ""), nil)
	wantKind(t, r.AttachThingPrincipal(other.Name, cert.ARN, ""), nil)
	wantKind(t, r.AttachThingPrincipal(other.Name, cert2.ARN, ""), nil)
	wantKind(t, r.AttachPolicy("p-cert", cert.ARN), nil)
	wantKind(t, r.AddThingToThingGroup("eu", "dev"), nil)
	rec := watch(t, r)

	changed := func(ids ...string) []Event {
		var out []Event
		for _, id := range ids {
			out = append(out, Event{Kind: AttachmentChanged, CertificateID: id})
		}
		return out
	}
	withPolicy := func(name string, evs []Event) []Event {
		for i := range evs {
			evs[i].PolicyName = name
		}
		return evs
	}
	sorted := func(ids ...string) []string { slices.Sort(ids); return ids }

	steps := []struct {
		name   string
		do     func() error
		kind   error
		events []Event
	}{
		{"attach to the root group", func() error { return r.AttachPolicy("p-fleet", fleet.ARN) }, nil, withPolicy("p-fleet", changed(cert.ID))},
		{"attach again", func() error { return r.AttachPolicy("p-fleet", fleet.ARN) }, nil, nil},
		{"attach to the child group", func() error { return r.AttachPolicy("p-eu", eu.ARN) }, nil, withPolicy("p-eu", changed(cert.ID))},
		{"a group with no things", func() error { return r.AttachPolicy("p-extra", r.ThingGroupARN("solo")) }, nil, nil},
		{"second policy on a group", func() error { return r.AttachPolicy("p-third", eu.ARN) }, nil, withPolicy("p-third", changed(cert.ID))},
		{"third policy on a group", func() error { return r.AttachPolicy("p-extra", eu.ARN) }, ErrLimitExceeded, nil},
		{"missing group", func() error { return r.AttachPolicy("p-eu", r.ThingGroupARN("nope")) }, ErrNotFound, nil},
		{"group of another account", func() error { return r.AttachPolicy("p-eu", "arn:aws:iot:eu-west-1:999999999999:thinggroup/eu") }, ErrNotFound, nil},
		{"not a target ARN", func() error { return r.AttachPolicy("p-eu", "arn:aws:iot:eu-west-1:111122223333:thing/dev") }, ErrInvalidRequest, nil},
		{"bad group name in the ARN", func() error { return r.AttachPolicy("p-eu", "arn:aws:iot:eu-west-1:111122223333:thinggroup/a b") }, ErrInvalidRequest, nil},
		{"delete a policy attached to a group", func() error { return r.DeletePolicy("p-fleet") }, ErrDeleteConflict, nil},
		{"other thing joins the hierarchy", func() error { return r.AddThingToThingGroup("fleet", "other") }, nil, changed(sorted(cert.ID, cert2.ID)...)},
		{"other thing leaves", func() error { return r.RemoveThingFromThingGroup("fleet", "other") }, nil, changed(sorted(cert.ID, cert2.ID)...)},
		{"joining a group with a policy", func() error { return r.AddThingToThingGroup("solo", "other") }, nil, changed(sorted(cert.ID, cert2.ID)...)},
		{"joining a group without policies", func() error { mustGroup(t, r, "bare", ""); return r.AddThingToThingGroup("bare", "dev") }, nil, nil},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			wantKind(t, s.do(), s.kind)
			if got := rec.take(); !eventsEqual(got, s.events) {
				t.Fatalf("events\n got %+v\nwant %+v", got, s.events)
			}
		})
	}
	v, err := r.CertificateIdentity(cert.ID)
	wantKind(t, err, nil)
	if got := policyNames(v.Policies); !slices.Equal(got, []string{"p-cert"}) {
		t.Fatalf("certificate policies %v", got)
	}
	if got := policyNames(v.GroupPolicies["dev"]); !slices.Equal(got, []string{"p-eu", "p-fleet", "p-third"}) {
		t.Fatalf("group policies of dev %v", got)
	}
	if got := policyNames(v.GroupPolicies["other"]); !slices.Equal(got, []string{"p-extra"}) {
		t.Fatalf("group policies of other %v", got)
	}

	// ListAttachedPolicies, direct and recursive; ListTargetsForPolicy names the group.
	direct, err := r.ListAttachedPolicies(eu.ARN, false)
	wantKind(t, err, nil)
	recursive, err := r.ListAttachedPolicies(eu.ARN, true)
	wantKind(t, err, nil)
	if !slices.Equal(policyNames(direct), []string{"p-eu", "p-third"}) || !slices.Equal(policyNames(recursive), []string{"p-eu", "p-fleet", "p-third"}) {
		t.Fatalf("attached to eu: %v, recursive %v", policyNames(direct), policyNames(recursive))
	}
	_, err = r.ListAttachedPolicies(r.ThingGroupARN("nope"), false)
	wantKind(t, err, ErrNotFound)
	targets, _, err := r.ListTargetsForPolicy("p-fleet", "", 0)
	wantKind(t, err, nil)
	if !slices.Equal(targets, []string{fleet.ARN}) {
		t.Fatalf("targets of p-fleet %v", targets)
	}
	wantKind(t, r.AttachPolicy("p-fleet", cert2.ARN), nil)
	targets, _, err = r.ListTargetsForPolicy("p-fleet", "", 0)
	wantKind(t, err, nil)
	if !slices.Equal(targets, []string{cert2.ARN, fleet.ARN}) {
		t.Fatalf("targets of p-fleet %v", targets)
	}
	rec.take()

	// Detaching is idempotent and notifies the group's things' certificates.
	wantKind(t, r.DetachPolicy("p-eu", eu.ARN), nil)
	if got, want := rec.take(), withPolicy("p-eu", changed(cert.ID)); !eventsEqual(got, want) {
		t.Fatalf("detach events %+v, want %+v", got, want)
	}
	wantKind(t, r.DetachPolicy("p-eu", eu.ARN), nil)
	wantKind(t, r.DetachPolicy("p-eu", r.ThingGroupARN("nope")), nil)
	wantKind(t, r.DetachPolicy("p-eu", "arn:aws:iot:us-east-1:111122223333:thinggroup/eu"), nil)
	if got := rec.take(); len(got) != 0 {
		t.Fatalf("no-op detaches notified %+v", got)
	}

	// Deleting a group detaches its policies and drops its things' group policies.
	wantKind(t, r.DetachPolicy("p-fleet", cert2.ARN), nil)
	rec.take()
	wantKind(t, r.DeleteThingGroup("eu", nil), nil)
	if got, want := rec.take(), changed(cert.ID); !eventsEqual(got, want) {
		t.Fatalf("group delete events %+v, want %+v", got, want)
	}
	v, err = r.CertificateIdentity(cert.ID)
	wantKind(t, err, nil)
	if _, ok := v.GroupPolicies["dev"]; ok {
		t.Fatalf("dev keeps group policies %+v after its group was deleted", v.GroupPolicies)
	}
	wantKind(t, r.DeletePolicy("p-third"), nil)
}
