package hooks

import (
	"crypto/x509"
	"errors"
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/iotcore-local/iotcore-local/auth"
	"github.com/iotcore-local/iotcore-local/registry"
)

// countingDirectory is a registry with one ACTIVE certificate "c1" attached to thing "t1",
// counting its reads.
type countingDirectory struct {
	reads atomic.Int64
}

func (d *countingDirectory) CertificateIdentity(id string) (registry.CertificateView, error) {
	d.reads.Add(1)
	if id != "c1" {
		return registry.CertificateView{}, errors.New("not found")
	}
	return registry.CertificateView{
		Certificate: registry.Certificate{ID: "c1", ARN: "arn:aws:iot:us-east-1:123456789012:cert/c1", Status: registry.StatusActive},
		Policies: []registry.Policy{{Name: "p", Document: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect",
			"Resource":"arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}"}]}`}},
		Things: []registry.ThingAttachment{{ThingName: "t2"}, {ThingName: "t1"}},
	}, nil
}

func (d *countingDirectory) DescribeThing(name string) (registry.Thing, error) {
	d.reads.Add(1)
	return registry.Thing{Name: name}, nil
}

func (d *countingDirectory) AutoRegisterCertificate(*x509.Certificate) (registry.Certificate, bool, error) {
	return registry.Certificate{}, false, nil
}

func (d *countingDirectory) CertificateRegisteredPublication(registry.Certificate) (registry.Publication, error) {
	return registry.Publication{}, nil
}

// TestConnectCache: a reconnect with the same certificate, client id and connection facts reads
// nothing from the registry; a registry write (a new generation) or different facts read again;
// refusals are never cached.
func TestConnectCache(t *testing.T) {
	dir := &countingDirectory{}
	var gen atomic.Uint64
	a := NewAuthorizer(AuthorizerOptions{Directory: dir, Region: "us-east-1", Account: "123456789012", Generation: gen.Load})
	base := auth.Environment{Region: "us-east-1", Account: "123456789012", SourceIP: netip.MustParseAddr("127.0.0.1")}

	check := func(step string, clientID string, env auth.Environment, wantReads int64, wantAllowed bool) *auth.Compiled {
		t.Helper()
		before := dir.reads.Load()
		who, c, err := a.resolve("c1", clientID, env)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if got := dir.reads.Load() - before; got != wantReads {
			t.Errorf("%s: %d registry reads, want %d", step, got, wantReads)
		}
		if who.env.ClientID != clientID {
			t.Errorf("%s: principal of client %q, want %q", step, who.env.ClientID, clientID)
		}
		if got := c.Decide(auth.ActionConnect, "client", clientID).Allowed; got != wantAllowed {
			t.Errorf("%s: connect allowed %v, want %v", step, got, wantAllowed)
		}
		return c
	}
	first := check("first connect", "t1", base, 2, true) // certificate view and its bound thing
	if again := check("reconnect", "t1", base, 0, true); again != first {
		t.Error("reconnect compiled the policies again")
	}
	check("another client id", "x", base, 1, false) // binds no thing: one read
	other := base
	other.SourceIP = netip.MustParseAddr("127.0.0.2")
	check("another source address", "t1", other, 2, true)
	gen.Add(1)
	check("after a registry write", "t1", base, 2, true)
	check("reconnect after the write", "t1", base, 0, true)

	if _, _, err := a.resolve("unknown", "t1", base); err == nil {
		t.Fatal("an unregistered certificate resolved")
	}
	before := dir.reads.Load()
	a.resolve("unknown", "t1", base)
	if dir.reads.Load() == before {
		t.Error("a refusal was answered from the cache")
	}

	// The handshake transcript's facts: cached per certificate, the first thing by name.
	before = dir.reads.Load()
	for range 2 {
		status, thing, known := a.CertificateFacts("c1")
		if status != "ACTIVE" || thing != "t1" || !known {
			t.Fatalf("facts %q %q %v", status, thing, known)
		}
	}
	if got := dir.reads.Load() - before; got != 1 {
		t.Errorf("certificate facts: %d reads for two handshakes, want 1", got)
	}
	if _, _, known := a.CertificateFacts("unknown"); known {
		t.Error("an unknown certificate reported known")
	}
}

// volatileDirectory reports every certificate as Uncached (as fleet provisioning's claim
// certificates are).
type volatileDirectory struct{ countingDirectory }

func (d *volatileDirectory) Uncached(string) bool { return true }

// TestConnectCacheSkipsUncached: an identity the Directory reports Uncached is resolved afresh
// at every connect, and the transcript facts leave it to the caller.
func TestConnectCacheSkipsUncached(t *testing.T) {
	dir := &volatileDirectory{}
	var gen atomic.Uint64
	a := NewAuthorizer(AuthorizerOptions{Directory: dir, Region: "us-east-1", Account: "123456789012", Generation: gen.Load})
	base := auth.Environment{Region: "us-east-1", Account: "123456789012"}
	for i := range 3 {
		before := dir.reads.Load()
		if _, _, err := a.resolve("c1", "t1", base); err != nil {
			t.Fatal(err)
		}
		if dir.reads.Load() == before {
			t.Fatalf("connect %d of an uncached identity read nothing from the directory", i+1)
		}
	}
	if _, _, known := a.CertificateFacts("c1"); known {
		t.Error("facts of an uncached identity reported known")
	}
}
