package registry

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestAttachPolicy(t *testing.T) {
	r := openTest(t)
	c := mustCert(t, r, StatusActive)
	mustPolicy(t, r, "p")
	foreign := strings.Replace(c.ARN, testRegion, "us-west-2", 1)
	unknown := r.CertificateARN(strings.Repeat("d", 64))
	tests := []struct {
		name, policy, target string
		kind                 error
	}{
		{"attach", "p", c.ARN, nil},
		{"again (idempotent)", "p", c.ARN, nil},
		{"upper-case id in ARN", "p", strings.Replace(c.ARN, c.ID, strings.ToUpper(c.ID), 1), nil},
		{"missing policy", "nope", c.ARN, ErrNotFound},
		{"unknown certificate", "p", unknown, ErrNotFound},
		{"other region", "p", foreign, ErrNotFound},
		{"bare id", "p", c.ID, ErrInvalidRequest},
		{"thing ARN", "p", r.ThingARN("x"), ErrInvalidRequest},
		{"malformed id in ARN", "p", r.arn("cert/xyz"), ErrInvalidRequest},
		{"invalid policy name", "a b", c.ARN, ErrInvalidRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantKind(t, r.AttachPolicy(tc.policy, tc.target), tc.kind)
		})
	}
	got, err := r.ListAttachedPolicies(c.ARN, false)
	wantKind(t, err, nil)
	if len(got) != 1 || got[0].Name != "p" {
		t.Fatalf("attached = %+v", got)
	}
	_, err = r.ListAttachedPolicies(unknown, false)
	wantKind(t, err, ErrNotFound)
	_, err = r.ListAttachedPolicies("arn:aws:iam::1:user/x", false)
	wantKind(t, err, ErrInvalidRequest)
}

func TestAttachPolicyLimit(t *testing.T) {
	r := openTest(t)
	c := mustCert(t, r, StatusActive)
	for i := range 11 {
		mustPolicy(t, r, fmt.Sprintf("p%02d", i))
	}
	for i := range 10 {
		wantKind(t, r.AttachPolicy(fmt.Sprintf("p%02d", i), c.ARN), nil)
	}
	wantKind(t, r.AttachPolicy("p10", c.ARN), ErrLimitExceeded)
	wantKind(t, r.AttachPolicy("p09", c.ARN), nil) // re-attaching at the limit is still idempotent
	wantKind(t, r.DetachPolicy("p00", c.ARN), nil)
	wantKind(t, r.AttachPolicy("p10", c.ARN), nil)
}

func TestDetachPolicy(t *testing.T) {
	r := openTest(t)
	c := mustCert(t, r, StatusActive)
	mustPolicy(t, r, "p")
	wantKind(t, r.AttachPolicy("p", c.ARN), nil)
	rec := watch(t, r)
	tests := []struct {
		name, policy, target string
		kind                 error
	}{
		{"detach", "p", c.ARN, nil},
		{"again", "p", c.ARN, nil},
		{"never attached policy", "other", c.ARN, nil},
		{"unknown certificate", "p", r.CertificateARN(strings.Repeat("e", 64)), nil},
		{"foreign account", "p", strings.Replace(c.ARN, testAccount, "999999999999", 1), nil},
		{"not an ARN", "p", "something", ErrInvalidRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantKind(t, r.DetachPolicy(tc.policy, tc.target), tc.kind)
		})
	}
	want := []Event{{Kind: AttachmentChanged, CertificateID: c.ID, PolicyName: "p"}}
	if got := rec.take(); !eventsEqual(got, want) {
		t.Fatalf("events %+v, want %+v (only the real change)", got, want)
	}
	got, err := r.ListAttachedPolicies(c.ARN, false)
	wantKind(t, err, nil)
	if len(got) != 0 {
		t.Fatalf("still attached: %+v", got)
	}
}

