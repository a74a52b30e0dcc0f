package registry

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestRegisterCertificate(t *testing.T) {
	r := openTest(t)
	certPEM, wantID := newCertPEM(t)
	c, err := r.RegisterCertificate(certPEM, StatusActive, "")
	wantKind(t, err, nil)

	block, _ := pem.Decode([]byte(certPEM))
	x, _ := x509.ParseCertificate(block.Bytes)
	switch {
	case c.ID != wantID:
		t.Errorf("ID = %s, want %s", c.ID, wantID)
	case c.ARN != "arn:aws:iot:eu-west-1:111122223333:cert/"+wantID:
		t.Errorf("ARN = %s", c.ARN)
	case c.Status != StatusActive || c.OwnedBy != testAccount || c.CustomerVersion != 1:
		t.Errorf("certificate = %+v", c)
	case !c.NotBefore.Equal(x.NotBefore) || !c.NotAfter.Equal(x.NotAfter):
		t.Errorf("validity %v..%v, want %v..%v", c.NotBefore, c.NotAfter, x.NotBefore, x.NotAfter)
	case c.CreationDate.IsZero() || !c.CreationDate.Equal(c.LastModifiedDate):
		t.Errorf("dates %v %v", c.CreationDate, c.LastModifiedDate)
	case c.PEM != certPEM:
		t.Errorf("PEM not kept")
	}
	if _, err := uuid.Parse(c.GenerationID); err != nil {
		t.Errorf("generation id %q: %v", c.GenerationID, err)
	}
	got, err := r.DescribeCertificate(strings.ToUpper(wantID))
	wantKind(t, err, nil)
	if got.ID != wantID || !got.CreationDate.Equal(c.CreationDate) {
		t.Errorf("DescribeCertificate = %+v", got)
	}

	_, err = r.RegisterCertificate(certPEM, StatusInactive, "")
	wantKind(t, err, ErrAlreadyExists)
	if e := err.(*Error); e.ResourceID != wantID || e.ResourceARN != c.ARN {
		t.Errorf("duplicate names %q %q", e.ResourceID, e.ResourceARN)
	}
}

func TestRegisterCertificateRefusals(t *testing.T) {
	r := openTest(t)
	good, _ := newCertPEM(t)
	block, _ := pem.Decode([]byte(good))
	truncated := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: block.Bytes[:len(block.Bytes)/2]}))
	keyBlock := "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
	tests := []struct {
		name   string
		pem    string
		status CertificateStatus
		ca     string
		kind   error
		text   string
	}{
		{"empty", "", StatusActive, "", ErrCertificateValidation, "not PEM-encoded"},
		{"garbage", "hello", StatusActive, "", ErrCertificateValidation, "not PEM-encoded"},
		{"private key", keyBlock, StatusActive, "", ErrCertificateValidation, "PRIVATE KEY"},
		{"bad DER", truncated, StatusActive, "", ErrCertificateValidation, "not a valid X.509"},
		{"unknown status", good, "ENABLED", "", ErrInvalidRequest, "status"},
		{"bad CA id", good, StatusActive, "xyz", ErrInvalidRequest, "certificate ID"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := r.RegisterCertificate(tc.pem, tc.status, tc.ca)
			wantKind(t, err, tc.kind)
			if !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("message %q does not mention %q", err, tc.text)
			}
		})
	}
}

func TestRegisterCertificateDefaults(t *testing.T) {
	r := openTest(t)
	p, _ := newCertPEM(t)
	ca := strings.Repeat("AB", 32)
	c, err := r.RegisterCertificate(p, "", ca)
	wantKind(t, err, nil)
	if c.Status != StatusInactive || c.CACertificateID != strings.ToLower(ca) {
		t.Fatalf("certificate = %+v", c)
	}
	// Every status AWS knows may be registered, including the pending ones used by provisioning.
	for _, s := range []CertificateStatus{StatusActive, StatusInactive, StatusRevoked, StatusPendingTransfer,
		StatusRegisterInactive, StatusPendingActivation} {
		if c := mustCert(t, r, s); c.Status != s {
			t.Fatalf("status %s stored as %s", s, c.Status)
		}
	}
}

func TestDescribeCertificateIDs(t *testing.T) {
	r := openTest(t)
	c := mustCert(t, r, StatusActive)
	tests := []struct {
		id   string
		kind error
	}{
		{c.ID, nil},
		{strings.ToUpper(c.ID), nil},
		{"0x" + c.ID, nil},
		{strings.Repeat("0", 64), ErrNotFound},
		{"short", ErrInvalidRequest},
		{strings.Repeat("g", 64), ErrInvalidRequest},
	}
	for _, tc := range tests {
		_, err := r.DescribeCertificate(tc.id)
		wantKind(t, err, tc.kind)
	}
}

