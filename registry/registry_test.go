package registry

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.etcd.io/bbolt"
)

func TestARNs(t *testing.T) {
	r := openTest(t)
	tests := []struct{ got, want string }{
		{r.ThingARN("lamp"), "arn:aws:iot:eu-west-1:111122223333:thing/lamp"},
		{r.CertificateARN("ABCD"), "arn:aws:iot:eu-west-1:111122223333:cert/abcd"},
		{r.PolicyARN("p"), "arn:aws:iot:eu-west-1:111122223333:policy/p"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("got %s, want %s", tc.got, tc.want)
		}
	}
	d, err := Open(filepath.Join(t.TempDir(), "x.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if got := d.ThingARN("a"); got != "arn:aws:iot:us-east-1:123456789012:thing/a" {
		t.Errorf("default ARN %s", got)
	}
}

func TestPersistence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "registry.db")
	r, _ := openTestAt(t, path)
	mustType(t, r, "light")
	th, err := r.CreateThing(CreateThingInput{Name: "lamp", TypeName: "light", Attributes: map[string]string{"room": "1"}})
	wantKind(t, err, nil)
	p := mustPolicy(t, r, "p")
	c := mustCert(t, r, StatusActive)
	wantKind(t, r.AttachPolicy("p", c.ARN), nil)
	wantKind(t, r.AttachThingPrincipal("lamp", c.ARN, ExclusiveThing), nil)
	wantKind(t, r.UpdateCertificateStatus(c.ID, StatusInactive), nil)
	c, err = r.DescribeCertificate(c.ID)
	wantKind(t, err, nil)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.DescribeThing("lamp"); err == nil || !errors.Is(err, bbolt.ErrDatabaseNotOpen) || !strings.HasPrefix(err.Error(), "registry: ") {
		t.Fatalf("a closed registry answered %v; want a wrapped storage error", err)
	}
	if err := r.DeleteThing("lamp", nil); err == nil || !errors.Is(err, bbolt.ErrDatabaseNotOpen) {
		t.Fatalf("a closed registry accepted a write: %v", err)
	}

	r2, _ := openTestAt(t, path)
	gotThing, err := r2.DescribeThing("lamp")
	wantKind(t, err, nil)
	if gotThing.ID != th.ID || gotThing.Attributes["room"] != "1" || gotThing.TypeName != "light" {
		t.Fatalf("thing after reopen %+v, want %+v", gotThing, th)
	}
	gotPolicy, err := r2.GetPolicy("p")
	wantKind(t, err, nil)
	if gotPolicy != p {
		t.Fatalf("policy after reopen %+v, want %+v", gotPolicy, p)
	}
	v, err := r2.CertificateIdentity(c.ID)
	wantKind(t, err, nil)
	if v.Certificate != c {
		t.Fatalf("certificate after reopen\n got %+v\nwant %+v", v.Certificate, c)
	}
	if len(v.Policies) != 1 || len(v.Things) != 1 || v.Things[0].Type != ExclusiveThing {
		t.Fatalf("attachments after reopen %+v", v)
	}
	list, _, err := r2.ListCertificates("", 0, true)
	wantKind(t, err, nil)
	if len(list) != 1 {
		t.Fatalf("listed %d certificates", len(list))
	}
}

func TestOpenRefusals(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "registry.db")
	r, _ := openTestAt(t, path)

	// bbolt locks the file: a second opener gets an error instead of a corrupted store.
	if _, err := Open(path, Options{}); err == nil {
		t.Fatal("second Open of a file in use succeeded")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	// A file written by a later layout is refused.
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySchema, []byte("99")) }); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	if _, err := Open(path, Options{}); err == nil || !strings.Contains(err.Error(), "schema") {
		t.Fatalf("Open of a newer schema: %v", err)
	}

	if _, err := Open("", Options{}); err == nil {
		t.Fatal("Open with an empty path succeeded")
	}
}

func TestStorageErrorsAreNotRequestErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "registry.db")
	r, _ := openTestAt(t, path)
	mustThing(t, r, "broken")
	// Corrupt the stored value behind the registry's back.
	if err := r.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketThings).Put([]byte("broken"), []byte("{not json"))
	}); err != nil {
		t.Fatal(err)
	}
	_, err := r.DescribeThing("broken")
	var e *Error
	if err == nil || errors.As(err, &e) || !strings.Contains(err.Error(), "broken") {
		t.Fatalf("corrupt value gave %v; want a plain wrapped error naming the key", err)
	}
}