func TestAttachThingPrincipal(t *testing.T) {
	type step struct {
		thing string
		cert  int // index into certs
		typ   ThingPrincipalType
		kind  error
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"default type is non-exclusive", []step{{"a", 0, "", nil}}},
		{"non-exclusive to two things", []step{{"a", 0, NonExclusiveThing, nil}, {"b", 0, NonExclusiveThing, nil}}},
		{"exclusive then other thing", []step{{"a", 0, ExclusiveThing, nil}, {"b", 0, NonExclusiveThing, ErrInvalidRequest}}},
		{"exclusive then exclusive elsewhere", []step{{"a", 0, ExclusiveThing, nil}, {"b", 0, ExclusiveThing, ErrInvalidRequest}}},
		{"non-exclusive then exclusive elsewhere", []step{{"a", 0, "", nil}, {"b", 0, ExclusiveThing, ErrInvalidRequest}}},
		{"upgrade to exclusive", []step{{"a", 0, "", nil}, {"a", 0, ExclusiveThing, nil}, {"b", 0, "", ErrInvalidRequest}}},
		{"downgrade to non-exclusive", []step{{"a", 0, ExclusiveThing, nil}, {"a", 0, NonExclusiveThing, nil}, {"b", 0, "", nil}}},
		{"exclusive is per certificate", []step{{"a", 0, ExclusiveThing, nil}, {"a", 1, ExclusiveThing, nil}}},
		{"missing thing", []step{{"zz", 0, "", ErrNotFound}}},
		{"unknown certificate", []step{{"a", 2, "", ErrNotFound}}},
		{"bad type", []step{{"a", 0, "SHARED", ErrInvalidRequest}}},
		{"bad thing name", []step{{"a b", 0, "", ErrInvalidRequest}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := openTest(t)
			mustThing(t, r, "a")
			mustThing(t, r, "b")
			arns := []string{
				mustCert(t, r, StatusActive).ARN,
				mustCert(t, r, StatusActive).ARN,
				r.CertificateARN(strings.Repeat("f", 64)),
			}
			for i, s := range tc.steps {
				typ := s.typ
				err := r.AttachThingPrincipal(s.thing, arns[s.cert], typ)
				wantKind(t, err, s.kind)
				if err != nil {
					continue
				}
				if typ == "" {
					typ = NonExclusiveThing
				}
				v, err := r.CertificateIdentity(arns[s.cert][strings.LastIndex(arns[s.cert], "/")+1:])
				wantKind(t, err, nil)
				j := slices.IndexFunc(v.Things, func(a ThingAttachment) bool { return a.ThingName == s.thing })
				if j < 0 || v.Things[j].Type != typ {
					t.Fatalf("step %d: attachments %+v, want %s as %s", i, v.Things, s.thing, typ)
				}
			}
		})
	}
	r := openTest(t)
	mustThing(t, r, "a")
	wantKind(t, r.AttachThingPrincipal("a", "arn:aws:iot:eu-west-1:111122223333:thing/a", ""), ErrInvalidRequest)
}

func TestDetachThingPrincipal(t *testing.T) {
	r := openTest(t)
	mustThing(t, r, "a")
	c := mustCert(t, r, StatusActive)
	wantKind(t, r.AttachThingPrincipal("a", c.ARN, ExclusiveThing), nil)
	rec := watch(t, r)
	tests := []struct {
		name, thing, principal string
		kind                   error
	}{
		{"detach", "a", c.ARN, nil},
		{"again", "a", c.ARN, nil},
		{"unknown certificate", "a", r.CertificateARN(strings.Repeat("1", 64)), nil},
		{"missing thing", "b", c.ARN, ErrNotFound},
		{"not an ARN", "a", "x", ErrInvalidRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantKind(t, r.DetachThingPrincipal(tc.thing, tc.principal), tc.kind)
		})
	}
	want := []Event{{Kind: AttachmentChanged, CertificateID: c.ID}}
	if got := rec.take(); !eventsEqual(got, want) {
		t.Fatalf("events %+v, want %+v", got, want)
	}
	// After an exclusive attachment is gone, another thing may have the certificate.
	mustThing(t, r, "b")
	wantKind(t, r.AttachThingPrincipal("b", c.ARN, ExclusiveThing), nil)
}

