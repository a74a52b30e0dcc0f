package registry

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

func TestRegistrationCode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "registry.db")
	r, _ := openTestAt(t, path)
	code, err := r.GetRegistrationCode()
	wantKind(t, err, nil)
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(code) {
		t.Fatalf("registration code %q is not 64 hex digits", code)
	}
	again, err := r.GetRegistrationCode()
	wantKind(t, err, nil)
	if again != code {
		t.Fatalf("registration code changed: %q then %q", code, again)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r2, _ := openTestAt(t, path)
	if after, err := r2.GetRegistrationCode(); err != nil || after != code {
		t.Fatalf("registration code after reopen = %q, %v; want %q", after, err, code)
	}
	wantKind(t, r2.DeleteRegistrationCode(), nil)
	wantKind(t, r2.DeleteRegistrationCode(), nil)
	if fresh, err := r2.GetRegistrationCode(); err != nil || fresh == code {
		t.Fatalf("code after DeleteRegistrationCode = %q, %v; want a new one", fresh, err)
	}
}

func TestRegisterCACertificate(t *testing.T) {
	r := openTest(t)
	code, err := r.GetRegistrationCode()
	wantKind(t, err, nil)
	ca := newTestCA(t, "Root", true)
	other := newTestCA(t, "Other", true)
	notCA := newTestCA(t, "Leafish", false)
	_, goodVerification := ca.issue(t, code)
	_, wrongCN := ca.issue(t, "not-the-code")
	_, wrongSigner := other.issue(t, code)

	tests := []struct {
		name string
		in   RegisterCACertificateInput
		kind error
	}{
		{"not PEM", RegisterCACertificateInput{CACertificatePEM: "junk", VerificationCertificatePEM: goodVerification}, ErrCertificateValidation},
		{"not a CA", RegisterCACertificateInput{CACertificatePEM: notCA.pem, VerificationCertificatePEM: goodVerification}, ErrCertificateValidation},
		{"no verification certificate", RegisterCACertificateInput{CACertificatePEM: ca.pem}, ErrInvalidRequest},
		{"verification not signed by the CA", RegisterCACertificateInput{CACertificatePEM: ca.pem, VerificationCertificatePEM: wrongSigner}, ErrRegistrationCodeValidation},
		{"verification with another common name", RegisterCACertificateInput{CACertificatePEM: ca.pem, VerificationCertificatePEM: wrongCN}, ErrRegistrationCodeValidation},
		{"verification not PEM", RegisterCACertificateInput{CACertificatePEM: ca.pem, VerificationCertificatePEM: "junk"}, ErrCertificateValidation},
		{"SNI_ONLY with a verification certificate", RegisterCACertificateInput{CACertificatePEM: ca.pem, VerificationCertificatePEM: goodVerification, Mode: ModeSNIOnly}, ErrInvalidRequest},
		{"unknown mode", RegisterCACertificateInput{CACertificatePEM: ca.pem, VerificationCertificatePEM: goodVerification, Mode: "BOTH"}, ErrInvalidRequest},
		{"bad tag", RegisterCACertificateInput{CACertificatePEM: ca.pem, VerificationCertificatePEM: goodVerification, Tags: []Tag{{Key: "aws:x"}}}, ErrInvalidRequest},
		{"DEFAULT", RegisterCACertificateInput{CACertificatePEM: ca.pem, VerificationCertificatePEM: goodVerification, SetAsActive: true, AllowAutoRegistration: true,
			RegistrationConfig: RegistrationConfig{TemplateBody: "{}", RoleARN: "arn:aws:iam::111122223333:role/jitp"}}, nil},
		{"again", RegisterCACertificateInput{CACertificatePEM: ca.pem, VerificationCertificatePEM: goodVerification}, ErrAlreadyExists},
		{"SNI_ONLY", RegisterCACertificateInput{CACertificatePEM: other.pem, Mode: ModeSNIOnly}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.RegisterCACertificate(tc.in)
			wantKind(t, err, tc.kind)
			if tc.kind != nil {
				return
			}
			desc, err := r.DescribeCACertificate(got.ID)
			wantKind(t, err, nil)
			if desc != got {
				t.Fatalf("described %+v\nregistered %+v", desc, got)
			}
			if got.ARN != "arn:aws:iot:eu-west-1:111122223333:cacert/"+got.ID || got.OwnedBy != testAccount || got.CustomerVersion != 1 {
				t.Fatalf("CA %+v", got)
			}
		})
	}
	def, err := r.DescribeCACertificate(CertificateID(ca.cert.Raw))
	wantKind(t, err, nil)
	if def.Status != StatusActive || def.AutoRegistrationStatus != AutoRegistrationEnable || def.Mode != ModeDefault ||
		def.RegistrationConfig.RoleARN == "" || !def.NotAfter.Equal(ca.cert.NotAfter) {
		t.Fatalf("DEFAULT CA %+v", def)
	}
	sni, err := r.DescribeCACertificate(CertificateID(other.cert.Raw))
	wantKind(t, err, nil)
	if sni.Status != StatusInactive || sni.AutoRegistrationStatus != AutoRegistrationDisable || sni.Mode != ModeSNIOnly {
		t.Fatalf("SNI_ONLY CA %+v", sni)
	}
	_, err = r.DescribeCACertificate(CertificateID(notCA.cert.Raw))
	wantKind(t, err, ErrNotFound)
}

