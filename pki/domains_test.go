package pki

import (
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestSetDomainNames checks the runtime reissue: new names get a new certificate under the same
// root (written to server.pem), the same names keep the certificate, Options.Names stay, and a
// reload with the same DomainNames reissues nothing.
func TestSetDomainNames(t *testing.T) {
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	a, err := Load(Options{Dir: dir, Names: []string{"iot.example.test"}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	first := a.ServerCertificate()
	if err := a.SetDomainNames([]string{"d1.example.test"}); err != nil {
		t.Fatal(err)
	}
	second := a.ServerCertificate()
	if second == first || !slices.Equal(a.ServerNames(), []string{"127.0.0.1", "::1", "d1.example.test", "iot.example.test", "localhost"}) {
		t.Fatalf("names %v", a.ServerNames())
	}
	if err := second.Leaf.CheckSignatureFrom(a.root.cert); err != nil {
		t.Fatalf("not under the same root: %v", err)
	}
	if err := a.SetDomainNames([]string{"d1.example.test"}); err != nil || a.ServerCertificate() != second {
		t.Fatalf("the same names reissued (%v)", err)
	}
	if err := a.SetDomainNames([]string{"bad name"}); err == nil || a.ServerCertificate() != second {
		t.Fatalf("a bad name: %v", err)
	}
	onDisk, err := os.ReadFile(filepath.Join(dir, ServerCertFile))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Load(Options{Dir: dir, Names: []string{"iot.example.test"}, DomainNames: []string{"d1.example.test"}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(filepath.Join(dir, ServerCertFile))
	if string(again) != string(onDisk) || !b.ServerCertificate().Leaf.Equal(second.Leaf) {
		t.Fatal("a reload with the same domain names reissued the certificate")
	}
	if err := b.SetDomainNames(nil); err != nil || slices.Contains(b.ServerNames(), "d1.example.test") {
		t.Fatalf("removing the domain: %v %v", err, b.ServerNames())
	}
}