func TestListThingPrincipalsAndPrincipalThings(t *testing.T) {
	r := openTest(t)
	mustThing(t, r, "hub")
	mustThing(t, r, "lonely")
	hubCert := mustCert(t, r, StatusActive)
	var principals []string
	for range 7 {
		c := mustCert(t, r, StatusActive)
		principals = append(principals, c.ARN)
		wantKind(t, r.AttachThingPrincipal("hub", c.ARN, ""), nil)
	}
	slices.Sort(principals) // listed by certificate id, so by ARN
	var things []string
	for i := range 7 {
		name := fmt.Sprintf("t%d", i)
		things = append(things, name)
		mustThing(t, r, name)
		wantKind(t, r.AttachThingPrincipal(name, hubCert.ARN, ""), nil)
	}

	collect := func(t *testing.T, list func(token string) ([]string, string, error)) ([]string, int) {
		var all []string
		pages, token := 0, ""
		for {
			page, next, err := list(token)
			wantKind(t, err, nil)
			pages++
			all = append(all, page...)
			if next == "" {
				return all, pages
			}
			token = next
		}
	}
	for _, size := range []int{0, 1, 3, 7, 250} {
		got, pages := collect(t, func(tok string) ([]string, string, error) { return r.ListThingPrincipals("hub", tok, size) })
		if !slices.Equal(got, principals) {
			t.Fatalf("size %d: principals %v, want %v", size, got, principals)
		}
		if size == 3 && pages != 3 {
			t.Fatalf("size 3: %d pages", pages)
		}
		got, _ = collect(t, func(tok string) ([]string, string, error) {
			return r.ListPrincipalThings(hubCert.ARN, tok, size)
		})
		if !slices.Equal(got, things) {
			t.Fatalf("size %d: things %v, want %v", size, got, things)
		}
	}

	got, next, err := r.ListThingPrincipals("lonely", "", 0)
	if err != nil || len(got) != 0 || next != "" {
		t.Fatalf("lonely: %v %q %v", got, next, err)
	}
	_, _, err = r.ListThingPrincipals("ghost", "", 0)
	wantKind(t, err, ErrNotFound, "Failed to list principals for thing ghost because the thing does not exist in your account")
	_, _, err = r.ListPrincipalThings(r.CertificateARN(strings.Repeat("2", 64)), "", 0)
	wantKind(t, err, ErrNotFound)
	_, _, err = r.ListPrincipalThings("nope", "", 0)
	wantKind(t, err, ErrInvalidRequest)
	_, _, err = r.ListThingPrincipals("hub", "", 251)
	wantKind(t, err, ErrInvalidRequest)
	_, _, err = r.ListPrincipalThings(hubCert.ARN, "", -1)
	wantKind(t, err, ErrInvalidRequest)

	// A token of one thing's listing does not resume another's.
	_, tok, err := r.ListThingPrincipals("hub", "", 1)
	wantKind(t, err, nil)
	_, _, err = r.ListThingPrincipals("lonely", tok, 1)
	wantKind(t, err, ErrInvalidRequest)
	_, _, err = r.ListPrincipalThings(hubCert.ARN, tok, 1)
	wantKind(t, err, ErrInvalidRequest)
}

func TestAttachmentEvents(t *testing.T) {
	r := openTest(t)
	mustThing(t, r, "a")
	mustPolicy(t, r, "p")
	c := mustCert(t, r, StatusActive)
	rec := watch(t, r)

	wantKind(t, r.AttachPolicy("p", c.ARN), nil)
	wantKind(t, r.AttachPolicy("p", c.ARN), nil) // no change, no event
	wantKind(t, r.AttachThingPrincipal("a", c.ARN, ""), nil)
	wantKind(t, r.AttachThingPrincipal("a", c.ARN, NonExclusiveThing), nil) // no change
	wantKind(t, r.AttachThingPrincipal("a", c.ARN, ExclusiveThing), nil)    // type change
	wantKind(t, r.DetachThingPrincipal("a", c.ARN), nil)
	wantKind(t, r.DetachPolicy("p", c.ARN), nil)

	att := Event{Kind: AttachmentChanged, CertificateID: c.ID}
	pol := Event{Kind: AttachmentChanged, CertificateID: c.ID, PolicyName: "p"}
	want := []Event{pol, att, att, att, pol}
	if got := rec.take(); !eventsEqual(got, want) {
		t.Fatalf("events\n got %+v\nwant %+v", got, want)
	}
}
