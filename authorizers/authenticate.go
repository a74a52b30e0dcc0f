package authorizers

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/iotcore-local/iotcore-local/functions"
)

// Request is one custom authentication: what the client sent, per protocol.
type Request struct {
	// AuthorizerName is the authorizer the client named (x-amz-customauthorizer-name); "" for
	// the default authorizer.
	AuthorizerName string
	Token          string // the value of the authorizer's tokenKeyName, when sent
	TokenSet       bool   // a token was sent (possibly empty)
	Signature      string // x-amz-customauthorizer-signature, base64
	// TokenFrom finds the token by the authorizer's tokenKeyName, when Token is not set directly
	// (the key name is only known once the authorizer is).
	TokenFrom func(tokenKeyName string) (string, bool)

	ServerName string // TLS SNI; "" without TLS
	// ClientCertificate is the client's certificate on a domain configuration whose
	// authenticationType is CUSTOM_AUTH_X509; nil otherwise. The event carries it, and the
	// answer's principalId must be its certificate id.
	ClientCertificate *ClientCertificate
	HTTP              *HTTPContext
	MQTT              *MQTTContext
	// ConnectionID identifies the connection in the event (connectionMetadata.id).
	ConnectionID string
	// HTTPRequest marks an HTTPS publish: answers are cached only for authorizers with
	// enableCachingForHttp.
	HTTPRequest bool
	// Refresh marks the call refreshAfterInSeconds makes: the function is called, not the cache
	// (its answer then replaces the cached one).
	Refresh bool
}

// ClientCertificate is the X.509 part of a CUSTOM_AUTH_X509 event.
type ClientCertificate struct {
	PEM string // the leaf certificate, PEM
	ID  string // its AWS IoT certificate id (SHA-256 of the DER, hex)
}

// HTTPContext is the HTTP part of the event.
type HTTPContext struct {
	Headers     map[string]string `json:"headers,omitempty"`
	QueryString string            `json:"queryString,omitempty"` // with its leading "?"
}

// MQTTContext is the MQTT part of the event. Password is the raw CONNECT password; the event
// carries it base64.
type MQTTContext struct {
	Username    string
	Password    []byte
	HasPassword bool
	ClientID    string
}

// Answer is an authorizer's decision, checked against AWS's bounds.
type Answer struct {
	Authorizer      string
	IsAuthenticated bool
	PrincipalID     string
	PolicyDocuments []string // JSON texts
	// DisconnectAfter and RefreshAfter are in seconds; 0 when the answer has none.
	DisconnectAfter int
	RefreshAfter    int
	Cached          bool // served from the answer cache
}

// Bounds of an answer.
const (
	maxPolicyDocuments = 10
	maxPolicyLength    = 2048
	minSeconds         = 300
	maxSeconds         = 86400
	maxPrincipalID     = 128
)

// event is what the function receives.
type event struct {
	Token              *string             `json:"token,omitempty"`
	SignatureVerified  bool                `json:"signatureVerified"`
	Protocols          []string            `json:"protocols"`
	ProtocolData       eventProtocolData   `json:"protocolData"`
	ConnectionMetadata *connectionMetadata `json:"connectionMetadata,omitempty"`
}

type eventProtocolData struct {
	TLS  *eventTLS    `json:"tls,omitempty"`
	HTTP *HTTPContext `json:"http,omitempty"`
	MQTT *eventMQTT   `json:"mqtt,omitempty"`
}

// eventTLS is protocolData.tls: the server name, and under CUSTOM_AUTH_X509 the client's
// certificate and its id.
type eventTLS struct {
	ServerName         string `json:"serverName"`
	X509CertificatePEM string `json:"x509CertificatePem,omitempty"`
	PrincipalID        string `json:"principalId,omitempty"`
}

type eventMQTT struct {
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	ClientID string `json:"clientId,omitempty"`
}

type connectionMetadata struct {
	ID string `json:"id"`
}