// TestCAsPerSubjectLimit checks AWS's quota of ten CA certificates with one subject.
func TestCAsPerSubjectLimit(t *testing.T) {
	r := openTest(t)
	for i := range 11 {
		ca := newTestCA(t, "Same Subject", true)
		code, err := r.GetRegistrationCode()
		wantKind(t, err, nil)
		_, v := ca.issue(t, code)
		_, err = r.RegisterCACertificate(RegisterCACertificateInput{CACertificatePEM: ca.pem, VerificationCertificatePEM: v})
		if i < 10 {
			wantKind(t, err, nil)
		} else {
			wantKind(t, err, ErrLimitExceeded)
		}
	}
}

func TestUpdateListDeleteCACertificate(t *testing.T) {
	r := openTest(t)
	a := mustCA(t, r, newTestCA(t, "A", true), false, false)
	caB := newTestCA(t, "B", true)
	b := mustCA(t, r, caB, true, false)
	rec := watch(t, r)

	config := RegistrationConfig{TemplateBody: `{"Resources":{}}`, TemplateName: "tpl"}
	tests := []struct {
		name string
		id   string
		in   UpdateCACertificateInput
		kind error
		want func(CACertificate) bool
	}{
		{"activate", a.ID, UpdateCACertificateInput{NewStatus: StatusActive}, nil, func(c CACertificate) bool { return c.Status == StatusActive && c.CustomerVersion == 2 }},
		{"same status again", a.ID, UpdateCACertificateInput{NewStatus: StatusActive}, nil, func(c CACertificate) bool { return c.CustomerVersion == 2 }},
		{"enable auto-registration", a.ID, UpdateCACertificateInput{NewAutoRegistrationStatus: AutoRegistrationEnable}, nil,
			func(c CACertificate) bool { return c.AutoRegistrationStatus == AutoRegistrationEnable }},
		{"set the template", a.ID, UpdateCACertificateInput{RegistrationConfig: &config}, nil, func(c CACertificate) bool { return c.RegistrationConfig == config }},
		{"remove the template", a.ID, UpdateCACertificateInput{RemoveAutoRegistration: true}, nil, func(c CACertificate) bool { return c.RegistrationConfig == RegistrationConfig{} }},
		{"revoked is not a CA status", a.ID, UpdateCACertificateInput{NewStatus: StatusRevoked}, ErrInvalidRequest, nil},
		{"REGISTER_INACTIVE is deprecated", a.ID, UpdateCACertificateInput{NewStatus: StatusRegisterInactive}, ErrInvalidRequest, nil},
		{"unknown auto-registration", a.ID, UpdateCACertificateInput{NewAutoRegistrationStatus: "MAYBE"}, ErrInvalidRequest, nil},
		{"missing CA", fmt.Sprintf("%064x", 1), UpdateCACertificateInput{NewStatus: StatusActive}, ErrNotFound, nil},
		{"bad id", "xyz", UpdateCACertificateInput{NewStatus: StatusActive}, ErrInvalidRequest, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantKind(t, r.UpdateCACertificate(tc.id, tc.in), tc.kind)
			if tc.want == nil {
				return
			}
			c, err := r.DescribeCACertificate(tc.id)
			wantKind(t, err, nil)
			if !tc.want(c) {
				t.Fatalf("after update: %+v", c)
			}
		})
	}
	if ev := rec.take(); len(ev) != 0 {
		t.Fatalf("CA updates notified %+v; device certificates of a CA keep working whatever its status", ev)
	}

	// Listing, by creation date, both orders, with paging and the template filter.
	wantKind(t, r.UpdateCACertificate(b.ID, UpdateCACertificateInput{RegistrationConfig: &config}), nil)
	page, next, err := r.ListCACertificates("", 1, true, "")
	wantKind(t, err, nil)
	if len(page) != 1 || page[0].ID != a.ID || next == "" {
		t.Fatalf("first page %+v next %q", page, next)
	}
	page, next, err = r.ListCACertificates(next, 1, true, "")
	wantKind(t, err, nil)
	if len(page) != 1 || page[0].ID != b.ID || next != "" {
		t.Fatalf("second page %+v next %q", page, next)
	}
	page, _, err = r.ListCACertificates("", 0, false, "")
	wantKind(t, err, nil)
	if len(page) != 2 || page[0].ID != b.ID {
		t.Fatalf("descending %+v", page)
	}
	page, _, err = r.ListCACertificates("", 0, true, "tpl")
	wantKind(t, err, nil)
	if len(page) != 1 || page[0].ID != b.ID {
		t.Fatalf("templateName filter %+v", page)
	}
	_, _, err = r.ListCACertificates("bogus", 0, true, "")
	wantKind(t, err, ErrInvalidRequest)

	// Deleting: an ACTIVE CA is refused; its device certificates outlive it.
	_, leafPEM := caB.issue(t, "device")
	leaf, err := r.RegisterCertificateWithCA(RegisterCertificateInput{CertificatePEM: leafPEM, Status: StatusActive})
	wantKind(t, err, nil)
	wantKind(t, r.DeleteCACertificate(b.ID), ErrCertificateState, "The CA certificate must be deactivated (not ACTIVE) before deletion.")
	wantKind(t, r.UpdateCACertificate(b.ID, UpdateCACertificateInput{NewStatus: StatusInactive}), nil)
	wantKind(t, r.DeleteCACertificate(b.ID), nil)
	wantKind(t, r.DeleteCACertificate(b.ID), ErrNotFound)
	if _, err := r.DescribeCertificate(leaf.ID); err != nil {
		t.Fatalf("device certificate gone with its CA: %v", err)
	}
	page, _, err = r.ListCACertificates("", 0, true, "")
	wantKind(t, err, nil)
	if len(page) != 1 || page[0].ID != a.ID {
		t.Fatalf("after delete %+v", page)
	}
}

