package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/google/uuid"

	"github.com/iotcore-local/iotcore-local/api"
	"github.com/iotcore-local/iotcore-local/registry"
)

// fakeBroker is an api.Broker that records what the API asks of it.
type fakeBroker struct {
	mu         sync.Mutex
	published  []api.Message
	retained   map[string]api.RetainedMessage
	connected  map[string]bool
	deleted    []deleteCall
	publishErr error
}

type deleteCall struct {
	clientID                  string
	cleanSession, preventWill bool
}

// fakeModified is the lastModified the fake gives retained messages.
var fakeModified = time.UnixMilli(1712345678000)

func newFakeBroker() *fakeBroker {
	return &fakeBroker{retained: map[string]api.RetainedMessage{}, connected: map[string]bool{}}
}

func (b *fakeBroker) Publish(_ context.Context, m api.Message) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.publishErr != nil {
		return b.publishErr
	}
	b.published = append(b.published, m)
	if m.Retain {
		if len(m.Payload) == 0 {
			delete(b.retained, m.Topic)
		} else {
			b.retained[m.Topic] = api.RetainedMessage{Topic: m.Topic, Payload: m.Payload, QoS: m.QoS,
				LastModified: fakeModified, UserProperties: m.UserProperties}
		}
	}
	return nil
}

func (b *fakeBroker) Retained(topic string) (api.RetainedMessage, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	m, ok := b.retained[topic]
	return m, ok
}

func (b *fakeBroker) ListRetained() []api.RetainedMessage {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []api.RetainedMessage
	for _, m := range b.retained {
		out = append(out, m)
	}
	slices.SortFunc(out, func(x, y api.RetainedMessage) int { return strings.Compare(x.Topic, y.Topic) })
	return out
}

func (b *fakeBroker) DeleteConnection(clientID string, cleanSession, preventWill bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.connected[clientID] {
		return api.ErrNoSuchClient
	}
	delete(b.connected, clientID)
	b.deleted = append(b.deleted, deleteCall{clientID, cleanSession, preventWill})
	return nil
}

func (b *fakeBroker) last(t *testing.T) api.Message {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.published) == 0 {
		t.Fatal("nothing was published")
	}
	return b.published[len(b.published)-1]
}

// Test key pair known to the servers of these tests.
const (
	knownKey    = "AKIDEXAMPLE"
	knownSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
)

// sigOpts says how a test request is signed; a zero value leaves it unsigned.
type sigOpts struct {
	key, secret, token string
	service, region    string
	at                 time.Time // default now
	presign            bool
	expires            int // presigned X-Amz-Expires (seconds); 0 leaves it out
	tokenAfterSigning  bool
	singleEncodedPath  bool   // sign the path as sent (S3 style), not escaped again
	payloadHash        string // signed instead of the body's SHA-256
}

// signer with the usual test defaults.
func known(service string) sigOpts {
	return sigOpts{key: knownKey, secret: knownSecret, service: service, region: testRegion}
}