// Authenticate runs custom authentication for req: picks the authorizer, verifies the token's
// signature, calls the function (or reuses a cached answer) and checks its answer. A failure is
// a *Refusal saying which step failed. An answer with isAuthenticated false is returned with a
// Refusal of cause ErrNotAuthenticated.
func (s *Service) Authenticate(ctx context.Context, req Request) (Answer, error) {
	a, keys, err := s.lookup(req.AuthorizerName)
	if err != nil {
		return Answer{}, err
	}
	token, hasToken := req.Token, req.TokenSet
	if !hasToken && req.TokenFrom != nil && a.TokenKeyName != "" {
		token, hasToken = req.TokenFrom(a.TokenKeyName)
	}
	verified := false
	if !a.SigningDisabled {
		if !hasToken || token == "" {
			return Answer{}, &Refusal{Cause: ErrSignature, Authorizer: a.Name, Detail: fmt.Sprintf("signing is enabled and no token was sent (%s)", a.TokenKeyName)}
		}
		if req.Signature == "" {
			return Answer{}, &Refusal{Cause: ErrSignature, Authorizer: a.Name, Detail: "signing is enabled and no signature was sent (x-amz-customauthorizer-signature)"}
		}
		if err := verifyToken(keys, token, req.Signature); err != nil {
			return Answer{}, &Refusal{Cause: ErrSignature, Authorizer: a.Name, Detail: err.Error()}
		}
		verified = true
	}
	ev := buildEvent(req, token, hasToken, verified)
	cacheable := s.opts.Cache && (!req.HTTPRequest || a.EnableCachingForHTTP)
	var key string
	if cacheable {
		ev.ConnectionMetadata = nil
		b, _ := json.Marshal(ev)
		key = a.Name + "\x00" + string(b)
		if ans, ok := s.cache.get(key, s.opts.Now()); ok && !req.Refresh {
			ans.Cached = true
			return ans, refusalOf(ans)
		}
	}
	if req.ConnectionID != "" {
		ev.ConnectionMetadata = &connectionMetadata{ID: req.ConnectionID}
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return Answer{}, fmt.Errorf("encode the authorizer event: %w", err)
	}
	ans, err := s.invoke(ctx, a, payload)
	if err != nil {
		return Answer{}, err
	}
	if c := req.ClientCertificate; c != nil && ans.IsAuthenticated && ans.PrincipalID != c.ID {
		return Answer{}, &Refusal{Cause: ErrFunction, Authorizer: a.Name, Detail: fmt.Sprintf(
			"%s answered principalId %q; under CUSTOM_AUTH_X509 it must be the client certificate's id %s (protocolData.tls.principalId)", a.FunctionARN, ans.PrincipalID, c.ID)}
	}
	if cacheable && ans.RefreshAfter > 0 {
		s.cache.put(key, ans, s.opts.Now().Add(time.Duration(ans.RefreshAfter)*time.Second))
	}
	return ans, refusalOf(ans)
}

func refusalOf(ans Answer) error {
	if ans.IsAuthenticated {
		return nil
	}
	return &Refusal{Cause: ErrNotAuthenticated, Authorizer: ans.Authorizer, Detail: "the function answered isAuthenticated: false"}
}

// buildEvent is the function's event for req.
func buildEvent(req Request, token string, hasToken, verified bool) event {
	ev := event{SignatureVerified: verified, Protocols: []string{}}
	if hasToken {
		ev.Token = &token
	}
	if req.ServerName != "" || req.HTTP != nil && req.MQTT == nil || req.MQTT != nil {
		ev.Protocols = append(ev.Protocols, "tls")
		if req.ServerName != "" || req.ClientCertificate != nil {
			ev.ProtocolData.TLS = &eventTLS{ServerName: req.ServerName}
		}
		if c := req.ClientCertificate; c != nil {
			ev.ProtocolData.TLS.X509CertificatePEM = c.PEM
			ev.ProtocolData.TLS.PrincipalID = c.ID
		}
	}
	if req.HTTP != nil {
		ev.Protocols = append(ev.Protocols, "http")
		ev.ProtocolData.HTTP = req.HTTP
	}
	if req.MQTT != nil {
		ev.Protocols = append(ev.Protocols, "mqtt")
		m := &eventMQTT{Username: req.MQTT.Username, ClientID: req.MQTT.ClientID}
		if req.MQTT.HasPassword {
			m.Password = base64.StdEncoding.EncodeToString(req.MQTT.Password)
		}
		ev.ProtocolData.MQTT = m
	}
	return ev
}

// verifyToken checks an RSA PKCS#1 v1.5 SHA-256 signature (base64, possibly URL-escaped by the
// client) of the token with any of the authorizer's keys.
func verifyToken(keys []*rsa.PublicKey, token, signature string) error {
	sig, err := base64.StdEncoding.DecodeString(signature)
	if err != nil {
		if sig, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(signature, "=")); err != nil {
			return fmt.Errorf("the signature is not base64: %v", err)
		}
	}
	sum := sha256.Sum256([]byte(token))
	for _, k := range keys {
		if rsa.VerifyPKCS1v15(k, crypto.SHA256, sum[:], sig) == nil {
			return nil
		}
	}
	return errors.New("the signature does not verify with any of the authorizer's tokenSigningPublicKeys")
}

