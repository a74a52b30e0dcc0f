package api_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"

	"github.com/iotcore-local/iotcore-local/api"
	"github.com/iotcore-local/iotcore-local/pki"
	"github.com/iotcore-local/iotcore-local/registry"
)

const (
	testRegion   = "us-east-1"
	testAccount  = "123456789012"
	testEndpoint = "iot.test.local"
)

// env is one API server with a fresh registry and CA, and an AWS SDK client pointed at it.
type env struct {
	srv    *httptest.Server
	iot    *iot.Client
	reg    *registry.Registry
	ca     *pki.Authority
	logs   *syncBuffer
	ctx    context.Context
	region string
}

// newEnv starts an API server; mods adjust its Config before New.
func newEnv(t *testing.T, mods ...func(*api.Config)) *env {
	t.Helper()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(io.MultiWriter(logs, t.Output()), &slog.HandlerOptions{Level: slog.LevelDebug}))
	reg, err := registry.Open(filepath.Join(t.TempDir(), "registry.db"), registry.Options{
		Region: testRegion, Account: testAccount, Logger: logger,
	})
	if err != nil {
		t.Fatalf("registry.Open: %v", err)
	}
	t.Cleanup(func() { _ = reg.Close() })
	ca, err := pki.Load(pki.Options{Dir: t.TempDir(), Logger: logger})
	if err != nil {
		t.Fatalf("pki.Load: %v", err)
	}
	cfg := api.Config{
		Registry:  reg,
		Issuer:    ca,
		RootCAPEM: ca.RootCAPEM(),
		Region:    testRegion,
		Account:   testAccount,
		Endpoint:  testEndpoint,
		Logger:    logger,
	}
	for _, m := range mods {
		m(&cfg)
	}
	srv := httptest.NewServer(api.New(cfg))
	t.Cleanup(srv.Close)
	e := &env{srv: srv, reg: reg, ca: ca, logs: logs, ctx: t.Context(), region: testRegion}
	e.iot = e.client(testRegion)
	return e
}

// client is an AWS SDK iot client signing for region, with retries off so that errors show at
// once.
func (e *env) client(region string) *iot.Client {
	cfg := aws.Config{
		Region:           region,
		Credentials:      credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		RetryMaxAttempts: 1,
		HTTPClient:       e.srv.Client(),
	}
	return iot.NewFromConfig(cfg, func(o *iot.Options) { o.BaseEndpoint = aws.String(e.srv.URL) })
}

// do sends a raw request and returns the response and its body.
func (e *env) do(t *testing.T, method, path string, body string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(e.ctx, method, e.srv.URL+path, rd)
	if err != nil {
		t.Fatalf("new request %s %s: %v", method, path, err)
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp, data
}

// wantErr asserts that err is (or wraps) the SDK's typed exception T with the given HTTP status,
// and returns it.
func wantErr[T error](t *testing.T, err error, status int) T {
	t.Helper()
	var target T
	if !errors.As(err, &target) {
		t.Fatalf("error = %v (%T), want %T", err, err, target)
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("error %v carries no HTTP response", err)
	}
	if got := re.HTTPStatusCode(); got != status {
		t.Errorf("HTTP status = %d, want %d (%v)", got, status, err)
	}
	return target
}

// must fails the test on err.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// selfSignedPEM makes a throwaway certificate, as a device maker would bring one.
func selfSignedPEM(t *testing.T, cn string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour).Truncate(time.Second),
		NotAfter:     time.Now().Add(24 * time.Hour).Truncate(time.Second),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// syncBuffer is a log sink safe for the server's goroutines and the test reading it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testCA is a certificate authority a device maker would bring: its certificate and key.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  string
}

// newTestCA makes a self-signed CA certificate (basic constraints CA:TRUE unless isCA is false).
func newTestCA(t *testing.T, cn string, isCA bool) testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour).Truncate(time.Second),
		NotAfter:              time.Now().Add(24 * time.Hour).Truncate(time.Second),
		BasicConstraintsValid: true,
		IsCA:                  isCA,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(t, err)
	cert, err := x509.ParseCertificate(der)
	must(t, err)
	return testCA{cert: cert, key: key, pem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}
}

// issue makes a certificate with common name cn signed by the CA (a device certificate, or the
// verification certificate of RegisterCACertificate when cn is the registration code).
func (ca testCA) issue(t *testing.T, cn string) (*x509.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour).Truncate(time.Second),
		NotAfter:     time.Now().Add(24 * time.Hour).Truncate(time.Second),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	must(t, err)
	cert, err := x509.ParseCertificate(der)
	must(t, err)
	return cert, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// registerCA registers ca through the API with a verification certificate made for the
// account's registration code, and returns its id.
func (e *env) registerCA(t *testing.T, ca testCA, active, auto bool) string {
	t.Helper()
	code, err := e.iot.GetRegistrationCode(e.ctx, &iot.GetRegistrationCodeInput{})
	must(t, err)
	_, verification := ca.issue(t, aws.ToString(code.RegistrationCode))
	out, err := e.iot.RegisterCACertificate(e.ctx, &iot.RegisterCACertificateInput{
		CaCertificate: aws.String(ca.pem), VerificationCertificate: aws.String(verification),
		SetAsActive: active, AllowAutoRegistration: auto,
	})
	must(t, err)
	return aws.ToString(out.CertificateId)
}
