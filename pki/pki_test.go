package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var allFiles = []string{RootCertFile, RootKeyFile, DeviceCACertFile, DeviceCAKeyFile, ServerCertFile, ServerKeyFile}

// quietLogger keeps test output clean and lets tests read what was logged.
func quietLogger() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewTextHandler(&buf, nil)), &buf
}

func mustLoad(t *testing.T, dir string, names ...string) *Authority {
	t.Helper()
	log, _ := quietLogger()
	a, err := Load(Options{Dir: dir, Names: names, Logger: log})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return a
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustParsePEM(t *testing.T, data []byte) *x509.Certificate {
	t.Helper()
	c, err := parseCertPEM(data)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLoadCreates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "pki")
	a := mustLoad(t, dir, "iot.example.test", "10.1.2.3")

	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	want := slices.Sorted(slices.Values(allFiles))
	if !slices.Equal(names, want) {
		t.Fatalf("files %v, want %v (no temporary files left)", names, want)
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Errorf("folder mode %v, want 0700", st.Mode().Perm())
	}
	for _, f := range []string{RootKeyFile, DeviceCAKeyFile, ServerKeyFile} {
		if st, _ := os.Stat(filepath.Join(dir, f)); st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", f, st.Mode().Perm())
		}
	}

	if a.RootCAFile() != filepath.Join(dir, RootCertFile) {
		t.Errorf("RootCAFile %s", a.RootCAFile())
	}
	if !bytes.Equal(a.RootCAPEM(), readFile(t, a.RootCAFile())) {
		t.Error("RootCAPEM differs from root-ca.pem")
	}
	root := mustParsePEM(t, a.RootCAPEM())
	if root.Subject.CommonName != "iotcore-local Root CA" || !root.IsCA {
		t.Errorf("root subject %v, CA %v", root.Subject, root.IsCA)
	}
	if _, ok := root.PublicKey.(*ecdsa.PublicKey); !ok {
		t.Errorf("root key %T, want ECDSA", root.PublicKey)
	}
	if years := root.NotAfter.Sub(root.NotBefore).Hours() / 24 / 365; years < 9.9 || years > 10.1 {
		t.Errorf("root validity %.1f years", years)
	}
	dev := mustParsePEM(t, a.DeviceCAPEM())
	if dev.Subject.CommonName != "iotcore-local Device CA" || !dev.IsCA || dev.CheckSignatureFrom(root) != nil {
		t.Errorf("device CA %v, CA %v, signed by root: %v", dev.Subject, dev.IsCA, dev.CheckSignatureFrom(root))
	}

	sc := a.ServerCertificate()
	if len(sc.Certificate) != 1 || sc.Leaf == nil || !bytes.Equal(sc.Leaf.Raw, sc.Certificate[0]) {
		t.Fatalf("server chain has %d certificates, leaf %v", len(sc.Certificate), sc.Leaf != nil)
	}
	leaf := sc.Leaf
	if err := leaf.CheckSignatureFrom(root); err != nil {
		t.Errorf("server certificate not signed by root: %v", err)
	}
	gotNames := certNames(leaf).sorted()
	wantNames := []string{"10.1.2.3", "127.0.0.1", "::1", "iot.example.test", "localhost"}
	if !slices.Equal(gotNames, wantNames) {
		t.Errorf("server names %v, want %v", gotNames, wantNames)
	}
	if !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Errorf("server EKU %v", leaf.ExtKeyUsage)
	}
	if days := leaf.NotAfter.Sub(time.Now()).Hours() / 24; days < 700 || days > 740 {
		t.Errorf("server certificate valid %.0f more days, want about two years", days)
	}
	if k, ok := sc.PrivateKey.(*ecdsa.PrivateKey); !ok || !k.PublicKey.Equal(leaf.PublicKey) {
		t.Errorf("server key %T does not match the certificate", sc.PrivateKey)
	}
}

