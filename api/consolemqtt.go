package api

import (
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// The web console's MQTT test client connects to /mqtt like any browser client: with a SigV4
// presigned URL. A page cannot sign by itself (it holds no secret), so the emulator signs for it:
// POST /_iotcore/console/mqtt-url answers a presigned ws:// (or wss://) URL of /mqtt, valid for
// ConsoleURLLifetime, signed with the ConsoleCredential — a key pair made at start, kept in memory
// only, known to the /mqtt verifier and to nothing else. The route is an /_iotcore/ route, so it
// gets the checks of every emulator route (dispatchLocal): the Host and Origin checks of
// crosssite.go for callers that are not strongly authenticated, and under --sigv4-strict a SigV4
// signature made with a --credentials key pair. What it hands out is an MQTT session with the
// console identity, which, like a --credentials key given no policy, is allowed every iot:
// action: the same reach the unsigned HTTP API already gives a same-origin caller.

// ConsoleURLLifetime is how long a presigned URL from the console route may be used to open a
// connection (X-Amz-Expires). A connection once open lives on, as on AWS.
const ConsoleURLLifetime = time.Minute

// consoleKeyPrefix starts the console's access key id, so logs and transcripts show it for what
// it is.
const consoleKeyPrefix = "AKIACONSOLE"

// ConsoleCredential is the emulator-internal key pair of the web console's MQTT test client.
// It is made by NewConsoleCredential, never written anywhere, and only WebSocketVerifier (the
// /mqtt upgrade) verifies signatures made with it: to the rest of the API it is an unknown key.
type ConsoleCredential struct {
	accessKey, secret, region string
	now                       func() time.Time
}

// NewConsoleCredential makes a fresh random key pair for signing /mqtt URLs scoped to region;
// now is its clock (nil: time.Now).
func NewConsoleCredential(region string, now func() time.Time) *ConsoleCredential {
	if region == "" {
		region = defaultRegion
	}
	if now == nil {
		now = time.Now
	}
	b32 := base32.StdEncoding.WithPadding(base32.NoPadding)
	key := consoleKeyPrefix + b32.EncodeToString(randomBytes(6))[:20-len(consoleKeyPrefix)]
	return &ConsoleCredential{
		accessKey: key,
		secret:    base64.StdEncoding.EncodeToString(randomBytes(30)),
		region:    region,
		now:       now,
	}
}

// AccessKeyID is the console key's id, the principal its MQTT connections carry.
func (c *ConsoleCredential) AccessKeyID() string { return c.accessKey }

// secretFor returns the console secret when accessKey is the console's.
func (c *ConsoleCredential) secretFor(accessKey string) (string, bool) {
	if c == nil || accessKey != c.accessKey {
		return "", false
	}
	return c.secret, true
}

// PresignMQTT returns a URL of GET /mqtt on host (as the browser will send it in Host), with
// scheme "ws" or "wss", presigned for the service iotdevicegateway, and when it expires.
func (c *ConsoleCredential) PresignMQTT(scheme, host string) (string, time.Time) {
	now := c.now().UTC()
	amzDate := now.Format(amzDateFormat)
	scopeDate := now.Format(scopeDateFormat)
	const service = "iotdevicegateway"
	q := url.Values{}
	q.Set(qAlgorithm, sigV4Algorithm)
	q.Set(qCredential, c.accessKey+"/"+scopeDate+"/"+c.region+"/"+service+"/"+sigV4Terminator)
	q.Set(qDate, amzDate)
	q.Set(qExpires, strconv.Itoa(int(ConsoleURLLifetime/time.Second)))
	q.Set(qSignedHeaders, "host")
	raw := q.Encode()
	creq := http.MethodGet + "\n" + "/mqtt" + "\n" + canonicalQuery(raw, true, true) + "\n" +
		"host:" + collapseSpaces(host) + "\n\n" + "host" + "\n" + emptyPayloadHash
	s := &sigV4{amzDate: amzDate, scopeDate: scopeDate, region: c.region, service: service, terminator: sigV4Terminator}
	sig := hex.EncodeToString(hmacSHA256(signingKey(c.secret, scopeDate, c.region, service), []byte(s.stringToSign(creq))))
	u := url.URL{Scheme: scheme, Host: host, Path: "/mqtt", RawQuery: raw + "&" + qSignature + "=" + sig}
	return u.String(), now.Add(ConsoleURLLifetime)
}

// consoleMQTTURL is POST /_iotcore/console/mqtt-url: a presigned /mqtt URL for the console's MQTT
// test client, on the host and scheme the caller used. dispatchLocal has already refused
// cross-site callers, foreign Hosts and, under --sigv4-strict, unsigned callers.
func (s *server) consoleMQTTURL(c *call) (any, error) {
	if s.cfg.ConsoleCredential == nil {
		return nil, notFound("the console's MQTT credential is not available")
	}
	if c.r.Host == "" {
		return nil, invalidRequest("the request has no Host: the URL is made for the host the page was loaded from")
	}
	scheme := "ws"
	if c.r.TLS != nil {
		scheme = "wss"
	}
	u, exp := s.cfg.ConsoleCredential.PresignMQTT(scheme, c.r.Host)
	out := map[string]any{
		"url":         u,
		"accessKeyId": s.cfg.ConsoleCredential.AccessKeyID(),
		"expiration":  exp.Format(time.RFC3339),
		"identity": "the emulator's console credential " + s.cfg.ConsoleCredential.AccessKeyID() +
			": a key pair made at start and kept in memory, allowed every iot: action like a --credentials key with no policy",
	}
	return withHeaders{header: http.Header{"Cache-Control": {"no-store"}}, body: out}, nil
}