// request builds a request for rawPath (already escaped, as an SDK sends it) and query, signs it
// with the real aws-sdk-go-v2 signer as o says, and returns it.
func (e *env) request(t *testing.T, method, rawPath string, query url.Values, body []byte, header http.Header, o sigOpts) *http.Request {
	t.Helper()
	u, err := url.Parse(e.srv.URL + rawPath)
	if err != nil {
		t.Fatalf("parse %s: %v", rawPath, err)
	}
	if o.presign && o.expires > 0 {
		if query == nil {
			query = url.Values{}
		}
		query.Set("X-Amz-Expires", strconv.Itoa(o.expires))
	}
	u.RawQuery = query.Encode()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(e.ctx, method, u.String(), rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if o.key == "" {
		return req
	}
	at := o.at
	if at.IsZero() {
		at = time.Now()
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	if o.payloadHash != "" {
		hash = o.payloadHash
	}
	creds := aws.Credentials{AccessKeyID: o.key, SecretAccessKey: o.secret}
	if !o.tokenAfterSigning {
		creds.SessionToken = o.token
	}
	opt := func(so *v4.SignerOptions) { so.DisableURIPathEscaping = o.singleEncodedPath }
	signer := v4.NewSigner()
	if o.presign {
		signed, _, err := signer.PresignHTTP(e.ctx, creds, req, hash, o.service, o.region, at, opt)
		if err != nil {
			t.Fatal(err)
		}
		if o.tokenAfterSigning && o.token != "" {
			signed += "&X-Amz-Security-Token=" + url.QueryEscape(o.token)
		}
		pu, err := url.Parse(signed)
		if err != nil {
			t.Fatal(err)
		}
		req.URL = pu
		return req
	}
	if err := signer.SignHTTP(e.ctx, creds, req, hash, o.service, o.region, at, opt); err != nil {
		t.Fatal(err)
	}
	if o.tokenAfterSigning && o.token != "" {
		req.Header.Set("X-Amz-Security-Token", o.token)
	}
	return req
}

// send sends req with the test server's client and returns the response and body.
func (e *env) send(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	return sendWith(t, e.srv.Client(), req)
}

func sendWith(t *testing.T, c *http.Client, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, data
}

// dataEnv is an API server with a fake broker and the test key pair.
func dataEnv(t *testing.T, mods ...func(*api.Config)) (*env, *fakeBroker) {
	t.Helper()
	b := newFakeBroker()
	e := newEnv(t, append([]func(*api.Config){func(c *api.Config) {
		c.Broker = b
		c.Credentials = map[string]string{knownKey: knownSecret}
	}}, mods...)...)
	return e, b
}

// publishReq builds a Publish as the iotdataplane SDK serializes it: the topic as one escaped
// path segment, qos/retain/contentType/responseTopic/messageExpiry in the query, the MQTT 5
// properties in x-amz-mqtt5-* headers (user properties as base64 of the JSON text),
// application/octet-stream body.
func publishReq(t *testing.T, e *env, topic string, payload []byte, query url.Values, header http.Header, o sigOpts) *http.Request {
	t.Helper()
	h := http.Header{"Content-Type": {"application/octet-stream"}}
	for k, v := range header {
		h[k] = v
	}
	return e.request(t, http.MethodPost, "/topics/"+escapeSegment(topic), query, payload, h, o)
}

// escapeSegment escapes everything but the unreserved characters, as the SDKs' URI labels do.
func escapeSegment(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteString("%" + strings.ToUpper(hex.EncodeToString([]byte{c})))
	}
	return b.String()
}

func TestPublish(t *testing.T) {
	e, b := dataEnv(t)
	props := base64.StdEncoding.EncodeToString([]byte(`[{"deviceName":"alpha"},{"deviceCnt":"45"},{"deviceName":"beta"}]`))
	q := url.Values{"qos": {"1"}, "retain": {"true"}, "contentType": {"application/json"},
		"responseTopic": {"replies/x"}, "messageExpiry": {"3600"}}
	h := http.Header{
		"X-Amz-Mqtt5-User-Properties":          {props},
		"X-Amz-Mqtt5-Payload-Format-Indicator": {"UTF8_DATA"},
		"X-Amz-Mqtt5-Correlation-Data":         {base64.StdEncoding.EncodeToString([]byte{0, 1, 2})},
	}
	topic := "$aws/things/t1/a b/ü"
	resp, body := e.send(t, publishReq(t, e, topic, []byte(`{"x":1}`), q, h, known("iotdata")))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("Publish: %d %q", resp.StatusCode, body)
	}
	checkPublishAnswer(t, resp, body)
	if got := resp.Header.Get(api.PlaneHeader); got != "iotdata" {
		t.Errorf("%s = %q, want iotdata", api.PlaneHeader, got)
	}
	m := b.last(t)
	want := api.Message{Topic: topic, Payload: []byte(`{"x":1}`), QoS: 1, Retain: true, ContentType: "application/json",
		ResponseTopic: "replies/x", CorrelationData: []byte{0, 1, 2}, MessageExpiry: 3600, PayloadFormatUTF8: true,
		UserProperties: [][2]string{{"deviceName", "alpha"}, {"deviceCnt", "45"}, {"deviceName", "beta"}}}
	if !messagesEqual(m, want) {
		t.Fatalf("published %+v\nwant %+v", m, want)
	}

	// A slash inside the topic arrives as %2F and stays in the topic.
	resp, _ = e.send(t, publishReq(t, e, "a/b/c", []byte("x"), nil, nil, known("iotdata")))
	if resp.StatusCode != http.StatusOK || b.last(t).Topic != "a/b/c" || b.last(t).QoS != 0 || b.last(t).Retain {
		t.Fatalf("Publish a/b/c: %d, %+v", resp.StatusCode, b.last(t))
	}

	// Empty payload + retain deletes the retained message.
	e.send(t, publishReq(t, e, "keep", []byte("v"), url.Values{"retain": {"true"}}, nil, known("iotdata")))
	if _, ok := b.Retained("keep"); !ok {
		t.Fatal("retained message not stored")
	}
	resp, _ = e.send(t, publishReq(t, e, "keep", nil, url.Values{"retain": {"true"}}, nil, known("iotdata")))
	if _, ok := b.Retained("keep"); ok || resp.StatusCode != http.StatusOK {
		t.Fatalf("empty retained publish: %d, retained message still there", resp.StatusCode)
	}
}