func TestWatch(t *testing.T) {
	r := openTest(t)
	var first, second recorder
	cancelFirst := r.Watch(first.add)
	cancelSecond := r.Watch(second.add)
	defer cancelSecond()

	c := mustCert(t, r, StatusActive)
	wantKind(t, r.UpdateCertificateStatus(c.ID, StatusInactive), nil)
	cancelFirst()
	cancelFirst() // harmless twice
	wantKind(t, r.DeleteCertificate(c.ID, false), nil)

	statusEvent := Event{Kind: CertificateStatusChanged, CertificateID: c.ID, Status: StatusInactive}
	deleteEvent := Event{Kind: CertificateDeleted, CertificateID: c.ID, Status: StatusInactive}
	if got := first.take(); !eventsEqual(got, []Event{statusEvent}) {
		t.Fatalf("cancelled watcher got %+v", got)
	}
	if got := second.take(); !eventsEqual(got, []Event{statusEvent, deleteEvent}) {
		t.Fatalf("watcher got %+v", got)
	}

	// A refused change notifies no one.
	wantKind(t, r.UpdateCertificateStatus(c.ID, StatusActive), ErrNotFound)
	if got := second.take(); len(got) != 0 {
		t.Fatalf("refused change notified %+v", got)
	}
}

func TestWatcherMayReadAndSeesCommittedState(t *testing.T) {
	r := openTest(t)
	c := mustCert(t, r, StatusActive)
	var seen []CertificateStatus
	cancel := r.Watch(func(e Event) {
		// Runs after commit, without bbolt's lock: a read sees the new state.
		got, err := r.DescribeCertificate(e.CertificateID)
		if err != nil {
			t.Errorf("read in watcher: %v", err)
			return
		}
		seen = append(seen, got.Status)
	})
	defer cancel()
	wantKind(t, r.UpdateCertificateStatus(c.ID, StatusInactive), nil)
	wantKind(t, r.UpdateCertificateStatus(c.ID, StatusRevoked), nil)
	if !slices.Equal(seen, []CertificateStatus{StatusInactive, StatusRevoked}) {
		t.Fatalf("watcher saw %v", seen)
	}
}

// TestConcurrentUse runs mixed writers and readers under -race and checks that watchers see every
// certificate's status changes in commit order.
func TestConcurrentUse(t *testing.T) {
	r := openTest(t)
	mustPolicy(t, r, "shared")

	var (
		mu     sync.Mutex
		events = map[string][]CertificateStatus{}
	)
	defer r.Watch(func(e Event) {
		if e.Kind != CertificateStatusChanged {
			return
		}
		mu.Lock()
		events[e.CertificateID] = append(events[e.CertificateID], e.Status)
		mu.Unlock()
	})()

	const workers = 8
	const perWorker = 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker)
	certs := make([][]Certificate, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				name := fmt.Sprintf("w%d-t%d", w, i)
				if _, err := r.CreateThing(CreateThingInput{Name: name}); err != nil {
					errs <- err
					return
				}
				certPEM, _, err := genCertPEM()
				if err != nil {
					errs <- err
					return
				}
				c, err := r.RegisterCertificate(certPEM, StatusActive, "")
				if err != nil {
					errs <- err
					return
				}
				certs[w] = append(certs[w], c)
				for _, step := range []func() error{
					func() error { return r.AttachPolicy("shared", c.ARN) },
					func() error { return r.AttachThingPrincipal(name, c.ARN, "") },
					func() error { return r.UpdateCertificateStatus(c.ID, StatusInactive) },
					func() error { return r.UpdateCertificateStatus(c.ID, StatusActive) },
					func() error { _, err := r.CertificateIdentity(c.ID); return err },
					func() error { _, _, err := r.ListThings(ListThingsInput{MaxResults: 5}); return err },
					func() error { return r.UpdateCertificateStatus(c.ID, StatusRevoked) },
				} {
					if err := step(); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	want := []CertificateStatus{StatusInactive, StatusActive, StatusRevoked}
	for _, cs := range certs {
		for _, c := range cs {
			if got := events[c.ID]; !slices.Equal(got, want) {
				t.Fatalf("certificate %s: events %v, want %v", c.ID, got, want)
			}
		}
	}
	things, _, err := r.ListThings(ListThingsInput{MaxResults: 250})
	wantKind(t, err, nil)
	if len(things) != workers*perWorker {
		t.Fatalf("%d things, want %d", len(things), workers*perWorker)
	}
}

// TestWatchOrderAcrossGoroutines checks that deliveries follow commit order even when many
// goroutines commit at once: a watcher that records the registry's state at each event must see
// the events' statuses in the order their transactions committed.
func TestWatchOrderAcrossGoroutines(t *testing.T) {
	r := openTest(t)
	c := mustCert(t, r, StatusInactive)
	var (
		mu  sync.Mutex
		log []CertificateStatus
	)
	defer r.Watch(func(e Event) {
		mu.Lock()
		log = append(log, e.Status)
		mu.Unlock()
	})()
	var wg sync.WaitGroup
	for i := range 50 {
		status := StatusActive
		if i%2 == 1 {
			status = StatusInactive
		}
		wg.Go(func() { _ = r.UpdateCertificateStatus(c.ID, status) })
	}
	wg.Wait()
	// Every committed change alternates the status, so consecutive events never repeat a status and
	// the last one is the stored state.
	for i := 1; i < len(log); i++ {
		if log[i] == log[i-1] {
			t.Fatalf("events out of commit order: %v", log)
		}
	}
	got, _ := r.DescribeCertificate(c.ID)
	if len(log) > 0 && log[len(log)-1] != got.Status {
		t.Fatalf("last event %s, stored %s", log[len(log)-1], got.Status)
	}
}