func TestReloadReuses(t *testing.T) {
	dir := t.TempDir()
	a := mustLoad(t, dir, "Iot.Example.Test", "10.1.2.3")
	log, buf := quietLogger()
	// Same names in another order and case: nothing is reissued.
	b, err := Load(Options{Dir: dir, Names: []string{"10.1.2.3", "iot.example.test.", "localhost"}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.RootCAPEM(), b.RootCAPEM()) || !bytes.Equal(a.DeviceCAPEM(), b.DeviceCAPEM()) {
		t.Error("CAs changed on reload")
	}
	if !bytes.Equal(a.ServerCertificate().Certificate[0], b.ServerCertificate().Certificate[0]) {
		t.Error("server certificate reissued on reload with the same names")
	}
	if strings.Contains(buf.String(), "issued") || strings.Contains(buf.String(), "created") {
		t.Errorf("reload logged changes: %s", buf.String())
	}
}

func TestNamesChangeReissuesServer(t *testing.T) {
	dir := t.TempDir()
	a := mustLoad(t, dir, "one.example")
	rootKey := readFile(t, filepath.Join(dir, RootKeyFile))
	tests := []struct {
		names []string
		want  []string
	}{
		{[]string{"two.example", "192.0.2.7"}, []string{"127.0.0.1", "192.0.2.7", "::1", "localhost", "two.example"}},
		{nil, []string{"127.0.0.1", "::1", "localhost"}},
		{[]string{"[2001:db8::1]", "*.iot.example"}, []string{"*.iot.example", "127.0.0.1", "2001:db8::1", "::1", "localhost"}},
	}
	prev := a.ServerCertificate().Leaf
	for _, tc := range tests {
		log, buf := quietLogger()
		b, err := Load(Options{Dir: dir, Names: tc.names, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		leaf := b.ServerCertificate().Leaf
		if leaf.Equal(prev) {
			t.Fatalf("names %v: server certificate not reissued", tc.names)
		}
		if got := certNames(leaf).sorted(); !slices.Equal(got, tc.want) {
			t.Fatalf("names %v: certificate has %v, want %v", tc.names, got, tc.want)
		}
		if !strings.Contains(buf.String(), "issued server certificate") || !strings.Contains(buf.String(), "names changed") {
			t.Errorf("reissue not logged: %s", buf.String())
		}
		if !bytes.Equal(a.RootCAPEM(), b.RootCAPEM()) || !bytes.Equal(a.DeviceCAPEM(), b.DeviceCAPEM()) {
			t.Fatal("a CA changed with the server names")
		}
		if !bytes.Equal(leaf.Raw, mustParsePEM(t, readFile(t, filepath.Join(dir, ServerCertFile))).Raw) {
			t.Fatal("server.pem not rewritten")
		}
		prev = leaf
	}
	if !bytes.Equal(rootKey, readFile(t, filepath.Join(dir, RootKeyFile))) {
		t.Fatal("root key rewritten")
	}
}

func TestServerNearExpiryIsReissued(t *testing.T) {
	dir := t.TempDir()
	log, buf := quietLogger()
	start := time.Now()
	a, err := load(Options{Dir: dir, Logger: log}, func() time.Time { return start })
	if err != nil {
		t.Fatal(err)
	}
	old := a.ServerCertificate().Leaf
	for _, tc := range []struct {
		at      time.Time
		reissue bool
	}{
		{old.NotAfter.Add(-31 * 24 * time.Hour), false},
		{old.NotAfter.Add(-29 * 24 * time.Hour), true},
	} {
		buf.Reset()
		b, err := load(Options{Dir: dir, Logger: log}, func() time.Time { return tc.at })
		if err != nil {
			t.Fatal(err)
		}
		if got := !b.ServerCertificate().Leaf.Equal(old); got != tc.reissue {
			t.Fatalf("at %v: reissued %v, want %v (log %s)", tc.at, got, tc.reissue, buf.String())
		}
		if tc.reissue && !strings.Contains(buf.String(), "expires within 30 days") {
			t.Errorf("reason not logged: %s", buf.String())
		}
		if !bytes.Equal(a.RootCAPEM(), b.RootCAPEM()) {
			t.Fatal("root changed")
		}
	}
}

func TestTLSHandshake(t *testing.T) {
	a := mustLoad(t, t.TempDir(), "iot.example.test")
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(a.RootCAPEM()) {
		t.Fatal("root PEM not accepted by a cert pool")
	}
	tests := []struct {
		serverName string
		ok         bool
	}{
		{"localhost", true},
		{"127.0.0.1", true},
		{"::1", true},
		{"iot.example.test", true},
		{"other.example.test", false},
		{"10.9.9.9", false},
	}
	for _, tc := range tests {
		t.Run(tc.serverName, func(t *testing.T) {
			cc, sc := net.Pipe()
			defer cc.Close()
			defer sc.Close()
			server := tls.Server(sc, &tls.Config{Certificates: []tls.Certificate{*a.ServerCertificate()}})
			client := tls.Client(cc, &tls.Config{RootCAs: roots, ServerName: tc.serverName})
			done := make(chan error, 1)
			go func() { done <- server.Handshake() }()
			err := client.Handshake()
			if tc.ok {
				if err != nil {
					t.Fatalf("client handshake: %v", err)
				}
				if serr := <-done; serr != nil {
					t.Fatalf("server handshake: %v", serr)
				}
				return
			}
			if err == nil {
				t.Fatal("handshake succeeded for a name not in the certificate")
			}
			cc.Close() // unblock the server
			<-done
		})
	}
}

// TestTLSOverLoopback does the same over a real socket, as clients do.
func TestTLSOverLoopback(t *testing.T) {
	a := mustLoad(t, t.TempDir())
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{*a.ServerCertificate()}})
	if err != nil {
		t.Skipf("no loopback: %v", err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		done <- c.(*tls.Conn).Handshake()
	}()
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(a.RootCAPEM())
	c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: roots})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.Close()
	if err := <-done; err != nil {
		t.Fatalf("server: %v", err)
	}
}

