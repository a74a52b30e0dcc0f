// Package api serves the AWS-compatible HTTP control plane of AWS IoT Core (service "iot",
// protocol rest-json, apiVersion 2015-05-28) as an http.Handler, so that the AWS CLI and SDKs
// pointed at the emulator with an endpoint override see the same shapes, status codes and
// exception names as they would from AWS. It also serves a few emulator-only routes: /health,
// /_iotcore/root-ca.pem and /_iotcore/connections. Beside it, on the same address, it serves the
// data plane (service iotdata: Publish, retained messages, DeleteConnection, Device Shadows) and
// verifies SigV4;
// dispatch.go says how a request finds its API.
//
// The package owns the wire only: routing, decoding, the checks only the wire can make
// (required members and headers, JSON types, query integers and booleans, enum values it maps
// to registry types) and encoding. Every decision about names, identifiers and state (name
// patterns, certificate IDs, status transitions, conflicts) is the registry's, so the HTTP API,
// the seed file and the admin verbs cannot disagree.
package api

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/iotcore-local/iotcore-local/authorizers"
	"github.com/iotcore-local/iotcore-local/domains"
	"github.com/iotcore-local/iotcore-local/index"
	"github.com/iotcore-local/iotcore-local/jobs"
	"github.com/iotcore-local/iotcore-local/pki"
	"github.com/iotcore-local/iotcore-local/provisioning"
	"github.com/iotcore-local/iotcore-local/registry"
	"github.com/iotcore-local/iotcore-local/rules"
	"github.com/iotcore-local/iotcore-local/shadow"
)

