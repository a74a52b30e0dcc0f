package registry

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	testRegion  = "eu-west-1"
	testAccount = "111122223333"
)

// testClock is a deterministic Now: each call advances one second from a fixed start.
type testClock struct{ n atomic.Int64 }

var clockStart = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func (c *testClock) Now() time.Time { return clockStart.Add(time.Duration(c.n.Add(1)) * time.Second) }

// openTest opens a registry in a fresh temporary folder and closes it at the end of the test.
func openTest(t *testing.T, mutate ...func(*Options)) *Registry {
	t.Helper()
	r, _ := openTestAt(t, filepath.Join(t.TempDir(), "registry.db"), mutate...)
	return r
}

func openTestAt(t *testing.T, path string, mutate ...func(*Options)) (*Registry, string) {
	t.Helper()
	clock := &testClock{}
	opts := Options{Region: testRegion, Account: testAccount, Now: clock.Now}
	for _, m := range mutate {
		m(&opts)
	}
	r, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r, path
}

// newCertPEM makes a self-signed ECDSA certificate and returns its PEM and expected id.
func newCertPEM(t testing.TB) (string, string) {
	t.Helper()
	p, id, err := genCertPEM()
	if err != nil {
		t.Fatal(err)
	}
	return p, id
}

// genCertPEM is newCertPEM for goroutines other than the test's, which must not call t.Fatal.
func genCertPEM() (string, string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return "", "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "device"},
		NotBefore:    time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:     time.Date(2049, 12, 31, 23, 59, 59, 0, time.UTC),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", err
	}
	sum := sha256.Sum256(der)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), hex.EncodeToString(sum[:]), nil
}

// mustCert registers a new certificate with the given status.
func mustCert(t testing.TB, r *Registry, status CertificateStatus) Certificate {
	t.Helper()
	p, _ := newCertPEM(t)
	c, err := r.RegisterCertificate(p, status, "")
	if err != nil {
		t.Fatalf("RegisterCertificate: %v", err)
	}
	return c
}

func mustThing(t testing.TB, r *Registry, name string) Thing {
	t.Helper()
	th, err := r.CreateThing(CreateThingInput{Name: name})
	if err != nil {
		t.Fatalf("CreateThing(%s): %v", name, err)
	}
	return th
}

func mustType(t testing.TB, r *Registry, name string) ThingType {
	t.Helper()
	tt, err := r.CreateThingType(CreateThingTypeInput{Name: name})
	if err != nil {
		t.Fatalf("CreateThingType(%s): %v", name, err)
	}
	return tt
}

func mustGroup(t testing.TB, r *Registry, name, parent string) ThingGroup {
	t.Helper()
	g, err := r.CreateThingGroup(CreateThingGroupInput{Name: name, ParentName: parent})
	if err != nil {
		t.Fatalf("CreateThingGroup(%s): %v", name, err)
	}
	return g
}

const allowAll = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}`

func mustPolicy(t testing.TB, r *Registry, name string) Policy {
	t.Helper()
	p, err := r.CreatePolicy(name, allowAll)
	if err != nil {
		t.Fatalf("CreatePolicy(%s): %v", name, err)
	}
	return p
}

// wantKind fails unless err is a *Error of the kind (nil kind: err must be nil) and, when msg is
// given, has exactly that message.
func wantKind(t *testing.T, err, kind error, msg ...string) {
	t.Helper()
	if kind == nil {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want *Error of kind %v", err, err, kind)
	}
	if !errors.Is(err, kind) {
		t.Fatalf("error kind = %v (%q), want %v", e.Kind, e.Message, kind)
	}
	if e.Message == "" {
		t.Fatalf("error of kind %v has no message", kind)
	}
	if len(msg) > 0 && e.Message != msg[0] {
		t.Fatalf("message = %q, want %q", e.Message, msg[0])
	}
}

// recorder collects watched events.
type recorder struct {
	mu     sync.Mutex
	events []Event
	things bool // record ThingChanged events too
}

func (rec *recorder) add(e Event) {
	if e.Kind == ThingChanged && !rec.things {
		return // fleet indexing's events; the tests of the other kinds leave them out
	}
	if e.Kind == MembershipChanged || e.Kind == ThingDeleted {
		return // for the jobs service; membership_test.go checks them
	}
	rec.mu.Lock()
	rec.events = append(rec.events, e)
	rec.mu.Unlock()
}

func (rec *recorder) take() []Event {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	ev := rec.events
	rec.events = nil
	return ev
}

// eventsEqual compares event lists deeply (an Event holds a slice, so it is not comparable).
func eventsEqual(a, b []Event) bool { return reflect.DeepEqual(a, b) }

func watch(t *testing.T, r *Registry) *recorder {
	rec := &recorder{}
	t.Cleanup(r.Watch(rec.add))
	return rec
}

// testCA is a certificate authority made for a test: its certificate and key.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  string
}

// newTestCA makes a self-signed CA named cn (basic constraints CA:TRUE). With isCA false it makes
// the same certificate without the CA constraint, which AWS refuses to register as a CA.
func newTestCA(t testing.TB, cn string, isCA bool) testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return caWithKey(t, cn, key, isCA)
}

// caWithKey makes a CA certificate for an existing key, so that two CA certificates can share a
// subject and key (AWS's CertificateConflictException case).
func caWithKey(t testing.TB, cn string, key *ecdsa.PrivateKey, isCA bool) testCA {
	t.Helper()
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"test"}},
		NotBefore:             time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2049, 1, 1, 0, 0, 0, 0, time.UTC),
		BasicConstraintsValid: true,
		IsCA:                  isCA,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return testCA{cert: cert, key: key, pem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}
}

// issue makes a leaf certificate with common name cn signed by the CA, and returns it parsed and
// as PEM.
func (ca testCA) issue(t testing.TB, cn string) (*x509.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:     time.Date(2048, 1, 1, 0, 0, 0, 0, time.UTC),
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// mustCA registers a CA with a correct verification certificate.
func mustCA(t testing.TB, r *Registry, ca testCA, active, auto bool) CACertificate {
	t.Helper()
	code, err := r.GetRegistrationCode()
	if err != nil {
		t.Fatal(err)
	}
	_, verification := ca.issue(t, code)
	c, err := r.RegisterCACertificate(RegisterCACertificateInput{
		CACertificatePEM: ca.pem, VerificationCertificatePEM: verification, SetAsActive: active, AllowAutoRegistration: auto,
	})
	if err != nil {
		t.Fatalf("RegisterCACertificate: %v", err)
	}
	return c
}
