package listener

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/listeners"
)

// hangGuard bounds every wait in these tests; it only turns a hang into a failure and is never
// an assertion on speed.
const hangGuard = 10 * time.Second

// testSNI is the server name the test server certificate is issued for.
const testSNI = "iot.test.local"

// testPKI is a throwaway ECDSA CA with a server and a client certificate.
type testPKI struct {
	roots  *x509.CertPool
	server tls.Certificate
	client tls.Certificate
	// other is a second client certificate, for a "not registered" status.
	other tls.Certificate
}

var (
	pkiOnce sync.Once
	pkiVal  *testPKI
	pkiErr  error
)

// newTestPKI returns the package's test PKI, made once.
func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	pkiOnce.Do(func() { pkiVal, pkiErr = makeTestPKI() })
	if pkiErr != nil {
		t.Fatalf("test PKI: %v", pkiErr)
	}
	return pkiVal
}

func makeTestPKI() (*testPKI, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "listener test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	issue := func(serial int64, cn string, usage x509.ExtKeyUsage, dns []string, ips []net.IP) (tls.Certificate, error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return tls.Certificate{}, err
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: cn},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
			DNSNames:     dns,
			IPAddresses:  ips,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return tls.Certificate{}, err
		}
		return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
	}
	p := &testPKI{roots: x509.NewCertPool()}
	p.roots.AddCert(ca)
	if p.server, err = issue(2, testSNI, x509.ExtKeyUsageServerAuth, []string{testSNI, "localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)}); err != nil {
		return nil, err
	}
	if p.client, err = issue(3, "device-1", x509.ExtKeyUsageClientAuth, nil, nil); err != nil {
		return nil, err
	}
	if p.other, err = issue(4, "device-2", x509.ExtKeyUsageClientAuth, nil, nil); err != nil {
		return nil, err
	}
	return p, nil
}

// clientCertID is the certificate id of the PKI's registered client certificate.
func (p *testPKI) clientCertID() string { return certificateID(p.client.Certificate[0]) }

// certificateStatus plays the registry: the client certificate is ACTIVE, nothing else is known.
func (p *testPKI) certificateStatus(id string) (string, bool) {
	if id == p.clientCertID() {
		return "ACTIVE", true
	}
	return "", false
}

// clientConfig is a TLS client configuration trusting the test CA.
func (p *testPKI) clientConfig(version uint16, alpn []string, withCert bool) *tls.Config {
	cfg := &tls.Config{
		RootCAs:    p.roots,
		ServerName: testSNI,
		NextProtos: alpn,
		MinVersion: version,
		MaxVersion: version,
	}
	if withCert {
		cfg.Certificates = []tls.Certificate{p.client}
	}
	return cfg
}

// testServer is a started listener with its transcript ring.
type testServer struct {
	l    *Listener
	ring *Transcripts
	addr string
}

// startListener binds and serves a listener; cfg's zero fields get test defaults. The listener
// is closed at the end of the test.
func startListener(t *testing.T, cfg Config, establish listeners.EstablishFn) *testServer {
	t.Helper()
	p := newTestPKI(t)
	if cfg.ID == "" {
		cfg.ID = "test"
	}
	if cfg.Address == "" {
		cfg.Address = "127.0.0.1:0"
	}
	if cfg.Kind == 0 {
		cfg.Kind = KindALPN
	}
	if cfg.Certificate == nil {
		cfg.Certificate = func() *tls.Certificate { return &p.server }
	}
	if cfg.CertificateStatus == nil {
		cfg.CertificateStatus = p.certificateStatus
	}
	if cfg.Transcripts == nil {
		cfg.Transcripts = NewTranscripts(64)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	l := New(cfg)
	if err := l.Init(nil); err != nil {
		t.Fatalf("Init: %v", err)
	}
	served := make(chan struct{})
	go func() { defer close(served); l.Serve(establish) }()
	t.Cleanup(func() {
		l.Close(func(string) {})
		<-served
	})
	return &testServer{l: l, ring: cfg.Transcripts, addr: l.Address()}
}

// waitRecord waits for the n-th finished transcript (1-based) and returns it.
func (s *testServer) waitRecord(t *testing.T, n int) Record {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for {
		if recs := s.ring.Records(); len(recs) >= n {
			return recs[n-1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no transcript #%d finished; have %+v", n, s.ring.Records())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// readingEstablish stands in for mochi: it hands the *Conn to got, reads until the connection
// fails (as mochi waits for CONNECT), then closes it.
func readingEstablish(got chan<- *Conn) listeners.EstablishFn {
	return func(id string, c net.Conn) error {
		conn, ok := c.(*Conn)
		if !ok {
			_ = c.Close()
			return errors.New("establish was not given a *listener.Conn")
		}
		if got != nil {
			got <- conn
		}
		buf := make([]byte, 512)
		for {
			if _, err := conn.Read(buf); err != nil {
				_ = conn.Close()
				return err
			}
		}
	}
}

// recordingConn is a client-side transport that keeps every byte it reads, so a test can
// inspect exactly what the server put on the wire.
type recordingConn struct {
	net.Conn
	mu   sync.Mutex
	read bytes.Buffer
}

func (r *recordingConn) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	r.mu.Lock()
	r.read.Write(p[:n])
	r.mu.Unlock()
	return n, err
}

// drain reads the rest of the stream until EOF or error, and returns everything read so far.
func (r *recordingConn) drain() []byte {
	_ = r.SetReadDeadline(time.Now().Add(hangGuard))
	_, _ = io.Copy(io.Discard, r)
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.read.Bytes())
}

// dialTLS opens a TCP connection to addr recording what it reads, and starts a TLS client on it.
func dialTLS(t *testing.T, addr string, cfg *tls.Config) (*tls.Conn, *recordingConn) {
	t.Helper()
	raw, err := net.DialTimeout("tcp", addr, hangGuard)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	rc := &recordingConn{Conn: raw}
	tc := tls.Client(rc, cfg)
	t.Cleanup(func() { _ = raw.Close() })
	_ = tc.SetDeadline(time.Now().Add(hangGuard))
	return tc, rc
}

// expectClosedByServer reads from c until it ends and fails if the read timed out on the test's
// own guard instead of the server closing the connection.
func expectClosedByServer(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(hangGuard))
	buf := make([]byte, 256)
	for {
		_, err := c.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("server did not close the connection: %v", err)
		}
		return // EOF, reset, or a TLS alert: the server ended it
	}
}