func verifyDevice(t *testing.T, a *Authority, certPEM string) *x509.Certificate {
	t.Helper()
	if n := strings.Count(certPEM, "BEGIN CERTIFICATE"); n != 1 {
		t.Fatalf("certificate PEM has %d certificates, want only the leaf", n)
	}
	leaf := mustParsePEM(t, []byte(certPEM))
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AppendCertsFromPEM(a.RootCAPEM())
	inter.AppendCertsFromPEM(a.DeviceCAPEM())
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		t.Fatalf("device certificate does not verify: %v", err)
	}
	if len(chains[0]) != 3 {
		t.Fatalf("chain length %d, want leaf, device CA, root", len(chains[0]))
	}
	wantAfter := time.Date(2049, 12, 31, 23, 59, 59, 0, time.UTC)
	switch {
	case leaf.Subject.CommonName != "AWS IoT Certificate":
		t.Errorf("subject %v", leaf.Subject)
	case !leaf.NotAfter.Equal(wantAfter):
		t.Errorf("NotAfter %v, want %v", leaf.NotAfter, wantAfter)
	case leaf.KeyUsage != x509.KeyUsageDigitalSignature || leaf.IsCA:
		t.Errorf("key usage %v, CA %v", leaf.KeyUsage, leaf.IsCA)
	case leaf.SerialNumber.Sign() <= 0 || leaf.SerialNumber.BitLen() > 128:
		t.Errorf("serial %v", leaf.SerialNumber)
	}
	return leaf
}

