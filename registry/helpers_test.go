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
}

func (rec *recorder) add(e Event) {
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

func watch(t *testing.T, r *Registry) *recorder {
	rec := &recorder{}
	t.Cleanup(r.Watch(rec.add))
	return rec
}