// checkPublishAnswer checks the body of a successful Publish: AWS's {"message":"OK","traceId":UUID}
// as application/json, and nothing else.
func checkPublishAnswer(t *testing.T, resp *http.Response, body []byte) {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Publish Content-Type = %q, want application/json", ct)
	}
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("Publish body %q: %v", body, err)
	}
	trace, _ := got["traceId"].(string)
	if len(got) != 2 || got["message"] != "OK" || uuid.Validate(trace) != nil {
		t.Fatalf(`Publish body = %s, want {"message":"OK","traceId":"<uuid>"}`, body)
	}
	if ids := resp.Header.Values("X-Amzn-Requestid"); len(ids) != 1 || ids[0] != trace {
		t.Fatalf("x-amzn-RequestId = %q, want the traceId %s alone", ids, trace)
	}
}

func messagesEqual(a, b api.Message) bool {
	return a.Topic == b.Topic && bytes.Equal(a.Payload, b.Payload) && a.QoS == b.QoS && a.Retain == b.Retain &&
		a.ContentType == b.ContentType && a.ResponseTopic == b.ResponseTopic &&
		bytes.Equal(a.CorrelationData, b.CorrelationData) && a.MessageExpiry == b.MessageExpiry &&
		a.PayloadFormatUTF8 == b.PayloadFormatUTF8 && slices.Equal(a.UserProperties, b.UserProperties)
}

func TestPublishErrors(t *testing.T) {
	e, b := dataEnv(t)
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	cases := []struct {
		name    string
		topic   string
		payload []byte
		query   url.Values
		header  http.Header
		status  int
		errName string
		msg     string
	}{
		{"qos 2", "t", nil, url.Values{"qos": {"2"}}, nil, 400, "InvalidRequestException", "qos: must be an integer between 0 and 1"},
		{"bad retain", "t", nil, url.Values{"retain": {"maybe"}}, nil, 400, "InvalidRequestException", "retain: must be true or false"},
		{"wildcard", "a/+/b", nil, nil, nil, 400, "InvalidRequestException", "wildcard"},
		{"too deep", "1/2/3/4/5/6/7/8/9", nil, nil, nil, 400, "InvalidRequestException", "slashes"},
		{"too long", strings.Repeat("x", 257), nil, nil, nil, 400, "InvalidRequestException", "257 bytes"},
		{"bad expiry", "t", nil, url.Values{"messageExpiry": {"-1"}}, nil, 400, "InvalidRequestException", "messageExpiry"},
		{"bad response topic", "t", nil, url.Values{"responseTopic": {"r/#"}}, nil, 400, "InvalidRequestException", "responseTopic"},
		{"bad format", "t", nil, nil, http.Header{"X-Amz-Mqtt5-Payload-Format-Indicator": {"TEXT"}}, 400, "InvalidRequestException", "UNSPECIFIED_BYTES or UTF8_DATA"},
		{"not utf8", "t", []byte{0xff}, nil, http.Header{"X-Amz-Mqtt5-Payload-Format-Indicator": {"UTF8_DATA"}}, 400, "InvalidRequestException", "not valid UTF-8"},
		{"bad correlation", "t", nil, nil, http.Header{"X-Amz-Mqtt5-Correlation-Data": {"!!"}}, 400, "InvalidRequestException", "base64"},
		{"props not base64", "t", nil, nil, http.Header{"X-Amz-Mqtt5-User-Properties": {"{{"}}, 400, "InvalidRequestException", "base64"},
		{"props not array", "t", nil, nil, http.Header{"X-Amz-Mqtt5-User-Properties": {b64(`{"a":"b"}`)}}, 400, "InvalidRequestException", "JSON array"},
		{"props number", "t", nil, nil, http.Header{"X-Amz-Mqtt5-User-Properties": {b64(`[{"a":1}]`)}}, 400, "InvalidRequestException", "JSON array"},
		{"too large", "t", bytes.Repeat([]byte("x"), 128*1024+1), nil, nil, 413, "RequestEntityTooLargeException", "128 KiB"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := e.send(t, publishReq(t, e, c.topic, c.payload, c.query, c.header, known("iotdata")))
			errorShape(t, resp, body, c.status, c.errName, c.msg)
		})
	}
	// Exactly 128 KiB is accepted.
	resp, body := e.send(t, publishReq(t, e, "t", bytes.Repeat([]byte("x"), 128*1024), nil, nil, known("iotdata")))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("128 KiB publish: %d %s", resp.StatusCode, body)
	}
	// A broker failure is an InternalFailureException.
	b.mu.Lock()
	b.publishErr = errors.New("boom")
	b.mu.Unlock()
	resp, body = e.send(t, publishReq(t, e, "t", []byte("x"), nil, nil, known("iotdata")))
	errorShape(t, resp, body, 500, "InternalFailureException", "boom")
	// A wrong method on a data-plane path is MethodNotAllowedException.
	resp, body = e.send(t, e.request(t, http.MethodGet, "/topics/t", nil, nil, nil, known("iotdata")))
	errorShape(t, resp, body, 405, "MethodNotAllowedException", "GET")
}

