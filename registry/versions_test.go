package registry

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// docN is a distinct valid policy document per n.
func docN(n int) string {
	return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:*:*:topic/v%d"}]}`, n)
}

// versionsOf summarises a policy's versions as ListPolicyVersions orders them, the default
// marked with "*": "3* 2 1".
func versionsOf(t *testing.T, r *Registry, name string) string {
	t.Helper()
	vs, err := r.ListPolicyVersions(name)
	wantKind(t, err, nil)
	parts := make([]string, 0, len(vs))
	for _, v := range vs {
		s := v.VersionID
		if v.IsDefault {
			s += "*"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

func TestPolicyVersionLifecycle(t *testing.T) {
	r := openTest(t)
	if _, err := r.CreatePolicy("p", docN(1)); err != nil {
		t.Fatal(err)
	}
	rec := watch(t, r)

	// Each step runs one operation, then the policy must list the versions in want, hold
	// docN(doc) in force, and watchers must have seen that many PolicyChanged events.
	tests := []struct {
		name   string
		op     func() (string, error) // returns the new version id, if any
		kind   error
		msg    string
		id     string
		want   string
		doc    int
		events int
	}{
		{"create without default", func() (string, error) { return create(r, "p", 2, false) }, nil, "", "2", "2 1*", 1, 0},
		{"create as default", func() (string, error) { return create(r, "p", 3, true) }, nil, "", "3", "3* 2 1", 3, 1},
		{"create fourth", func() (string, error) { return create(r, "p", 4, false) }, nil, "", "4", "4 3* 2 1", 3, 0},
		{"create fifth", func() (string, error) { return create(r, "p", 5, false) }, nil, "", "5", "5 4 3* 2 1", 3, 0},
		{"sixth is over the limit", func() (string, error) { return create(r, "p", 6, true) }, ErrVersionsLimitExceeded, "", "", "5 4 3* 2 1", 3, 0},
		{"delete the default", func() (string, error) { return "", r.DeletePolicyVersion("p", "3") }, ErrDeleteConflict,
			"Cannot delete the default version of a policy", "", "5 4 3* 2 1", 3, 0},
		{"delete a non-default", func() (string, error) { return "", r.DeletePolicyVersion("p", "2") }, nil, "", "", "5 4 3* 1", 3, 0},
		{"ids are never reused", func() (string, error) { return create(r, "p", 6, true) }, nil, "", "6", "6* 5 4 3 1", 6, 1},
		{"delete a deleted version", func() (string, error) { return "", r.DeletePolicyVersion("p", "2") }, ErrNotFound, "", "", "6* 5 4 3 1", 6, 0},
		{"set the first as default", func() (string, error) { return "", r.SetDefaultPolicyVersion("p", "1") }, nil, "", "", "6 5 4 3 1*", 1, 1},
		{"set the default again", func() (string, error) { return "", r.SetDefaultPolicyVersion("p", "1") }, nil, "", "", "6 5 4 3 1*", 1, 0},
		{"set a missing version", func() (string, error) { return "", r.SetDefaultPolicyVersion("p", "2") }, ErrNotFound, "", "", "6 5 4 3 1*", 1, 0},
		{"set version 0", func() (string, error) { return "", r.SetDefaultPolicyVersion("p", "0") }, ErrNotFound, "", "", "6 5 4 3 1*", 1, 0},
		{"set a zero-padded id", func() (string, error) { return "", r.SetDefaultPolicyVersion("p", "01") }, ErrNotFound, "", "", "6 5 4 3 1*", 1, 0},
		{"set a huge id", func() (string, error) { return "", r.SetDefaultPolicyVersion("p", "99999999999999999999") }, ErrNotFound, "", "", "6 5 4 3 1*", 1, 0},
		{"set a non-numeric id", func() (string, error) { return "", r.SetDefaultPolicyVersion("p", "v1") }, ErrInvalidRequest, "", "", "6 5 4 3 1*", 1, 0},
		{"set an empty id", func() (string, error) { return "", r.SetDefaultPolicyVersion("p", "") }, ErrInvalidRequest, "", "", "6 5 4 3 1*", 1, 0},
		{"delete the policy with versions", func() (string, error) { return "", r.DeletePolicy("p") }, ErrDeleteConflict,
			"The policy cannot be deleted as the policy has non-default versions", "", "6 5 4 3 1*", 1, 0},
		{"malformed document", func() (string, error) {
			v, err := r.CreatePolicyVersion("p", "{nope", true)
			return v.VersionID, err
		}, ErrMalformedPolicy, "", "", "6 5 4 3 1*", 1, 0},
		{"document too large", func() (string, error) {
			v, err := r.CreatePolicyVersion("p", docOfChars(2049, 0), true)
			return v.VersionID, err
		}, ErrMalformedPolicy, "", "", "6 5 4 3 1*", 1, 0},
		{"delete the others", func() (string, error) {
			for _, id := range []string{"6", "5", "4", "3"} {
				if err := r.DeletePolicyVersion("p", id); err != nil {
					return "", err
				}
			}
			return "", nil
		}, nil, "", "", "1*", 1, 0},
		{"create after deletions", func() (string, error) { return create(r, "p", 7, false) }, nil, "", "7", "7 1*", 1, 0},
		{"set the newest", func() (string, error) { return "", r.SetDefaultPolicyVersion("p", "7") }, nil, "", "", "7* 1", 7, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, err := tc.op()
			if tc.msg != "" {
				wantKind(t, err, tc.kind, tc.msg)
			} else {
				wantKind(t, err, tc.kind)
			}
			if id != tc.id {
				t.Errorf("version id = %q, want %q", id, tc.id)
			}
			if got := versionsOf(t, r, "p"); got != tc.want {
				t.Errorf("versions = %q, want %q", got, tc.want)
			}
			p, err := r.GetPolicy("p")
			wantKind(t, err, nil)
			if p.Document != docN(tc.doc) {
				t.Errorf("document in force = %s, want docN(%d)", p.Document, tc.doc)
			}
			if want := defaultIn(tc.want); p.DefaultVersionID != want {
				t.Errorf("DefaultVersionID = %s, want %s", p.DefaultVersionID, want)
			}
			events := rec.take()
			if len(events) != tc.events {
				t.Fatalf("events = %+v, want %d", events, tc.events)
			}
			for _, e := range events {
				if !reflect.DeepEqual(e, Event{Kind: PolicyChanged, PolicyName: "p"}) {
					t.Errorf("event %+v", e)
				}
			}
		})
	}

	// Deleting the policy with only its default version removes the versions too: a policy
	// created again under the name starts from version 1.
	wantKind(t, r.DeletePolicyVersion("p", "1"), nil)
	wantKind(t, r.DeletePolicy("p"), nil)
	if ev := rec.take(); !eventsEqual(ev, []Event{{Kind: PolicyChanged, PolicyName: "p"}}) {
		t.Fatalf("events after DeletePolicy = %+v", ev)
	}
	if _, err := r.CreatePolicy("p", docN(8)); err != nil {
		t.Fatal(err)
	}
	if got := versionsOf(t, r, "p"); got != "1*" {
		t.Fatalf("versions of the re-created policy = %q", got)
	}
	if id, err := create(r, "p", 9, false); err != nil || id != "2" {
		t.Fatalf("first version of the re-created policy = %q, %v", id, err)
	}
}

// defaultIn returns the version marked default in a versionsOf summary.
func defaultIn(summary string) string {
	for _, f := range strings.Fields(summary) {
		if id, ok := strings.CutSuffix(f, "*"); ok {
			return id
		}
	}
	return ""
}

// create adds docN(n) as a version of policy name.
func create(r *Registry, name string, n int, setAsDefault bool) (string, error) {
	v, err := r.CreatePolicyVersion(name, docN(n), setAsDefault)
	return v.VersionID, err
}

func TestPolicyVersionFields(t *testing.T) {
	r := openTest(t)
	p, err := r.CreatePolicy("p", docN(1))
	wantKind(t, err, nil)

	v1, err := r.GetPolicyVersion("p", "1")
	wantKind(t, err, nil)
	want1 := PolicyVersion{
		PolicyName: "p", PolicyARN: p.ARN, VersionID: "1", Document: docN(1), IsDefault: true,
		GenerationID: p.GenerationID, CreationDate: p.CreationDate, LastModifiedDate: p.CreationDate,
	}
	if v1 != want1 {
		t.Fatalf("version 1 = %+v\nwant %+v", v1, want1)
	}

	v2, err := r.CreatePolicyVersion("p", docN(2), true)
	wantKind(t, err, nil)
	if v2.VersionID != "2" || !v2.IsDefault || v2.Document != docN(2) || v2.PolicyARN != p.ARN ||
		!v2.CreationDate.After(p.CreationDate) || v2.GenerationID == "" || v2.GenerationID == p.GenerationID {
		t.Fatalf("version 2 = %+v", v2)
	}
	got2, err := r.GetPolicyVersion("p", "2")
	wantKind(t, err, nil)
	if got2 != v2 {
		t.Fatalf("GetPolicyVersion(2) = %+v\nwant %+v", got2, v2)
	}

	// The policy record follows its default version; the version that lost the default is
	// marked modified then.
	pol, err := r.GetPolicy("p")
	wantKind(t, err, nil)
	if pol.Document != docN(2) || pol.DefaultVersionID != "2" || pol.GenerationID != v2.GenerationID ||
		!pol.LastModifiedDate.Equal(v2.CreationDate) || !pol.CreationDate.Equal(p.CreationDate) {
		t.Fatalf("policy after set-as-default = %+v", pol)
	}
	v1, err = r.GetPolicyVersion("p", "1")
	wantKind(t, err, nil)
	if v1.IsDefault || !v1.LastModifiedDate.Equal(v2.CreationDate) || !v1.CreationDate.Equal(p.CreationDate) {
		t.Fatalf("version 1 after losing the default = %+v", v1)
	}

	tests := []struct {
		name, policy, id string
		kind             error
	}{
		{"missing version", "p", "3", ErrNotFound},
		{"missing policy", "nope", "1", ErrNotFound},
		{"bad policy name", "a b", "1", ErrInvalidRequest},
		{"bad version id", "p", "one", ErrInvalidRequest},
		{"negative version id", "p", "-1", ErrInvalidRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := r.GetPolicyVersion(tc.policy, tc.id)
			wantKind(t, err, tc.kind)
		})
	}
}

func TestPolicyVersionsOfMissingPolicy(t *testing.T) {
	r := openTest(t)
	tests := []struct {
		name string
		op   func() error
	}{
		{"create", func() error { _, err := r.CreatePolicyVersion("nope", docN(1), true); return err }},
		{"get", func() error { _, err := r.GetPolicyVersion("nope", "1"); return err }},
		{"list", func() error { _, err := r.ListPolicyVersions("nope"); return err }},
		{"set default", func() error { return r.SetDefaultPolicyVersion("nope", "1") }},
		{"delete", func() error { return r.DeletePolicyVersion("nope", "1") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantKind(t, tc.op(), ErrNotFound, "Policy nope does not exist")
		})
	}
}

func TestPolicyVersionsValidate(t *testing.T) {
	refuse := errors.New(`Statement[0].Action: unknown action "iot:Fly"`)
	r := openTest(t, func(o *Options) {
		o.ValidatePolicy = func(doc string) error {
			if strings.Contains(doc, "iot:Fly") {
				return refuse
			}
			return nil
		}
	})
	mustPolicy(t, r, "p")
	_, err := r.CreatePolicyVersion("p", `{"Statement":[{"Action":"iot:Fly"}]}`, true)
	wantKind(t, err, ErrMalformedPolicy, refuse.Error())
	_, err = r.CreatePolicyVersion("p", docOfChars(2048, 100), false)
	wantKind(t, err, nil)
	_, err = r.CreatePolicyVersion("bad name", docN(1), false)
	wantKind(t, err, ErrInvalidRequest)
}

func TestPolicyVersionsConcurrent(t *testing.T) {
	r := openTest(t)
	mustPolicy(t, r, "p")
	const n = 12
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		ids    []string
		errs   []error
		others []error
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := r.CreatePolicyVersion("p", docN(i), i%2 == 0)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ids = append(ids, v.VersionID)
			case errors.Is(err, ErrVersionsLimitExceeded):
				errs = append(errs, err)
			default:
				others = append(others, err)
			}
		}()
	}
	wg.Wait()
	slices.Sort(ids)
	if len(others) > 0 || len(errs) != n-4 || !slices.Equal(ids, []string{"2", "3", "4", "5"}) {
		t.Fatalf("ids %v, %d over the limit, other errors %v", ids, len(errs), others)
	}
}