func TestIssueDevice(t *testing.T) {
	a := mustLoad(t, t.TempDir())
	creds, err := a.IssueDevice()
	if err != nil {
		t.Fatal(err)
	}
	leaf := verifyDevice(t, a, creds.CertificatePEM)

	block, _ := pem.Decode([]byte(creds.PrivateKeyPEM))
	if block == nil || block.Type != "RSA PRIVATE KEY" {
		t.Fatalf("private key PEM type %v", block)
	}
	key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if key.N.BitLen() != 2048 || !key.PublicKey.Equal(leaf.PublicKey) {
		t.Fatalf("key of %d bits, matches certificate: %v", key.N.BitLen(), key.PublicKey.Equal(leaf.PublicKey))
	}
	block, _ = pem.Decode([]byte(creds.PublicKeyPEM))
	if block == nil || block.Type != "PUBLIC KEY" {
		t.Fatalf("public key PEM type %v", block)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil || !key.PublicKey.Equal(pub) {
		t.Fatalf("public key PEM does not match: %v", err)
	}

	other, err := a.IssueDevice()
	if err != nil {
		t.Fatal(err)
	}
	if mustParsePEM(t, []byte(other.CertificatePEM)).SerialNumber.Cmp(leaf.SerialNumber) == 0 {
		t.Fatal("two device certificates share a serial number")
	}

	// A device certificate is accepted by a TLS server that trusts the device CA for client auth.
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(a.DeviceCAPEM())
	clientCert, err := tls.X509KeyPair([]byte(creds.CertificatePEM), []byte(creds.PrivateKeyPEM))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(a.RootCAPEM())
	cc, sc := net.Pipe()
	defer cc.Close()
	defer sc.Close()
	server := tls.Server(sc, &tls.Config{
		Certificates: []tls.Certificate{*a.ServerCertificate()},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
	})
	done := make(chan error, 1)
	go func() { done <- server.Handshake() }()
	client := tls.Client(cc, &tls.Config{RootCAs: roots, ServerName: "localhost", Certificates: []tls.Certificate{clientCert}})
	if err := client.Handshake(); err != nil {
		t.Fatalf("client: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("server: %v", err)
	}
}

func TestSignCSR(t *testing.T) {
	a := mustLoad(t, t.TempDir())
	makeCSR := func(t *testing.T, key any) *x509.CertificateRequest {
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "my-device"}}, key)
		if err != nil {
			t.Fatal(err)
		}
		csr, err := x509.ParseCertificateRequest(der)
		if err != nil {
			t.Fatal(err)
		}
		return csr
	}
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	rsa2048, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	tampered := makeCSR(t, p256)
	tampered.Signature = slices.Clone(tampered.Signature)
	tampered.Signature[len(tampered.Signature)-1] ^= 0xff

	tests := []struct {
		name string
		csr  *x509.CertificateRequest
		ok   bool
	}{
		{"ECDSA P-256", makeCSR(t, p256), true},
		{"ECDSA P-384", makeCSR(t, p384), true},
		{"RSA 2048", makeCSR(t, rsa2048), true},
		{"RSA 1024", makeCSR(t, rsa1024), false},
		{"ECDSA P-224", makeCSR(t, p224), false},
		{"bad signature", tampered, false},
		{"nil", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			certPEM, err := a.SignCSR(tc.csr)
			if !tc.ok {
				if err == nil {
					t.Fatal("signed a CSR that should be refused")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			leaf := verifyDevice(t, a, certPEM)
			if !tc.csr.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(leaf.PublicKey) {
				t.Fatal("certificate key differs from the CSR's")
			}
			again, err := a.SignCSR(tc.csr)
			if err != nil || again == certPEM {
				t.Fatalf("the same CSR must give a distinct certificate (err %v)", err)
			}
		})
	}
}