// Config is what the HTTP API needs from the rest of the emulator.
type Config struct {
	// Registry is the store every operation reads and writes.
	Registry *registry.Registry
	// Issuer makes the key pair and certificate of CreateKeysAndCertificate (a *pki.Authority).
	Issuer interface {
		IssueDevice() (pki.DeviceCredentials, error)
	}
	// CSRSigner signs the certificate signing requests of CreateCertificateFromCsr with the
	// emulator's device CA (a *pki.Authority has SignCSR). Nil uses Issuer when it can sign
	// CSRs too; with neither, CreateCertificateFromCsr fails with an InternalFailureException.
	CSRSigner CSRSigner
	// RootCAPEM is served at GET /_iotcore/root-ca.pem: the CA clients trust.
	RootCAPEM []byte
	// Region and Account are the emulator's own; a request signed for another region is
	// served anyway (see checkRegion). Defaults: us-east-1 and 123456789012.
	Region, Account string
	// Endpoint is the host DescribeEndpoint answers, e.g. "localhost" (the default).
	Endpoint string
	// Connections returns the JSON of GET /_iotcore/connections (the handshake transcripts);
	// nil serves an empty list.
	Connections func() any
	// Transcripts serves GET /_iotcore/connections with its filters and the stream at
	// /_iotcore/connections/stream; when set, Connections is not used.
	Transcripts ConnectionLog
	// TLSFaults backs /_iotcore/tls-faults (fault injection); nil answers 404 there.
	TLSFaults TLSFaultSet
	// Console is the web console, served at /console/ (GET / redirects there); nil serves none.
	Console http.Handler
	// ConsoleCredential signs the /mqtt URLs POST /_iotcore/console/mqtt-url hands the
	// console's MQTT test client (consolemqtt.go); nil answers 404 there.
	ConsoleCredential *ConsoleCredential
	// Done is closed when the emulator stops, so long-lived responses (the transcript stream)
	// end and the HTTP servers can shut down. May be nil.
	Done <-chan struct{}
	// Ready says whether every listener is up; GET /health answers 503 until it does. Nil
	// means always ready.
	Ready func() bool
	// Logger receives a Debug line per request and a Warn line per error; nil discards.
	Logger *slog.Logger

	// Credentials are the SigV4 key pairs the emulator knows: access key ID → secret access
	// key. A request signed with one of them must verify (see sigv4.go).
	Credentials map[string]string
	// SigV4Strict refuses unsigned requests and unknown access keys; by default both are
	// accepted, so that curl and unconfigured SDKs work.
	SigV4Strict bool
	// Hosts are the names and listen addresses (host or host:port) that requests not strongly
	// authenticated may name in their Host header, besides loopback, which is always allowed:
	// the emulator passes its --endpoint names and listen addresses. A listen address on every
	// interface (0.0.0.0, ::) allows every IP literal. See crosssite.go.
	Hosts []string
	// Broker is the MQTT broker behind the data plane (Publish, retained messages,
	// DeleteConnection); nil answers those operations with ServiceUnavailableException.
	Broker Broker
	// Shadows is the Device Shadow service behind GetThingShadow, UpdateThingShadow,
	// DeleteThingShadow and ListNamedShadowsForThing, the one the MQTT shadow topics use; nil
	// leaves those operations out (UnknownOperationException).
	Shadows *shadow.Service
	// ShadowPublish publishes on MQTT the messages an HTTP shadow update or delete causes
	// (update/accepted, update/delta, update/documents, delete/accepted; never /rejected). The
	// emulator passes the broker's hooks.Publish; nil drops them.
	ShadowPublish func(pubs []shadow.Publication)
	// Authorizers is the custom authorizers service behind CreateAuthorizer and the rest; nil
	// leaves those operations out.
	Authorizers *authorizers.Service
	// CustomAuth, when set, runs custom authentication instead of Authorizers.Authenticate (the
	// emulator's applies a domain configuration's default authorizer).
	CustomAuth func(ctx context.Context, req authorizers.Request) (authorizers.Answer, error)
	// CustomAuthX509 reports whether r arrived on a connection whose domain configuration's
	// authenticationType is CUSTOM_AUTH_X509: its requests go to a custom authorizer together
	// with the client certificate. nil: never.
	CustomAuthX509 func(r *http.Request) bool
	// Domains is the domain configurations service behind CreateDomainConfiguration and the
	// rest; nil leaves those operations out.
	Domains *domains.Service
	// ShadowNow is the clock of the shadow documents, for ListNamedShadowsForThing's timestamp;
	// nil is time.Now.
	ShadowNow func() time.Time

	// TemporaryCredentials keeps the credentials the credentials provider issues (see
	// credentials.go); the SigV4 check accepts them until they expire. Nil makes a new store.
	TemporaryCredentials *TemporaryCredentials
	// LoggingChanged is told the account's default log level (DEBUG, INFO, WARN, ERROR or
	// DISABLED) when SetV2LoggingOptions changes it, so the emulator's log of IoT events can
	// follow; nil ignores it.
	LoggingChanged func(level string)
	// Index is fleet indexing behind the indexing, search, aggregation and dynamic thing group
	// operations (indexing.go); nil leaves those operations out (UnknownOperationException).
	Index *index.Index
	// Jobs is the jobs service behind the Jobs operations of the control plane and the
	// iot-jobs-data device API; nil answers the control-plane ones 503 and leaves the device
	// API out.
	Jobs *jobs.Service
	// Rules is the rules engine behind the topic rule operations (rules.go); nil leaves them
	// out.
	Rules *rules.Engine
	// Provisioning is the fleet provisioning service behind the provisioning template
	// operations and CreateProvisioningClaim; nil leaves them out.
	Provisioning *provisioning.Service
}

// CSRSigner issues a device certificate (PEM) for the public key of a certificate signing
// request whose signature and key the API has already checked.
type CSRSigner interface {
	SignCSR(csr *x509.CertificateRequest) (certPEM string, err error)
}

// Defaults used when Config leaves a field empty.
const (
	defaultRegion   = "us-east-1"
	defaultAccount  = "123456789012"
	defaultEndpoint = "localhost"
)

// server is the http.Handler New returns.
type server struct {
	cfg    Config
	reg    *registry.Registry
	log    *slog.Logger
	routes router

	// The APIs dispatch chooses between (dispatch.go); control.routes is routes. creds is the
	// credentials provider's endpoint (credentials.go), reached with a client certificate.
	control, data, jobsData, creds plane
	now                            func() time.Time

	tempCreds *TemporaryCredentials
	// settingsMu serialises the read-modify-write of stored account settings (logging levels).
	settingsMu sync.Mutex

	// hosts is what Config.Hosts allows (crosssite.go).
	hosts hostAllow

	// warnedRegions records the foreign regions already warned about, so that a client
	// configured for another region gets one warning, not one per request.
	warnedRegions sync.Map
}

