package emulator

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/crypto/ocsp"

	"github.com/iotcore-local/iotcore-local/functions"
	"github.com/iotcore-local/iotcore-local/pki"
)

// OCSP stapling of the server certificate (serverCertificateConfig.enableOCSPCheck): a domain
// configuration that enables it has every handshake whose SNI it matches carry an OCSP response
// for the server certificate. The response comes from the configuration's ocspLambdaArn (an
// RFC 6960 responder function, called with the base64 DER request) or, without one, from the
// root CA that issued the certificate. Responses are verified (signed by the root CA or a
// responder certificate it issued, about this certificate, current), kept, and fetched again
// at half their validity in the background; a handshake waits for a fetch only when there is
// no current response, and at most once per stapleRetry for a responder that fails.

const (
	// stapleFetchTimeout bounds one call of an OCSP responder function (AWS's function limit
	// for connection-time callbacks; the handshake deadline bounds it too).
	stapleFetchTimeout = 5 * time.Second
	// stapleRetry is how long a failed fetch is not retried inside a handshake.
	stapleRetry = 30 * time.Second
	// maxOCSPResponse is AWS's bound on a responder function's answer (4 KiB of DER).
	maxOCSPResponse = 4 << 10
)

// stapler keeps the OCSP responses stapled per domain configuration.
type stapler struct {
	pki       *pki.Authority
	functions syncInvoker
	log       *slog.Logger
	now       func() time.Time
	ctx       context.Context // canceled by close: fetches in flight end
	cancel    context.CancelFunc
	wg        sync.WaitGroup // background fetches

	mu      sync.Mutex
	entries map[string]*staple // by configuration name
}

// staple is one configuration's current response, for one server certificate.
type staple struct {
	leaf      *tls.Certificate // the server certificate it is about
	stapled   *tls.Certificate // leaf with the response attached; nil before the first success
	note      string           // the transcript's sentence for stapled
	refreshAt time.Time
	expires   time.Time
	fetching  bool
	failedAt  time.Time
	failure   string
	source    string // "the root CA" or the function's ARN, for a change of ocspLambdaArn
}

// syncInvoker is the part of functions.Invoker the stapler calls.
type syncInvoker interface {
	Invoke(ctx context.Context, arn string, payload []byte) ([]byte, error)
}

var _ syncInvoker = functions.Invoker(nil)

func newStapler(authority *pki.Authority, fn syncInvoker, log *slog.Logger, now func() time.Time) *stapler {
	if now == nil {
		now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &stapler{pki: authority, functions: fn, log: log, now: now, ctx: ctx, cancel: cancel, entries: make(map[string]*staple)}
}

// close ends the fetches in flight and waits for them.
func (s *stapler) close() {
	s.cancel()
	s.wg.Wait()
}

// Staple returns cert with the configuration's OCSP response attached, and the transcript's
// sentence about it. Without a current response it returns cert unchanged and says why.
func (s *stapler) Staple(config, lambdaARN string, cert *tls.Certificate) (*tls.Certificate, string) {
	source := "the root CA"
	if lambdaARN != "" {
		source = lambdaARN
	}
	now := s.now()
	s.mu.Lock()
	e := s.entries[config]
	if e == nil || e.leaf != cert || e.source != source {
		e = &staple{leaf: cert, source: source}
		s.entries[config] = e
	}
	switch {
	case e.stapled != nil && now.Before(e.expires):
		if !now.Before(e.refreshAt) && !e.fetching && s.ctx.Err() == nil {
			e.fetching = true
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.fetch(config, e, lambdaARN)
			}()
		}
		out, note := e.stapled, e.note
		s.mu.Unlock()
		return out, note
	case e.fetching || (!e.failedAt.IsZero() && now.Sub(e.failedAt) < stapleRetry):
		why := "a fetch is in progress"
		if e.failure != "" {
			why = e.failure
		}
		s.mu.Unlock()
		return cert, "OCSP stapling is enabled but no response is stapled: " + why
	}
	e.fetching = true
	s.mu.Unlock()
	s.fetch(config, e, lambdaARN)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.stapled == nil {
		return cert, "OCSP stapling is enabled but no response is stapled: " + e.failure
	}
	return e.stapled, e.note
}