// invoke calls the function and checks its answer.
func (s *Service) invoke(ctx context.Context, a *Authorizer, payload []byte) (Answer, error) {
	if s.opts.Invoker == nil {
		return Answer{}, &Refusal{Cause: ErrFunction, Authorizer: a.Name, Detail: "no function invoker is configured"}
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	out, err := s.opts.Invoker.Invoke(ctx, a.FunctionARN, payload)
	if err != nil {
		var fe *functions.FunctionError
		switch {
		case errors.As(err, &fe):
			return Answer{}, &Refusal{Cause: ErrFunction, Authorizer: a.Name, Detail: fmt.Sprintf("%s raised an error: %s", a.FunctionARN, fe.Error())}
		case errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil:
			return Answer{}, &Refusal{Cause: ErrFunction, Authorizer: a.Name, Detail: fmt.Sprintf("%s timed out: no answer within %s", a.FunctionARN, s.opts.Timeout)}
		}
		return Answer{}, &Refusal{Cause: ErrFunction, Authorizer: a.Name, Detail: fmt.Sprintf("calling %s failed: %v", a.FunctionARN, err)}
	}
	ans, err := parseAnswer(out)
	if err != nil {
		return Answer{}, &Refusal{Cause: ErrFunction, Authorizer: a.Name, Detail: fmt.Sprintf("%s answered malformed JSON or an invalid answer: %v", a.FunctionARN, err)}
	}
	ans.Authorizer = a.Name
	return ans, nil
}

// parseAnswer checks a function's answer against AWS's rules. The whole answer may be a JSON
// object or a JSON string holding one; each policy document an object or a string; trailing NUL
// bytes and white space are tolerated.
func parseAnswer(raw []byte) (Answer, error) {
	raw = bytes.TrimRight(raw, "\x00 \t\r\n")
	var s string
	if json.Unmarshal(raw, &s) == nil {
		raw = []byte(s)
	}
	var doc struct {
		IsAuthenticated          *bool             `json:"isAuthenticated"`
		PrincipalID              *string           `json:"principalId"`
		PolicyDocuments          []json.RawMessage `json:"policyDocuments"`
		DisconnectAfterInSeconds json.Number       `json:"disconnectAfterInSeconds"`
		RefreshAfterInSeconds    json.Number       `json:"refreshAfterInSeconds"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return Answer{}, fmt.Errorf("not a JSON object: %v", err)
	}
	if doc.IsAuthenticated == nil {
		return Answer{}, errors.New("isAuthenticated: required")
	}
	ans := Answer{IsAuthenticated: *doc.IsAuthenticated}
	if !ans.IsAuthenticated {
		return ans, nil
	}
	if doc.PrincipalID == nil || *doc.PrincipalID == "" {
		return Answer{}, errors.New("principalId: required")
	}
	if p := *doc.PrincipalID; len(p) > maxPrincipalID || strings.IndexFunc(p, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) >= 0 {
		return Answer{}, fmt.Errorf("principalId: %q must be 1-128 letters and digits", p)
	}
	ans.PrincipalID = *doc.PrincipalID
	if len(doc.PolicyDocuments) > maxPolicyDocuments {
		return Answer{}, fmt.Errorf("policyDocuments: %d documents; at most %d", len(doc.PolicyDocuments), maxPolicyDocuments)
	}
	for i, d := range doc.PolicyDocuments {
		var text string
		if json.Unmarshal(d, &text) != nil {
			var obj map[string]any
			if err := json.Unmarshal(d, &obj); err != nil {
				return Answer{}, fmt.Errorf("policyDocuments[%d]: neither a policy object nor a JSON string", i)
			}
			text = string(d)
		}
		if len(text) > maxPolicyLength {
			return Answer{}, fmt.Errorf("policyDocuments[%d]: %d characters; at most %d", i, len(text), maxPolicyLength)
		}
		ans.PolicyDocuments = append(ans.PolicyDocuments, text)
	}
	var err error
	if ans.DisconnectAfter, err = seconds("disconnectAfterInSeconds", doc.DisconnectAfterInSeconds); err != nil {
		return Answer{}, err
	}
	if ans.RefreshAfter, err = seconds("refreshAfterInSeconds", doc.RefreshAfterInSeconds); err != nil {
		return Answer{}, err
	}
	return ans, nil
}

// seconds reads a 300-86400 s bound; absent is 0.
func seconds(field string, n json.Number) (int, error) {
	if n == "" {
		return 0, nil
	}
	v, err := n.Int64()
	if err != nil || v < minSeconds || v > maxSeconds {
		return 0, fmt.Errorf("%s: %s is not an integer from %d to %d", field, n, minSeconds, maxSeconds)
	}
	return int(v), nil
}

// answerCache keeps answers until their refresh time.
type answerCache struct {
	mu      sync.Mutex
	entries map[string]cacheEntry
}

type cacheEntry struct {
	ans     Answer
	expires time.Time
}

// maxCacheEntries bounds the cache; when full, expired entries go first, then everything.
const maxCacheEntries = 10000

func (c *answerCache) get(key string, now time.Time) (Answer, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || !now.Before(e.expires) {
		return Answer{}, false
	}
	return e.ans, true
}

func (c *answerCache) put(key string, ans Answer, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxCacheEntries {
		now := time.Now()
		for k, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= maxCacheEntries {
			clear(c.entries)
		}
	}
	c.entries[key] = cacheEntry{ans: ans, expires: expires}
}

func (c *answerCache) dropAuthorizer(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.entries {
		if strings.HasPrefix(k, name+"\x00") {
			delete(c.entries, k)
		}
	}
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