func TestPolicyVersionsPersist(t *testing.T) {
	path := filepath.Join(t.TempDir(), "registry.db")
	r, _ := openTestAt(t, path)
	if _, err := r.CreatePolicy("p", docN(1)); err != nil {
		t.Fatal(err)
	}
	for i := 2; i <= 4; i++ {
		if _, err := create(r, "p", i, i == 3); err != nil {
			t.Fatal(err)
		}
	}
	wantKind(t, r.DeletePolicyVersion("p", "4"), nil)
	before, err := r.ListPolicyVersions("p")
	wantKind(t, err, nil)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	r2, _ := openTestAt(t, path)
	after, err := r2.ListPolicyVersions("p")
	wantKind(t, err, nil)
	if !slices.Equal(before, after) {
		t.Fatalf("versions after reopen\n got %+v\nwant %+v", after, before)
	}
	// The counter is stored too: the deleted version's number is not handed out again.
	if id, err := create(r2, "p", 5, false); err != nil || id != "5" {
		t.Fatalf("version after reopen = %q, %v; want 5", id, err)
	}
}

// TestSchemaUpgrade opens a file written by the first layout, which stored only each policy's
// document, and finds that document as the policy's one version.
func TestSchemaUpgrade(t *testing.T) {
	path := filepath.Join(t.TempDir(), "registry.db")
	created := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	old := Policy{
		Name: "legacy", ARN: "arn:aws:iot:eu-west-1:111122223333:policy/legacy", Document: docN(1),
		DefaultVersionID: "1", GenerationID: "gen-1", CreationDate: created, LastModifiedDate: created,
	}
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		meta, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		if err := meta.Put(keySchema, []byte("1")); err != nil {
			return err
		}
		for _, name := range [][]byte{bucketThings, bucketCerts, bucketCertsByDate, bucketPolicyTargets,
			bucketTargetPolicies, bucketThingPrincipals, bucketPrincipalThings} {
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		b, err := tx.CreateBucket(bucketPolicies)
		if err != nil {
			return err
		}
		return putJSON(b, old.Name, old)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	r, _ := openTestAt(t, path)
	vs, err := r.ListPolicyVersions("legacy")
	wantKind(t, err, nil)
	want := []PolicyVersion{{PolicyName: "legacy", PolicyARN: old.ARN, VersionID: "1", Document: docN(1), IsDefault: true,
		GenerationID: "gen-1", CreationDate: created, LastModifiedDate: created}}
	if !slices.Equal(vs, want) {
		t.Fatalf("versions after upgrade\n got %+v\nwant %+v", vs, want)
	}
	if id, err := create(r, "legacy", 2, true); err != nil || id != "2" {
		t.Fatalf("new version after upgrade = %q, %v", id, err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_ = db.View(func(tx *bbolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keySchema); string(v) != schemaVersion {
			t.Errorf("schema after upgrade = %q, want %q", v, schemaVersion)
		}
		return nil
	})
}

func TestListTargetsForPolicy(t *testing.T) {
	r := openTest(t)
	mustPolicy(t, r, "p")
	mustPolicy(t, r, "q")
	mustPolicy(t, r, "unused")
	var want []string
	for range 5 {
		c := mustCert(t, r, StatusActive)
		wantKind(t, r.AttachPolicy("p", c.ARN), nil)
		want = append(want, c.ARN)
	}
	c := mustCert(t, r, StatusActive)
	wantKind(t, r.AttachPolicy("q", c.ARN), nil)
	slices.Sort(want) // the ARNs differ only in the certificate id, the listing's order

	for _, size := range []int{0, 1, 2, 5, 250} {
		t.Run(fmt.Sprintf("page size %d", size), func(t *testing.T) {
			var got []string
			marker, pages := "", 0
			for {
				page, next, err := r.ListTargetsForPolicy("p", marker, size)
				wantKind(t, err, nil)
				got = append(got, page...)
				pages++
				if next == "" {
					break
				}
				marker = next
				if pages > 10 {
					t.Fatal("paging does not end")
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("targets = %v\nwant %v", got, want)
			}
		})
	}

	_, qMarker, err := r.ListTargetsForPolicy("p", "", 1)
	wantKind(t, err, nil)
	tests := []struct {
		name, policy, marker string
		size                 int
		kind                 error
	}{
		{"no targets", "unused", "", 0, nil},
		{"missing policy", "nope", "", 0, ErrNotFound},
		{"bad policy name", "a b", "", 0, ErrInvalidRequest},
		{"page size too large", "p", "", 251, ErrInvalidRequest},
		{"negative page size", "p", "", -1, ErrInvalidRequest},
		{"marker of another policy", "q", qMarker, 0, ErrInvalidRequest},
		{"marker of another list", "p", encodeToken(tokPolicies, []byte("p")), 0, ErrInvalidRequest},
		{"garbage marker", "p", "!!", 0, ErrInvalidRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, next, err := r.ListTargetsForPolicy(tc.policy, tc.marker, tc.size)
			wantKind(t, err, tc.kind)
			if tc.kind == nil && (len(got) != 0 || next != "") {
				t.Fatalf("targets %v, marker %q", got, next)
			}
		})
	}
}