// New returns the HTTP handler of the control plane and the emulator-only routes.
func New(cfg Config) http.Handler {
	if cfg.Region == "" {
		cfg.Region = defaultRegion
	}
	if cfg.Account == "" {
		cfg.Account = defaultAccount
	}
	if cfg.Endpoint == "" {
		cfg.Endpoint = defaultEndpoint
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.CSRSigner == nil {
		if signer, ok := cfg.Issuer.(CSRSigner); ok {
			cfg.CSRSigner = signer
		}
	}
	s := &server{cfg: cfg, reg: cfg.Registry, log: cfg.Logger}
	s.routes = s.routeTable()
	s.hosts = newHostAllow(append([]string{cfg.Endpoint}, cfg.Hosts...))
	s.control = plane{name: planeControl, service: "iot", routes: s.routes}
	s.data = plane{name: planeData, service: "iotdata", routes: s.dataPlaneTable(), methodNotAllowed: true}
	s.jobsData = plane{name: planeJobsData, service: "iot-jobs-data", routes: s.jobsDataTable()}
	s.creds = plane{name: planeCredentials, service: "credentials", routes: s.credentialsTable()}
	s.now = time.Now
	s.tempCreds = cfg.TemporaryCredentials
	if s.tempCreds == nil {
		s.tempCreds = NewTemporaryCredentials(nil)
	}
	return s.withExtras()
}

// ServeHTTP routes one request, runs its operation and writes the JSON answer or the AWS error.
// Operations return their output instead of writing it, so a failed operation never leaves a
// half-written response behind.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rw := &responseRecorder{ResponseWriter: w}
	rw.Header().Set("x-amzn-RequestId", rand.Text())
	op := "unknown"

	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("api: operation panicked", "op", op, "method", r.Method, "path", r.URL.Path, "panic", v)
			if !rw.wrote {
				s.writeError(rw, r, op, &apiError{
					status:  http.StatusInternalServerError,
					name:    "InternalFailureException",
					message: "internal failure",
					cause:   fmt.Errorf("panic: %v", v),
				})
			}
		}
		s.log.Debug("api: request", "op", op, "method", r.Method, "path", r.URL.Path,
			"status", rw.status, "duration", time.Since(start))
	}()

	s.checkRegion(r)

	rt, vars, r, err := s.dispatch(r)
	if p := callerOf(r).plane; p != "" {
		rw.Header().Set(PlaneHeader, p)
	}
	if err != nil {
		s.writeError(rw, r, op, asAPIError(err))
		return
	}
	op = rt.op
	out, err := rt.handle(&call{r: r, vars: vars})
	if err != nil {
		s.writeError(rw, r, op, asAPIError(err))
		return
	}
	s.writeOutput(rw, out)
}

// writeError writes an AWS error response and logs it.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, op string, e *apiError) {
	attrs := []any{"op", op, "method", r.Method, "path", r.URL.Path, "status", e.status,
		"error", e.name, "message", e.message}
	if e.cause != nil {
		attrs = append(attrs, "cause", e.cause)
	}
	s.log.Warn("api: request failed", attrs...)
	writeAPIError(w, e)
}

// responseRecorder remembers the status written, for the request log and for knowing whether
// an error can still be reported after a panic.
type responseRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *responseRecorder) WriteHeader(status int) {
	if !r.wrote {
		r.status, r.wrote = status, true
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *responseRecorder) Write(b []byte) (int, error) {
	if !r.wrote {
		r.status, r.wrote = http.StatusOK, true
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *responseRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// errIssuerMissing is returned by CreateKeysAndCertificate when Config.Issuer is nil.
var errIssuerMissing = errors.New("api: no certificate issuer configured")

// errSignerMissing is returned by CreateCertificateFromCsr when there is no CSRSigner.
var errSignerMissing = errors.New("api: no CSR signer configured")