func TestDataPlaneWithoutBroker(t *testing.T) {
	e := newEnv(t)
	resp, body := e.send(t, publishReq(t, e, "t", []byte("x"), nil, nil, sigOpts{}))
	errorShape(t, resp, body, 503, "ServiceUnavailableException", "no MQTT broker")
}

func TestRetainedMessages(t *testing.T) {
	e, _ := dataEnv(t)
	props := base64.StdEncoding.EncodeToString([]byte(`[{"k":"v"},{"k":"w"}]`))
	for _, topic := range []string{"c", "a/1", "b", "a/2", "$aws/x"} {
		h := http.Header{}
		if topic == "b" {
			h.Set("X-Amz-Mqtt5-User-Properties", props)
		}
		resp, body := e.send(t, publishReq(t, e, topic, []byte("payload-"+topic), url.Values{"retain": {"true"}, "qos": {"1"}}, h, known("iotdata")))
		if resp.StatusCode != 200 {
			t.Fatalf("publish %s: %d %s", topic, resp.StatusCode, body)
		}
	}

	// GetRetainedMessage, as the SDK deserializes it: payload and userProperties base64,
	// lastModifiedTime epoch ms.
	resp, body := e.send(t, e.request(t, http.MethodGet, "/retainedMessage/b", nil, nil, nil, known("iotdata")))
	if resp.StatusCode != 200 {
		t.Fatalf("GetRetainedMessage: %d %s", resp.StatusCode, body)
	}
	var got struct {
		Topic            string `json:"topic"`
		Payload          []byte `json:"payload"`
		QoS              int32  `json:"qos"`
		LastModifiedTime int64  `json:"lastModifiedTime"`
		UserProperties   []byte `json:"userProperties"`
	}
	must(t, json.Unmarshal(body, &got))
	if got.Topic != "b" || string(got.Payload) != "payload-b" || got.QoS != 1 || got.LastModifiedTime != fakeModified.UnixMilli() ||
		string(got.UserProperties) != `[{"k":"v"},{"k":"w"}]` {
		t.Fatalf("GetRetainedMessage = %+v (%s)", got, body)
	}
	resp, body = e.send(t, e.request(t, http.MethodGet, "/retainedMessage/"+escapeSegment("a/1"), nil, nil, nil, known("iotdata")))
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"topic":"a/1"`) || strings.Contains(string(body), "userProperties") {
		t.Fatalf("GetRetainedMessage a/1: %d %s", resp.StatusCode, body)
	}
	resp, body = e.send(t, e.request(t, http.MethodGet, "/retainedMessage/none", nil, nil, nil, known("iotdata")))
	errorShape(t, resp, body, 404, "ResourceNotFoundException", "none")

	// ListRetainedMessages pages in topic order.
	type page struct {
		RetainedTopics []struct {
			Topic            string `json:"topic"`
			PayloadSize      int64  `json:"payloadSize"`
			QoS              int32  `json:"qos"`
			LastModifiedTime int64  `json:"lastModifiedTime"`
		} `json:"retainedTopics"`
		NextToken *string `json:"nextToken"`
	}
	var topics []string
	token := ""
	for range 10 {
		q := url.Values{"maxResults": {"2"}}
		if token != "" {
			q.Set("nextToken", token)
		}
		resp, body := e.send(t, e.request(t, http.MethodGet, "/retainedMessage", q, nil, nil, known("iotdata")))
		if resp.StatusCode != 200 {
			t.Fatalf("ListRetainedMessages: %d %s", resp.StatusCode, body)
		}
		var p page
		must(t, json.Unmarshal(body, &p))
		for _, r := range p.RetainedTopics {
			topics = append(topics, r.Topic)
			if r.PayloadSize != int64(len("payload-"+r.Topic)) || r.QoS != 1 || r.LastModifiedTime != fakeModified.UnixMilli() {
				t.Errorf("summary %+v", r)
			}
		}
		if p.NextToken == nil {
			break
		}
		token = *p.NextToken
	}
	if want := []string{"$aws/x", "a/1", "a/2", "b", "c"}; !slices.Equal(topics, want) {
		t.Fatalf("listed %v, want %v", topics, want)
	}
	for _, q := range []url.Values{{"maxResults": {"0"}}, {"maxResults": {"201"}}, {"nextToken": {"!!"}}} {
		resp, body := e.send(t, e.request(t, http.MethodGet, "/retainedMessage", q, nil, nil, known("iotdata")))
		errorShape(t, resp, body, 400, "InvalidRequestException", "")
	}
}

func TestDeleteConnection(t *testing.T) {
	e, b := dataEnv(t)
	b.connected["dev 1"] = true
	q := url.Values{"cleanSession": {"true"}, "preventWillMessage": {"true"}}
	resp, body := e.send(t, e.request(t, http.MethodDelete, "/connections/"+escapeSegment("dev 1"), q, nil, nil, known("iotdevicegateway")))
	if resp.StatusCode != 200 || len(body) != 0 {
		t.Fatalf("DeleteConnection: %d %s", resp.StatusCode, body)
	}
	if len(b.deleted) != 1 || b.deleted[0] != (deleteCall{"dev 1", true, true}) {
		t.Fatalf("deleted %+v", b.deleted)
	}
	resp, body = e.send(t, e.request(t, http.MethodDelete, "/connections/dev%201", nil, nil, nil, known("iotdata")))
	errorShape(t, resp, body, 404, "ResourceNotFoundException", "dev 1")
	resp, body = e.send(t, e.request(t, http.MethodDelete, "/connections/%24dev", nil, nil, nil, known("iotdata")))
	errorShape(t, resp, body, 400, "InvalidRequestException", "starts with $")
	resp, body = e.send(t, e.request(t, http.MethodDelete, "/connections/x", url.Values{"cleanSession": {"yes"}}, nil, nil, known("iotdata")))
	errorShape(t, resp, body, 400, "InvalidRequestException", "cleanSession")
}

// certPolicy allows publishing under allowed/, retaining under allowed/keep/, reading retained
// messages under allowed/ and listing them, and disconnecting client c1.
const certPolicy = `{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:us-east-1:123456789012:topic/allowed/*"},
 {"Effect":"Allow","Action":"iot:RetainPublish","Resource":"arn:aws:iot:us-east-1:123456789012:topic/allowed/keep/*"},
 {"Effect":"Allow","Action":"iot:GetRetainedMessage","Resource":"arn:aws:iot:us-east-1:123456789012:topic/allowed/*"},
 {"Effect":"Allow","Action":"iot:ListRetainedMessages","Resource":"*"},
 {"Effect":"Allow","Action":"iot:DeleteConnection","Resource":"arn:aws:iot:us-east-1:123456789012:client/c1"}
]}`

// mtlsClient starts the API over TLS requiring a client certificate (the x-amzn-http-ca and
// 8443 personalities) and returns a client presenting a new device certificate registered
// with status and certPolicy.
func mtlsClient(t *testing.T, e *env, status registry.CertificateStatus) (*httptest.Server, *http.Client, string) {
	t.Helper()
	srv := httptest.NewUnstartedServer(e.srv.Config.Handler)
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	creds, err := e.ca.IssueDevice()
	must(t, err)
	cert, err := e.reg.RegisterCertificate(creds.CertificatePEM, status, "")
	must(t, err)
	if _, err := e.reg.CreatePolicy("cert-policy-"+string(status), certPolicy); err != nil {
		t.Fatal(err)
	}
	must(t, e.reg.AttachPolicy("cert-policy-"+string(status), cert.ARN))
	pair, err := tls.X509KeyPair([]byte(creds.CertificatePEM), []byte(creds.PrivateKeyPEM))
	must(t, err)
	client := srv.Client()
	tr := client.Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.Certificates = []tls.Certificate{pair}
	return srv, &http.Client{Transport: tr}, cert.ID
}

func TestDataPlaneCertificateAuthorization(t *testing.T) {
	e, b := dataEnv(t, func(c *api.Config) { c.SigV4Strict = true })
	srv, client, certID := mtlsClient(t, e, registry.StatusActive)
	do := func(method, path string, body []byte) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(e.ctx, method, srv.URL+path, bytes.NewReader(body))
		must(t, err)
		return sendWith(t, client, req)
	}

	resp, body := do("POST", "/topics/allowed%2Fx?qos=1", []byte("hi"))
	if resp.StatusCode != 200 {
		t.Fatalf("allowed publish: %d %s", resp.StatusCode, body)
	}
	if b.last(t).Topic != "allowed/x" {
		t.Fatalf("published %+v", b.last(t))
	}
	resp, body = do("POST", "/topics/other%2Fx", []byte("hi"))
	errorShape(t, resp, body, 403, "ForbiddenException", "iot:Publish")
	if !strings.Contains(string(body), certID) {
		t.Errorf("refusal does not name the certificate: %s", body)
	}
	// Retaining needs iot:RetainPublish as well.
	resp, body = do("POST", "/topics/allowed%2Fx?retain=true", []byte("hi"))
	errorShape(t, resp, body, 403, "ForbiddenException", "iot:RetainPublish")
	resp, body = do("POST", "/topics/allowed%2Fkeep%2Fx?retain=true", []byte("hi"))
	if resp.StatusCode != 200 {
		t.Fatalf("allowed retained publish: %d %s", resp.StatusCode, body)
	}
	resp, body = do("GET", "/retainedMessage/allowed%2Fkeep%2Fx", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("GetRetainedMessage: %d %s", resp.StatusCode, body)
	}
	resp, body = do("GET", "/retainedMessage/other", nil)
	errorShape(t, resp, body, 403, "ForbiddenException", "iot:GetRetainedMessage")
	resp, body = do("GET", "/retainedMessage", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("ListRetainedMessages: %d %s", resp.StatusCode, body)
	}
	b.connected["c1"], b.connected["c2"] = true, true
	if resp, body = do("DELETE", "/connections/c1", nil); resp.StatusCode != 200 {
		t.Fatalf("DeleteConnection c1: %d %s", resp.StatusCode, body)
	}
	resp, body = do("DELETE", "/connections/c2", nil)
	errorShape(t, resp, body, 403, "ForbiddenException", "iot:DeleteConnection")
	// The control plane is not reachable with a certificate.
	resp, body = do("GET", "/things", nil)
	errorShape(t, resp, body, 403, "ForbiddenException", "control plane")

	// An INACTIVE certificate is refused whatever its policies.
	srv2, client2, _ := mtlsClient(t, e, registry.StatusInactive)
	req, err := http.NewRequestWithContext(e.ctx, "POST", srv2.URL+"/topics/allowed%2Fx", strings.NewReader("x"))
	must(t, err)
	resp, body = sendWith(t, client2, req)
	errorShape(t, resp, body, 403, "ForbiddenException", "INACTIVE")
}