func TestDamagedFiles(t *testing.T) {
	for _, file := range allFiles {
		t.Run(file, func(t *testing.T) {
			dir := t.TempDir()
			mustLoad(t, dir)
			before := map[string][]byte{}
			for _, f := range allFiles {
				before[f] = readFile(t, filepath.Join(dir, f))
			}
			damaged := []byte("-----BEGIN SOMETHING-----\ngarbage\n")
			if err := os.WriteFile(filepath.Join(dir, file), damaged, 0o600); err != nil {
				t.Fatal(err)
			}
			log, _ := quietLogger()
			_, err := Load(Options{Dir: dir, Logger: log})
			if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, file)) {
				t.Fatalf("error %v does not name %s", err, file)
			}
			for _, f := range allFiles {
				if f == file {
					continue
				}
				if !bytes.Equal(before[f], readFile(t, filepath.Join(dir, f))) {
					t.Fatalf("%s was rewritten after %s was found damaged", f, file)
				}
			}
		})
	}
}

func TestInconsistentFiles(t *testing.T) {
	tests := []struct {
		name    string
		change  func(dir string) error
		errText string // empty: Load succeeds
	}{
		{"root key missing", func(dir string) error { return os.Remove(filepath.Join(dir, RootKeyFile)) }, RootKeyFile},
		{"device certificate missing", func(dir string) error { return os.Remove(filepath.Join(dir, DeviceCACertFile)) }, DeviceCACertFile},
		{"root gone, device CA kept", func(dir string) error {
			if err := os.Remove(filepath.Join(dir, RootKeyFile)); err != nil {
				return err
			}
			return os.Remove(filepath.Join(dir, RootCertFile))
		}, "restore the root CA"},
		{"root key swapped", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, RootKeyFile), readFileErr(filepath.Join(dir, DeviceCAKeyFile)), 0o600)
		}, "does not hold the private key"},
		{"device CA from another root", func(dir string) error {
			other := filepath.Join(dir, "other")
			if _, err := Load(Options{Dir: other, Logger: slog.New(slog.DiscardHandler)}); err != nil {
				return err
			}
			for _, f := range []string{DeviceCACertFile, DeviceCAKeyFile} {
				if err := os.WriteFile(filepath.Join(dir, f), readFileErr(filepath.Join(other, f)), 0o600); err != nil {
					return err
				}
			}
			return nil
		}, "not a CA certificate signed by"},
		{"server key missing is repaired", func(dir string) error { return os.Remove(filepath.Join(dir, ServerKeyFile)) }, ""},
		{"device CA missing entirely is recreated", func(dir string) error {
			if err := os.Remove(filepath.Join(dir, DeviceCAKeyFile)); err != nil {
				return err
			}
			return os.Remove(filepath.Join(dir, DeviceCACertFile))
		}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			first := mustLoad(t, dir)
			if err := tc.change(dir); err != nil {
				t.Fatal(err)
			}
			log, _ := quietLogger()
			a, err := Load(Options{Dir: dir, Logger: log})
			if tc.errText != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errText) {
					t.Fatalf("error %v, want one mentioning %q", err, tc.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(first.RootCAPEM(), a.RootCAPEM()) {
				t.Fatal("root changed")
			}
			if _, err := a.IssueDevice(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func readFileErr(path string) []byte {
	b, _ := os.ReadFile(path)
	return b
}

func TestBadOptions(t *testing.T) {
	for _, names := range [][]string{{"bad name"}, {"http://x.example"}, {""}, {"-x.example"}, {"a..b"}, {"fe80::1%eth0"}} {
		if _, err := Load(Options{Dir: t.TempDir(), Names: names, Logger: slog.New(slog.DiscardHandler)}); err == nil {
			t.Errorf("names %q accepted", names)
		}
	}
	if _, err := Load(Options{}); err == nil {
		t.Error("empty Dir accepted")
	}
}

func TestServerKeyType(t *testing.T) {
	dir := t.TempDir()
	a := mustLoad(t, dir, "iot.example.test")
	if k, ok := a.ServerCertificate().PrivateKey.(*ecdsa.PrivateKey); !ok || k.Curve != elliptic.P256() {
		t.Fatalf("default server key is %T, want ECDSA P-256", a.ServerCertificate().PrivateKey)
	}
	if a.ServerKeyType() != KeyECDSA {
		t.Fatalf("ServerKeyType %q, want %q", a.ServerKeyType(), KeyECDSA)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(a.RootCAPEM())
	handshake := func(t *testing.T, b *Authority) {
		t.Helper()
		cc, sc := net.Pipe()
		defer cc.Close()
		defer sc.Close()
		server := tls.Server(sc, &tls.Config{Certificates: []tls.Certificate{*b.ServerCertificate()}})
		done := make(chan error, 1)
		go func() { done <- server.Handshake() }()
		if err := tls.Client(cc, &tls.Config{RootCAs: roots, ServerName: "iot.example.test"}).Handshake(); err != nil {
			t.Fatalf("client handshake: %v", err)
		}
		if err := <-done; err != nil {
			t.Fatalf("server handshake: %v", err)
		}
	}
	steps := []struct {
		keyType string
		reissue bool
		check   func(crypto.PrivateKey) bool
	}{
		{KeyRSA, true, func(k crypto.PrivateKey) bool { r, ok := k.(*rsa.PrivateKey); return ok && r.N.BitLen() == 2048 }},
		{KeyRSA, false, func(k crypto.PrivateKey) bool { _, ok := k.(*rsa.PrivateKey); return ok }},
		{"", true, func(k crypto.PrivateKey) bool { _, ok := k.(*ecdsa.PrivateKey); return ok }},
		{KeyECDSA, false, func(k crypto.PrivateKey) bool { _, ok := k.(*ecdsa.PrivateKey); return ok }},
	}
	prev := a.ServerCertificate().Leaf
	for i, st := range steps {
		log, buf := quietLogger()
		b, err := Load(Options{Dir: dir, Names: []string{"iot.example.test"}, KeyType: st.keyType, Logger: log})
		if err != nil {
			t.Fatalf("step %d (%q): %v", i, st.keyType, err)
		}
		leaf := b.ServerCertificate().Leaf
		if got := !leaf.Equal(prev); got != st.reissue {
			t.Fatalf("step %d (%q): reissued %v, want %v", i, st.keyType, got, st.reissue)
		}
		if !st.check(b.ServerCertificate().PrivateKey) {
			t.Fatalf("step %d (%q): server key is %T", i, st.keyType, b.ServerCertificate().PrivateKey)
		}
		if st.reissue && !strings.Contains(buf.String(), "key type changed") {
			t.Errorf("step %d: reason not logged: %s", i, buf.String())
		}
		if !bytes.Equal(a.RootCAPEM(), b.RootCAPEM()) || !bytes.Equal(a.DeviceCAPEM(), b.DeviceCAPEM()) {
			t.Fatalf("step %d: a CA changed with the server key type", i)
		}
		if !bytes.Equal(leaf.Raw, mustParsePEM(t, readFile(t, filepath.Join(dir, ServerCertFile))).Raw) {
			t.Fatalf("step %d: server.pem does not hold the certificate in use", i)
		}
		handshake(t, b)
		prev = leaf
	}
	if _, err := Load(Options{Dir: dir, KeyType: "ed25519", Logger: slog.New(slog.DiscardHandler)}); err == nil || !strings.Contains(err.Error(), "ed25519") {
		t.Errorf("unknown key type: error %v", err)
	}
}

// TestCAKeyMustBeECDSA: only the server key may be RSA; an RSA key in a CA's key file is refused.
func TestCAKeyMustBeECDSA(t *testing.T) {
	dir := t.TempDir()
	mustLoad(t, dir)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, DeviceCAKeyFile), keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(Options{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err == nil || !strings.Contains(err.Error(), "want ECDSA") || !strings.Contains(err.Error(), DeviceCAKeyFile) {
		t.Fatalf("error %v, want one naming %s and ECDSA", err, DeviceCAKeyFile)
	}
}