func TestUpdateCertificateStatus(t *testing.T) {
	tests := []struct {
		from, to CertificateStatus
		kind     error
		msg      string
	}{
		{StatusActive, StatusInactive, nil, ""},
		{StatusInactive, StatusActive, nil, ""},
		{StatusActive, StatusRevoked, nil, ""},
		{StatusActive, StatusActive, nil, ""},
		{StatusRevoked, StatusInactive, nil, ""},
		{StatusRevoked, StatusActive, ErrCertificateState, "Certificate is revoked"},
		{StatusPendingActivation, StatusActive, nil, ""},
		{StatusInactive, StatusRegisterInactive, nil, ""},
		{StatusInactive, StatusPendingTransfer, ErrInvalidRequest, ""},
		{StatusInactive, StatusPendingActivation, ErrInvalidRequest, ""},
		{StatusInactive, "BOGUS", ErrInvalidRequest, ""},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s to %s", tc.from, tc.to), func(t *testing.T) {
			r := openTest(t)
			c := mustCert(t, r, tc.from)
			rec := watch(t, r)
			err := r.UpdateCertificateStatus(strings.ToUpper(c.ID), tc.to)
			if tc.msg != "" {
				wantKind(t, err, tc.kind, tc.msg)
			} else {
				wantKind(t, err, tc.kind)
			}
			got, _ := r.DescribeCertificate(c.ID)
			events := rec.take()
			switch {
			case tc.kind != nil || tc.from == tc.to:
				if got.Status != tc.from || !got.LastModifiedDate.Equal(c.LastModifiedDate) || len(events) != 0 {
					t.Fatalf("unchanged certificate changed: %+v, events %v", got, events)
				}
			default:
				if got.Status != tc.to || !got.LastModifiedDate.After(c.LastModifiedDate) || got.CustomerVersion != 2 {
					t.Fatalf("after update: %+v", got)
				}
				want := Event{Kind: CertificateStatusChanged, CertificateID: c.ID, Status: tc.to}
				if !eventsEqual(events, []Event{want}) {
					t.Fatalf("events = %+v, want %+v", events, want)
				}
			}
		})
	}
	r := openTest(t)
	wantKind(t, r.UpdateCertificateStatus(strings.Repeat("a", 64), StatusActive), ErrNotFound)
}

func TestDeleteCertificate(t *testing.T) {
	type setup struct {
		status CertificateStatus
		thing  bool
		policy bool
	}
	tests := []struct {
		name  string
		setup setup
		force bool
		kind  error
		msg   string
	}{
		{"inactive", setup{StatusInactive, false, false}, false, nil, ""},
		{"revoked", setup{StatusRevoked, false, false}, false, nil, ""},
		{"active", setup{StatusActive, false, false}, false, ErrCertificateState,
			"Certificate must be deactivated (not ACTIVE) before deletion."},
		{"active with force", setup{StatusActive, false, true}, true, ErrCertificateState, ""},
		{"thing attached", setup{StatusInactive, true, false}, false, ErrDeleteConflict, "Things must be detached before deletion (arn: %s)"},
		{"thing attached with force", setup{StatusInactive, true, true}, true, ErrDeleteConflict, ""},
		{"policy attached", setup{StatusInactive, false, true}, false, ErrDeleteConflict, ""},
		{"policy attached with force", setup{StatusInactive, false, true}, true, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := openTest(t)
			c := mustCert(t, r, tc.setup.status)
			if tc.setup.thing {
				mustThing(t, r, "t")
				wantKind(t, r.AttachThingPrincipal("t", c.ARN, ""), nil)
			}
			if tc.setup.policy {
				mustPolicy(t, r, "p")
				wantKind(t, r.AttachPolicy("p", c.ARN), nil)
			}
			rec := watch(t, r)
			err := r.DeleteCertificate(strings.ToUpper(c.ID), tc.force)
			if tc.msg != "" {
				msg := tc.msg
				if strings.Contains(msg, "%s") {
					msg = fmt.Sprintf(msg, c.ARN)
				}
				wantKind(t, err, tc.kind, msg)
			} else {
				wantKind(t, err, tc.kind)
			}
			_, derr := r.DescribeCertificate(c.ID)
			events := rec.take()
			if tc.kind != nil {
				if derr != nil || len(events) != 0 {
					t.Fatalf("refused delete changed state: %v, %v", derr, events)
				}
				return
			}
			wantKind(t, derr, ErrNotFound)
			if len(events) != 1 || events[0].Kind != CertificateDeleted || events[0].CertificateID != c.ID {
				t.Fatalf("events = %+v", events)
			}
			if tc.setup.policy {
				// The forced delete removed the attachment, so the policy can go.
				wantKind(t, r.DeletePolicy("p"), nil)
			}
			page, _, err := r.ListCertificates("", 0, true)
			wantKind(t, err, nil)
			if len(page) != 0 {
				t.Fatalf("deleted certificate still listed")
			}
		})
	}
	r := openTest(t)
	wantKind(t, r.DeleteCertificate(strings.Repeat("b", 64), false), ErrNotFound)
	wantKind(t, r.DeleteCertificate("nope", false), ErrInvalidRequest)
}

