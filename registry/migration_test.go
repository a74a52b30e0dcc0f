package registry

import (
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"go.etcd.io/bbolt"
)

// TestSchemaUpgradeFrom2 opens a file of the second layout, in which a thing's type was a free
// name, and finds every such name registered as a thing type that holds its things.
func TestSchemaUpgradeFrom2(t *testing.T) {
	path := filepath.Join(t.TempDir(), "registry.db")
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	old := []Thing{
		{Name: "lamp1", ID: "11111111-1111-1111-1111-111111111111", ARN: "arn:aws:iot:eu-west-1:111122223333:thing/lamp1", TypeName: "legacy", Version: 3},
		{Name: "lamp2", ID: "22222222-2222-2222-2222-222222222222", ARN: "arn:aws:iot:eu-west-1:111122223333:thing/lamp2", TypeName: "legacy", Version: 1,
			Attributes: map[string]string{"room": "1"}},
		{Name: "plain", ID: "33333333-3333-3333-3333-333333333333", ARN: "arn:aws:iot:eu-west-1:111122223333:thing/plain", Version: 1},
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bucketMeta, bucketThings, bucketCerts, bucketCertsByDate, bucketPolicies, bucketPolicyTargets,
			bucketTargetPolicies, bucketThingPrincipals, bucketPrincipalThings, bucketPolicyVersions, bucketPolicyVersionNo} {
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bucketMeta).Put(keySchema, []byte("2")); err != nil {
			return err
		}
		for _, th := range old {
			if err := putJSON(tx.Bucket(bucketThings), th.Name, th); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	r, _ := openTestAt(t, path)
	tt, err := r.DescribeThingType("legacy")
	wantKind(t, err, nil)
	if tt.ARN != "arn:aws:iot:eu-west-1:111122223333:thingtype/legacy" || tt.Deprecated || tt.ID == "" || tt.CreationDate.IsZero() {
		t.Fatalf("upgraded type %+v", tt)
	}
	types, _, err := r.ListThingTypes("", "", 0)
	wantKind(t, err, nil)
	if len(types) != 1 {
		t.Fatalf("types after upgrade %+v", types)
	}
	for _, th := range old {
		got, err := r.DescribeThing(th.Name)
		wantKind(t, err, nil)
		if !reflect.DeepEqual(got, th) {
			t.Fatalf("thing after upgrade %+v, want %+v", got, th)
		}
	}
	// The rules of the new layout hold for the old things.
	wantKind(t, r.DeprecateThingType("legacy", false), nil)
	wantKind(t, r.DeleteThingType("legacy"), ErrInvalidRequest)
	_, err = r.UpdateThing(UpdateThingInput{Name: "lamp1", RemoveThingType: true})
	wantKind(t, err, nil)
	wantKind(t, r.DeleteThingType("legacy"), ErrInvalidRequest)
	wantKind(t, r.DeleteThing("lamp2", nil), nil)
	wantKind(t, r.DeleteThingType("legacy"), nil)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = db.View(func(tx *bbolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keySchema); string(v) != "3" {
			t.Errorf("schema after upgrade = %q, want 3", v)
		}
		return nil
	})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// A second open does not upgrade again (the deleted type stays deleted).
	r2, _ := openTestAt(t, path)
	_, err = r2.DescribeThingType("legacy")
	wantKind(t, err, ErrNotFound)
}

// TestPersistenceOfNewResources closes and reopens the registry and finds types, groups,
// memberships, group policies, CAs, tags, the registration code and the event configuration.
func TestPersistenceOfNewResources(t *testing.T) {
	path := filepath.Join(t.TempDir(), "registry.db")
	r, _ := openTestAt(t, path)
	typ, err := r.CreateThingType(CreateThingTypeInput{Name: "ty", Description: "d", Tags: []Tag{{"k", "v"}}})
	wantKind(t, err, nil)
	parent := mustGroup(t, r, "parent", "")
	child := mustGroup(t, r, "child", "parent")
	th, err := r.CreateThing(CreateThingInput{Name: "th", TypeName: "ty"})
	wantKind(t, err, nil)
	wantKind(t, r.AddThingToThingGroup("child", "th"), nil)
	mustPolicy(t, r, "gp")
	wantKind(t, r.AttachPolicy("gp", parent.ARN), nil)
	cert := mustCert(t, r, StatusActive)
	wantKind(t, r.AttachThingPrincipal("th", cert.ARN, ExclusiveThing), nil)
	ca := mustCA(t, r, newTestCA(t, "Persisted", true), true, true)
	code, err := r.GetRegistrationCode()
	wantKind(t, err, nil)
	wantKind(t, r.UpdateEventConfigurations(map[EventType]bool{EventThing: true}), nil)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	r2, _ := openTestAt(t, path)
	if got, err := r2.DescribeThingType("ty"); err != nil || !reflect.DeepEqual(got, typ) {
		t.Fatalf("type after reopen %+v, %v; want %+v", got, err, typ)
	}
	got, err := r2.DescribeThingGroup("child")
	wantKind(t, err, nil)
	if got.ID != child.ID || got.ParentName != "parent" || len(got.RootToParent) != 1 {
		t.Fatalf("group after reopen %+v", got)
	}
	things, _, err := r2.ListThingsInThingGroup("parent", true, "", 0)
	wantKind(t, err, nil)
	if !slices.Equal(things, []string{th.Name}) {
		t.Fatalf("members after reopen %v", things)
	}
	v, err := r2.CertificateIdentity(cert.ID)
	wantKind(t, err, nil)
	if got := policyNames(v.GroupPolicies["th"]); !slices.Equal(got, []string{"gp"}) {
		t.Fatalf("group policies after reopen %v", got)
	}
	if got, err := r2.DescribeCACertificate(ca.ID); err != nil || got != ca {
		t.Fatalf("CA after reopen %+v, %v; want %+v", got, err, ca)
	}
	if got, err := r2.GetRegistrationCode(); err != nil || got != code {
		t.Fatalf("registration code after reopen %q, %v", got, err)
	}
	tags, _, err := r2.ListTagsForResource(typ.ARN, "")
	wantKind(t, err, nil)
	if !slices.Equal(tags, []Tag{{"k", "v"}}) {
		t.Fatalf("tags after reopen %+v", tags)
	}
	conf, err := r2.DescribeEventConfigurations()
	wantKind(t, err, nil)
	if !conf.Enabled[EventThing] || conf.Enabled[EventThingGroup] {
		t.Fatalf("event configuration after reopen %+v", conf)
	}
}