// fetch asks the responder for a response about e.leaf and records the result in e.
func (s *stapler) fetch(config string, e *staple, lambdaARN string) {
	der, resp, err := s.respond(e.leaf, lambdaARN)
	s.mu.Lock()
	defer s.mu.Unlock()
	e.fetching = false
	if err != nil {
		e.failedAt, e.failure = s.now(), err.Error()
		s.log.Warn("OCSP stapling: no response", "domainConfiguration", config, "responder", e.source, "error", err)
		return
	}
	c := *e.leaf
	c.OCSPStaple = der
	e.stapled, e.failedAt, e.failure = &c, time.Time{}, ""
	e.expires = resp.NextUpdate
	if e.expires.IsZero() { // a response without nextUpdate: fetch again in an hour
		e.expires = resp.ThisUpdate.Add(time.Hour)
	}
	e.refreshAt = resp.ThisUpdate.Add(e.expires.Sub(resp.ThisUpdate) / 2)
	e.note = fmt.Sprintf("OCSP response stapled from %s: certificate status %s, thisUpdate %s, nextUpdate %s",
		e.source, ocspStatus(resp.Status), resp.ThisUpdate.UTC().Format(time.RFC3339), e.expires.UTC().Format(time.RFC3339))
}

// respond gets a verified DER OCSP response for cert's leaf from the function, or the root CA.
func (s *stapler) respond(cert *tls.Certificate, lambdaARN string) ([]byte, *ocsp.Response, error) {
	leaf := cert.Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, nil, fmt.Errorf("server certificate: %w", err)
		}
	}
	req, err := s.pki.OCSPRequest(leaf)
	if err != nil {
		return nil, nil, err
	}
	var der []byte
	if lambdaARN == "" {
		der, err = s.pki.RespondOCSP(req)
	} else {
		der, err = s.callResponder(lambdaARN, req)
	}
	if err != nil {
		return nil, nil, err
	}
	resp, err := s.pki.VerifyOCSPResponse(der, leaf)
	if err != nil {
		return nil, nil, err
	}
	return der, resp, nil
}

// ocspFunctionEvent and ocspFunctionAnswer are the OCSP responder function's contract: the
// base64 DER request in, the base64 DER response out.
type ocspFunctionEvent struct {
	TaskID      string `json:"taskId"`
	OCSPRequest string `json:"ocspRequest"`
}

type ocspFunctionAnswer struct {
	OCSPResponse string `json:"ocspResponse"`
}

// callResponder invokes an ocspLambdaArn function. Its answer may be {"ocspResponse": base64}
// or a JSON string holding the base64 alone.
func (s *stapler) callResponder(arn string, req []byte) ([]byte, error) {
	if s.functions == nil {
		return nil, fmt.Errorf("OCSP responder %s: no function invoker is configured", arn)
	}
	payload, err := json.Marshal(ocspFunctionEvent{TaskID: uuid.NewString(), OCSPRequest: base64.StdEncoding.EncodeToString(req)})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(s.ctx, stapleFetchTimeout)
	defer cancel()
	out, err := s.functions.Invoke(ctx, arn, payload)
	if err != nil {
		return nil, fmt.Errorf("OCSP responder %s: %w", arn, err)
	}
	raw := strings.TrimRight(string(out), "\x00 \t\r\n")
	var ans ocspFunctionAnswer
	var text string
	switch {
	case json.Unmarshal([]byte(raw), &ans) == nil && ans.OCSPResponse != "":
		text = ans.OCSPResponse
	case json.Unmarshal([]byte(raw), &text) == nil && text != "":
	default:
		return nil, fmt.Errorf("OCSP responder %s: the answer is neither {\"ocspResponse\": base64} nor a base64 string", arn)
	}
	der, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		return nil, fmt.Errorf("OCSP responder %s: ocspResponse is not base64: %w", arn, err)
	}
	if len(der) > maxOCSPResponse {
		return nil, fmt.Errorf("OCSP responder %s: the response is %d bytes; at most %d are accepted", arn, len(der), maxOCSPResponse)
	}
	return der, nil
}

func ocspStatus(s int) string {
	switch s {
	case ocsp.Good:
		return "good"
	case ocsp.Revoked:
		return "revoked"
	}
	return "unknown"
}