func TestListCertificatesPaging(t *testing.T) {
	r := openTest(t)
	var want []string // creation order (the test clock advances per call)
	for range 60 {
		want = append(want, mustCert(t, r, StatusActive).ID)
	}
	tests := []struct {
		size      int
		ascending bool
		pages     []int
	}{
		{0, true, []int{25, 25, 10}},
		{0, false, []int{25, 25, 10}},
		{7, true, []int{7, 7, 7, 7, 7, 7, 7, 7, 4}},
		{60, false, []int{60}},
		{250, true, []int{60}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("size %d ascending %v", tc.size, tc.ascending), func(t *testing.T) {
			var (
				ids    []string
				sizes  []int
				marker string
			)
			for {
				page, next, err := r.ListCertificates(marker, tc.size, tc.ascending)
				wantKind(t, err, nil)
				sizes = append(sizes, len(page))
				for _, c := range page {
					ids = append(ids, c.ID)
				}
				if next == "" {
					break
				}
				marker = next
			}
			if fmt.Sprint(sizes) != fmt.Sprint(tc.pages) {
				t.Fatalf("page sizes %v, want %v", sizes, tc.pages)
			}
			for i := range want {
				j := i
				if !tc.ascending {
					j = len(want) - 1 - i
				}
				if ids[i] != want[j] {
					t.Fatalf("ids[%d] = %s, want %s", i, ids[i], want[j])
				}
			}
		})
	}
	for _, size := range []int{-1, 251} {
		_, _, err := r.ListCertificates("", size, true)
		wantKind(t, err, ErrInvalidRequest)
	}
	_, _, err := r.ListCertificates("garbage!", 0, true)
	wantKind(t, err, ErrInvalidRequest)
}

func TestListCertificatesSameCreationDate(t *testing.T) {
	// With a frozen clock the order falls back to the certificate id.
	r := openTest(t, func(o *Options) { o.Now = func() time.Time { return clockStart } })
	var ids []string
	for range 5 {
		ids = append(ids, mustCert(t, r, StatusInactive).ID)
	}
	slices.Sort(ids)
	var got []string
	marker := ""
	for {
		page, next, err := r.ListCertificates(marker, 2, true)
		wantKind(t, err, nil)
		for _, c := range page {
			got = append(got, c.ID)
		}
		if next == "" {
			break
		}
		marker = next
	}
	if !slices.Equal(got, ids) {
		t.Fatalf("got %v, want %v", got, ids)
	}
}

func TestCertificateIdentity(t *testing.T) {
	r := openTest(t)
	c := mustCert(t, r, StatusActive)
	other := mustCert(t, r, StatusActive)
	for _, name := range []string{"zeta", "alpha", "mid"} {
		mustPolicy(t, r, name)
		wantKind(t, r.AttachPolicy(name, c.ARN), nil)
	}
	mustPolicy(t, r, "unrelated")
	wantKind(t, r.AttachPolicy("unrelated", other.ARN), nil)
	mustThing(t, r, "t1")
	mustThing(t, r, "t2")
	wantKind(t, r.AttachThingPrincipal("t2", c.ARN, NonExclusiveThing), nil)
	wantKind(t, r.AttachThingPrincipal("t1", c.ARN, ""), nil)

	v, err := r.CertificateIdentity(strings.ToUpper(c.ID))
	wantKind(t, err, nil)
	if v.Certificate.ID != c.ID {
		t.Fatalf("certificate %s", v.Certificate.ID)
	}
	var names []string
	for _, p := range v.Policies {
		names = append(names, p.Name)
		if p.Document != allowAll {
			t.Fatalf("policy %s has document %q", p.Name, p.Document)
		}
	}
	if got := strings.Join(names, ","); got != "alpha,mid,zeta" {
		t.Fatalf("policies %s", got)
	}
	wantThings := []ThingAttachment{
		{ThingName: "t1", Principal: c.ARN, Type: NonExclusiveThing},
		{ThingName: "t2", Principal: c.ARN, Type: NonExclusiveThing},
	}
	if !slices.Equal(v.Things, wantThings) {
		t.Fatalf("things %+v, want %+v", v.Things, wantThings)
	}
	_, err = r.CertificateIdentity(strings.Repeat("c", 64))
	wantKind(t, err, ErrNotFound)
}
