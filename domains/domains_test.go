package domains

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
)

func open(t testing.TB, dir string, onNames func([]string) error) *Service {
	t.Helper()
	s, err := Open(filepath.Join(dir, "domains.db"), Options{Region: "us-east-1", Account: "123456789012", Endpoint: "localhost", OnNames: onNames})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestLookup checks the SNI lookup: exact domain (any case, trailing dot), else the default.
func TestLookup(t *testing.T) {
	s := open(t, t.TempDir(), nil)
	if _, err := s.Create(CreateInput{Name: "a", DomainName: "A.Example.test", ApplicationProtocol: ProtocolSecureMQTT, AuthenticationType: AuthX509}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		sni     string
		name    string
		matched bool
	}{
		{"a.example.test", "a", true},
		{"A.EXAMPLE.TEST.", "a", true},
		{"localhost", DefaultName, true},
		{"", DefaultName, false},
		{"b.example.test", DefaultName, false},
	} {
		got, matched := s.Lookup(c.sni)
		if got.Name != c.name || matched != c.matched {
			t.Errorf("Lookup(%q) = %s %v, want %s %v", c.sni, got.Name, matched, c.name, c.matched)
		}
	}
}

// TestNamesAndRollback checks that OnNames hears every domain name before a change commits, and
// that its failure leaves nothing behind.
func TestNamesAndRollback(t *testing.T) {
	dir := t.TempDir()
	var heard []string
	fail := false
	s := open(t, dir, func(n []string) error {
		if fail {
			return errors.New("disk full")
		}
		heard = n
		return nil
	})
	if _, err := s.Create(CreateInput{Name: "a", DomainName: "a.test"}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(heard, []string{"a.test"}) {
		t.Fatalf("heard %v", heard)
	}
	fail = true
	if _, err := s.Create(CreateInput{Name: "b", DomainName: "b.test"}); err == nil {
		t.Fatal("create succeeded while the certificate could not be reissued")
	}
	if _, err := s.Describe("b"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("b after a failed create: %v", err)
	}
	if _, matched := s.Lookup("b.test"); matched {
		t.Fatal("b.test is served after a failed create")
	}
	fail = false
	s.Close()
	s = open(t, dir, func(n []string) error { heard = n; return nil })
	if !slices.Equal(heard, []string{"a.test"}) {
		t.Fatalf("at open heard %v", heard)
	}
}

// BenchmarkLookup is the per-handshake cost of domain configurations.
func BenchmarkLookup(b *testing.B) {
	s := open(b, b.TempDir(), nil)
	for i := 0; i < 10; i++ {
		if _, err := s.Create(CreateInput{Name: fmt.Sprintf("d%d", i), DomainName: fmt.Sprintf("d%d.example.test", i)}); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("matched", func(b *testing.B) {
		for b.Loop() {
			s.Lookup("d7.example.test")
		}
	})
	b.Run("default", func(b *testing.B) {
		for b.Loop() {
			s.Lookup("unknown.example.test")
		}
	})
}