func TestRegisterCertificateWithCA(t *testing.T) {
	r := openTest(t)
	active := newTestCA(t, "Active CA", true)
	inactive := newTestCA(t, "Inactive CA", true)
	unregistered := newTestCA(t, "Unregistered CA", true)
	sni := newTestCA(t, "SNI CA", true)
	activeCA := mustCA(t, r, active, true, false)
	inactiveCA := mustCA(t, r, inactive, false, false)
	sniCA, err := r.RegisterCACertificate(RegisterCACertificateInput{CACertificatePEM: sni.pem, Mode: ModeSNIOnly, SetAsActive: true})
	wantKind(t, err, nil)
	// Two registrations of one subject and key: a certificate they signed is ambiguous.
	twinA := newTestCA(t, "Twin", true)
	twinB := caWithKey(t, "Twin", twinA.key, true)
	mustCA(t, r, twinA, true, false)
	mustCA(t, r, twinB, true, false)

	_, byActive := active.issue(t, "d1")
	_, byActive2 := active.issue(t, "d2")
	_, byInactive := inactive.issue(t, "d3")
	_, byInactive2 := inactive.issue(t, "d4")
	_, byUnregistered := unregistered.issue(t, "d5")
	_, bySNI := sni.issue(t, "d6")
	_, byTwin := twinA.issue(t, "d7")
	_, byTwin2 := twinA.issue(t, "d8")

	tests := []struct {
		name   string
		in     RegisterCertificateInput
		kind   error
		ca     string
		status CertificateStatus
		mode   CertificateMode
	}{
		{"CA found by issuer", RegisterCertificateInput{CertificatePEM: byActive, Status: StatusActive}, nil, activeCA.ID, StatusActive, ModeDefault},
		{"already registered", RegisterCertificateInput{CertificatePEM: byActive}, ErrAlreadyExists, "", "", ""},
		{"CA given, default status", RegisterCertificateInput{CertificatePEM: byActive2, CACertificatePEM: active.pem}, nil, activeCA.ID, StatusInactive, ModeDefault},
		{"ACTIVE with an inactive CA", RegisterCertificateInput{CertificatePEM: byInactive, Status: StatusActive}, ErrCertificateState, "", "", ""},
		{"INACTIVE with an inactive CA", RegisterCertificateInput{CertificatePEM: byInactive2, Status: StatusInactive}, nil, inactiveCA.ID, StatusInactive, ModeDefault},
		{"unregistered CA, not given", RegisterCertificateInput{CertificatePEM: byUnregistered}, ErrCertificateValidation, "", "", ""},
		{"unregistered CA, given", RegisterCertificateInput{CertificatePEM: byUnregistered, CACertificatePEM: unregistered.pem}, ErrCertificateValidation, "", "", ""},
		{"another CA given", RegisterCertificateInput{CertificatePEM: byInactive, CACertificatePEM: active.pem}, ErrCertificateValidation, "", "", ""},
		{"self-signed", RegisterCertificateInput{CertificatePEM: mustPEM(t)}, ErrCertificateValidation, "", "", ""},
		{"SNI_ONLY CA passes its mode on", RegisterCertificateInput{CertificatePEM: bySNI, Status: StatusRevoked}, nil, sniCA.ID, StatusRevoked, ModeSNIOnly},
		{"twin CAs, none given", RegisterCertificateInput{CertificatePEM: byTwin}, ErrCertificateConflict, "", "", ""},
		{"twin CAs, one given", RegisterCertificateInput{CertificatePEM: byTwin2, CACertificatePEM: twinB.pem}, nil, CertificateID(twinB.cert.Raw), StatusInactive, ModeDefault},
		{"pending status refused", RegisterCertificateInput{CertificatePEM: byTwin, CACertificatePEM: twinA.pem, Status: StatusPendingActivation}, ErrInvalidRequest, "", "", ""},
		{"not PEM", RegisterCertificateInput{CertificatePEM: "junk"}, ErrCertificateValidation, "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := r.RegisterCertificateWithCA(tc.in)
			wantKind(t, err, tc.kind)
			if tc.kind != nil {
				return
			}
			if c.CACertificateID != tc.ca || c.Status != tc.status || c.Mode != tc.mode {
				t.Fatalf("certificate %+v; want CA %s, status %s, mode %s", c, tc.ca, tc.status, tc.mode)
			}
			if got, err := r.DescribeCertificate(c.ID); err != nil || got != c {
				t.Fatalf("described %+v, %v; want %+v", got, err, c)
			}
		})
	}

	// ListCertificatesByCA pages the CA's certificates only.
	page, next, err := r.ListCertificatesByCA(activeCA.ID, "", 1, true)
	wantKind(t, err, nil)
	if len(page) != 1 || next == "" {
		t.Fatalf("first page %+v, next %q", page, next)
	}
	rest, next2, err := r.ListCertificatesByCA(activeCA.ID, next, 1, true)
	wantKind(t, err, nil)
	if len(rest) != 1 || next2 != "" || rest[0].ID == page[0].ID || rest[0].CACertificateID != activeCA.ID {
		t.Fatalf("second page %+v, next %q", rest, next2)
	}
	none, _, err := r.ListCertificatesByCA(fmt.Sprintf("%064x", 7), "", 0, true)
	wantKind(t, err, nil)
	if len(none) != 0 {
		t.Fatalf("certificates of an unknown CA: %+v", none)
	}
	_, _, err = r.ListCertificatesByCA(activeCA.ID, next, 0, true)
	wantKind(t, err, nil)
	_, _, err = r.ListCertificatesByCA("nope", "", 0, true)
	wantKind(t, err, ErrInvalidRequest)
}

// mustPEM is a self-signed certificate's PEM.
func mustPEM(t *testing.T) string {
	p, _ := newCertPEM(t)
	return p
}

func TestAutoRegisterCertificate(t *testing.T) {
	r := openTest(t)
	enabled := newTestCA(t, "JITR CA", true)
	disabled := newTestCA(t, "Manual CA", true)
	off := newTestCA(t, "Inactive JITR CA", true)
	stranger := newTestCA(t, "Stranger", true)
	// An impostor has the JITR CA's subject but another key: its certificates' issuer matches,
	// their signature does not.
	impostor := newTestCA(t, "JITR CA", true)
	enabledCA := mustCA(t, r, enabled, true, true)
	mustCA(t, r, disabled, true, false)
	mustCA(t, r, off, false, true)

	known, knownPEM := enabled.issue(t, "known")
	knownCert, err := r.RegisterCertificateWithCA(RegisterCertificateInput{CertificatePEM: knownPEM, Status: StatusActive})
	wantKind(t, err, nil)
	fresh, _ := enabled.issue(t, "fresh")
	byDisabled, _ := disabled.issue(t, "manual")
	byOff, _ := off.issue(t, "off")
	byStranger, _ := stranger.issue(t, "stranger")
	forged, _ := impostor.issue(t, "forged")
	if string(forged.RawIssuer) != string(enabled.cert.RawSubject) {
		t.Fatal("the impostor's certificate should name the JITR CA as issuer")
	}
	rec := watch(t, r)

	tests := []struct {
		name    string
		cert    *x509.Certificate
		created bool
		want    string // id of the certificate returned, "" for none
	}{
		{"unknown, signed by an enabled CA", fresh, true, CertificateID(fresh.Raw)},
		{"the same again", fresh, false, CertificateID(fresh.Raw)},
		{"registered already", known, false, knownCert.ID},
		{"CA with auto-registration off", byDisabled, false, ""},
		{"inactive CA", byOff, false, ""},
		{"unregistered CA", byStranger, false, ""},
		{"issuer matches, signature does not", forged, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, created, err := r.AutoRegisterCertificate(tc.cert)
			wantKind(t, err, nil)
			if created != tc.created || c.ID != tc.want {
				t.Fatalf("got %s, created %t; want %q, %t", c.ID, created, tc.want, tc.created)
			}
			if tc.want == "" {
				if _, err := r.DescribeCertificate(CertificateID(tc.cert.Raw)); err == nil {
					t.Fatal("an unsigned certificate was registered")
				}
			}
		})
	}
	c, err := r.DescribeCertificate(CertificateID(fresh.Raw))
	wantKind(t, err, nil)
	if c.Status != StatusPendingActivation || c.CACertificateID != enabledCA.ID || c.Mode != ModeDefault {
		t.Fatalf("auto-registered certificate %+v", c)
	}
	events := rec.take()
	if len(events) != 1 {
		t.Fatalf("events %+v, want one CertificateRegistered", events)
	}
	ev := events[0]
	if ev.Kind != CertificateRegistered || ev.CertificateID != c.ID || ev.CACertificateID != enabledCA.ID ||
		ev.Status != StatusPendingActivation || len(ev.Publications) != 1 {
		t.Fatalf("event %+v", ev)
	}
	pub := ev.Publications[0]
	if pub.Topic != "$aws/events/certificates/registered/"+enabledCA.ID {
		t.Fatalf("topic %q", pub.Topic)
	}
	var msg map[string]any
	if err := json.Unmarshal(pub.Payload, &msg); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"certificateId": c.ID, "caCertificateId": enabledCA.ID, "certificateStatus": "PENDING_ACTIVATION",
		"awsAccountId": testAccount, "certificateRegistrationTimestamp": strconv.FormatInt(c.CreationDate.UnixMilli(), 10),
	}
	for k, v := range want {
		if msg[k] != v {
			t.Errorf("%s = %v, want %v (payload %s)", k, msg[k], v, pub.Payload)
		}
	}
	if ts, ok := msg["timestamp"].(float64); !ok || ts <= 0 {
		t.Errorf("timestamp %v", msg["timestamp"])
	}
	if len(msg) != 6 {
		t.Errorf("payload has %d members, want 6: %s", len(msg), pub.Payload)
	}

	// The certificate connects once activated; no second registration happens.
	wantKind(t, r.UpdateCertificateStatus(c.ID, StatusActive), nil)
	if _, created, _ := r.AutoRegisterCertificate(fresh); created {
		t.Fatal("registered twice")
	}
	if _, _, err := r.AutoRegisterCertificate(nil); err == nil {
		t.Fatal("nil certificate accepted")
	}
	// The repeated message for a certificate still pending is built on demand.
	p, err := r.CertificateRegisteredPublication(c)
	wantKind(t, err, nil)
	if p.Topic != pub.Topic {
		t.Fatalf("topic %q", p.Topic)
	}
}
