package api_test

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane/types"
	"github.com/aws/smithy-go"

	"github.com/iotcore-local/iotcore-local/api"
	"github.com/iotcore-local/iotcore-local/registry"
	"github.com/iotcore-local/iotcore-local/shadow"
)

// shadowClock is the fixed clock of the shadow tests' documents.
const shadowClock = 1700000000

// pubRecorder is a Config.ShadowPublish that records what the API publishes.
type pubRecorder struct {
	mu   sync.Mutex
	pubs []shadow.Publication
}

func (r *pubRecorder) publish(pubs []shadow.Publication) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pubs = append(r.pubs, pubs...)
}

// take returns the publications recorded since the last take, as "topic payload" lines.
func (r *pubRecorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, p := range r.pubs {
		out = append(out, p.Topic+" "+string(p.Payload))
	}
	r.pubs = nil
	return out
}

// shadowEnv is an API server with a real shadow service (fixed clock) and a recording
// publisher, and an iotdataplane client pointed at it.
type shadowEnv struct {
	*env
	data *iotdataplane.Client
	pubs *pubRecorder
}

func newShadowEnv(t *testing.T) *shadowEnv {
	t.Helper()
	now := func() time.Time { return time.Unix(shadowClock, 0) }
	svc, err := shadow.Open(filepath.Join(t.TempDir(), "shadows.db"), shadow.Options{Now: now, NoSync: true})
	must(t, err)
	t.Cleanup(func() { _ = svc.Close() })
	rec := &pubRecorder{}
	e := newEnv(t, func(c *api.Config) {
		c.Shadows, c.ShadowPublish, c.ShadowNow = svc, rec.publish, now
	})
	return &shadowEnv{env: e, data: dataPlaneClient(e.srv.Client(), e.srv.URL), pubs: rec}
}

// dataPlaneClient is an AWS SDK iotdataplane client for baseURL, retries off.
func dataPlaneClient(hc *http.Client, baseURL string) *iotdataplane.Client {
	return iotdataplane.New(iotdataplane.Options{
		Region:           testRegion,
		Credentials:      credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		RetryMaxAttempts: 1,
		HTTPClient:       hc,
		BaseEndpoint:     aws.String(baseURL),
	})
}

func (e *shadowEnv) update(t *testing.T, thing, name, doc string) ([]byte, error) {
	t.Helper()
	in := &iotdataplane.UpdateThingShadowInput{ThingName: aws.String(thing), Payload: []byte(doc)}
	if name != "" {
		in.ShadowName = aws.String(name)
	}
	out, err := e.data.UpdateThingShadow(e.ctx, in)
	if err != nil {
		return nil, err
	}
	return out.Payload, nil
}

func (e *shadowEnv) get(t *testing.T, thing, name string) ([]byte, error) {
	t.Helper()
	in := &iotdataplane.GetThingShadowInput{ThingName: aws.String(thing)}
	if name != "" {
		in.ShadowName = aws.String(name)
	}
	out, err := e.data.GetThingShadow(e.ctx, in)
	if err != nil {
		return nil, err
	}
	return out.Payload, nil
}

func (e *shadowEnv) delete(t *testing.T, thing, name string) ([]byte, error) {
	t.Helper()
	in := &iotdataplane.DeleteThingShadowInput{ThingName: aws.String(thing)}
	if name != "" {
		in.ShadowName = aws.String(name)
	}
	out, err := e.data.DeleteThingShadow(e.ctx, in)
	if err != nil {
		return nil, err
	}
	return out.Payload, nil
}

// wantDoc fails unless got is exactly want.
func wantDoc(t *testing.T, what string, got []byte, err error, want string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if string(got) != want {
		t.Fatalf("%s:\n got %s\nwant %s", what, got, want)
	}
}

// wantPubs fails unless the publications recorded since the last call are exactly want.
func wantPubs(t *testing.T, rec *pubRecorder, want ...string) {
	t.Helper()
	if got := rec.take(); !slices.Equal(got, want) {
		t.Fatalf("publications:\n got %q\nwant %q", got, want)
	}
}

func TestShadowHTTPClassicAndNamed(t *testing.T) {
	e := newShadowEnv(t)

	// A shadow that does not exist: AWS's 404 text, the thing's name quoted for the classic one.
	_, err := e.get(t, "lamp", "")
	nf := wantErr[*types.ResourceNotFoundException](t, err, 404)
	if got := aws.ToString(nf.Message); got != "No shadow exists with name: 'lamp'" {
		t.Fatalf("message = %q", got)
	}

	// Update: the answer is update/accepted, and accepted, delta and documents are published.
	accepted := `{"state":{"desired":{"color":"red"}},"metadata":{"desired":{"color":{"timestamp":1700000000}}},"version":1,"timestamp":1700000000,"clientToken":"app-1"}`
	body, err := e.update(t, "lamp", "", `{"state":{"desired":{"color":"red"}},"clientToken":"app-1"}`)
	wantDoc(t, "UpdateThingShadow", body, err, accepted)
	wantPubs(t, e.pubs,
		"$aws/things/lamp/shadow/update/accepted "+accepted,
		`$aws/things/lamp/shadow/update/delta {"version":1,"timestamp":1700000000,"state":{"color":"red"},"metadata":{"color":{"timestamp":1700000000}},"clientToken":"app-1"}`,
		`$aws/things/lamp/shadow/update/documents {"current":{"state":{"desired":{"color":"red"}},"metadata":{"desired":{"color":{"timestamp":1700000000}}},"version":1},"timestamp":1700000000,"clientToken":"app-1"}`,
	)

	// A named shadow of the same thing is another document with its own topics.
	named := `{"state":{"reported":{"angle":90}},"metadata":{"reported":{"angle":{"timestamp":1700000000}}},"version":1,"timestamp":1700000000}`
	body, err = e.update(t, "lamp", "$arm", `{"state":{"reported":{"angle":90}}}`)
	wantDoc(t, "UpdateThingShadow named", body, err, named)
	wantPubs(t, e.pubs,
		"$aws/things/lamp/shadow/name/$arm/update/accepted "+named,
		`$aws/things/lamp/shadow/name/$arm/update/documents {"current":{"state":{"reported":{"angle":90}},"metadata":{"reported":{"angle":{"timestamp":1700000000}}},"version":1},"timestamp":1700000000}`,
	)

	// Get answers the document with its delta; nothing is published (get/accepted is MQTT-only).
	body, err = e.get(t, "lamp", "")
	wantDoc(t, "GetThingShadow", body, err,
		`{"state":{"desired":{"color":"red"},"delta":{"color":"red"}},"metadata":{"desired":{"color":{"timestamp":1700000000}}},"version":1,"timestamp":1700000000}`)
	body, err = e.get(t, "lamp", "$arm")
	wantDoc(t, "GetThingShadow named", body, err,
		`{"state":{"reported":{"angle":90}},"metadata":{"reported":{"angle":{"timestamp":1700000000}}},"version":1,"timestamp":1700000000}`)
	wantPubs(t, e.pubs)

	// Delete answers {"version","timestamp"} and publishes delete/accepted; the version is kept.
	body, err = e.delete(t, "lamp", "$arm")
	wantDoc(t, "DeleteThingShadow", body, err, `{"version":1,"timestamp":1700000000}`)
	wantPubs(t, e.pubs, `$aws/things/lamp/shadow/name/$arm/delete/accepted {"version":1,"timestamp":1700000000}`)
	_, err = e.get(t, "lamp", "$arm")
	nf = wantErr[*types.ResourceNotFoundException](t, err, 404)
	if got := aws.ToString(nf.Message); got != "No shadow exists with name: '$arm'" {
		t.Fatalf("message = %q", got)
	}
	_, err = e.delete(t, "lamp", "$arm")
	wantErr[*types.ResourceNotFoundException](t, err, 404)
	body, err = e.update(t, "lamp", "$arm", `{"state":{"reported":{"angle":10}}}`)
	if err != nil || !bytes.Contains(body, []byte(`"version":2`)) {
		t.Fatalf("recreated shadow: %s, %v; want version 2", body, err)
	}
	e.pubs.take()

	// The classic shadow was not touched by the named one.
	body, err = e.get(t, "lamp", "")
	if err != nil || !bytes.Contains(body, []byte(`"version":1`)) {
		t.Fatalf("classic shadow: %s, %v", body, err)
	}
}

func TestShadowHTTPErrors(t *testing.T) {
	e := newShadowEnv(t)
	if _, err := e.update(t, "lamp", "", `{"state":{"reported":{"on":true}}}`); err != nil {
		t.Fatal(err)
	}
	e.pubs.take()

	// Version conflict: 409 ConflictException with AWS's message.
	_, err := e.update(t, "lamp", "", `{"state":{"reported":{"on":false}},"version":7,"clientToken":"c"}`)
	ce := wantErr[*types.ConflictException](t, err, 409)
	if got := aws.ToString(ce.Message); got != "Version conflict" {
		t.Fatalf("message = %q", got)
	}
	// The current version is accepted.
	if _, err := e.update(t, "lamp", "", `{"state":{"reported":{"on":false}},"version":1}`); err != nil {
		t.Fatalf("update at the current version: %v", err)
	}
	e.pubs.take()

	// Over 8 KB of state after the merge: 413.
	big := `{"state":{"reported":{"blob":"` + strings.Repeat("x", 8200) + `"}}}`
	_, err = e.update(t, "lamp", "", big)
	tl := wantErr[*types.RequestEntityTooLargeException](t, err, 413)
	if got := aws.ToString(tl.Message); got != "The payload exceeds the maximum size allowed" {
		t.Fatalf("message = %q", got)
	}
	// Over the 128 KiB payload limit: 413 too, without reading the whole body.
	_, err = e.update(t, "lamp", "", `{"state":{"reported":{"blob":"`+strings.Repeat("x", 200*1024)+`"}}}`)
	wantErr[*types.RequestEntityTooLargeException](t, err, 413)

	cases := []struct {
		name, doc, msg string
	}{
		{"invalid JSON", `{"state":`, "Invalid JSON"},
		{"no state", `{"clientToken":"x"}`, "Missing required node: state"},
		{"delta node", `{"state":{"delta":{"a":1}}}`, "State contains an invalid node: 'delta'"},
		{"empty", ``, "Missing update payload"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.update(t, "lamp", "", c.doc)
			ir := wantErr[*types.InvalidRequestException](t, err, 400)
			if got := aws.ToString(ir.Message); got != c.msg {
				t.Fatalf("message = %q, want %q", got, c.msg)
			}
		})
	}
	_, err = e.update(t, "lamp", "", "{\"state\":{\"reported\":{\"a\":\"\xff\"}}}")
	ue := wantErr[*types.UnsupportedDocumentEncodingException](t, err, 415)
	if got := aws.ToString(ue.Message); got != "Unsupported documented encoding; supported encoding is UTF-8" {
		t.Fatalf("message = %q", got)
	}
	// Invalid names: 400. An empty ?name= is not the classic shadow.
	_, err = e.update(t, "lamp", "a b", `{"state":{}}`)
	wantErr[*types.InvalidRequestException](t, err, 400)
	_, err = e.get(t, "lamp", "")
	if err != nil {
		t.Fatal(err)
	}
	resp, body := e.do(t, http.MethodGet, "/things/lamp/shadow?name=", "", nil)
	errorShape(t, resp, body, 400, "InvalidRequestException", "name")

	// Refusals publish nothing: /rejected answers MQTT requests only.
	wantPubs(t, e.pubs)

	// The wire shape: x-amzn-ErrorType and {"message"} only, never the MQTT document's code.
	resp, body = e.do(t, http.MethodGet, "/things/ghost/shadow", "", nil)
	if resp.StatusCode != 404 || resp.Header.Get("X-Amzn-Errortype") != "ResourceNotFoundException" ||
		string(body) != `{"message":"No shadow exists with name: 'ghost'"}` {
		t.Fatalf("404 on the wire: %d %q %s", resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"), body)
	}
	if got := resp.Header.Get(api.PlaneHeader); got != "iotdata" {
		t.Errorf("%s = %q, want iotdata", api.PlaneHeader, got)
	}
	resp, body = e.do(t, http.MethodPut, "/things/lamp/shadow", "{}", nil)
	errorShape(t, resp, body, 405, "MethodNotAllowedException", "PUT")
}

func TestListNamedShadowsForThing(t *testing.T) {
	e := newShadowEnv(t)
	for _, n := range []string{"", "e", "b", "$a", "d", "c"} {
		if _, err := e.update(t, "robot", n, `{"state":{"reported":{"x":1}}}`); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.delete(t, "robot", "d"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.update(t, "other", "z", `{"state":{"reported":{"x":1}}}`); err != nil {
		t.Fatal(err)
	}

	var names []string
	var token *string
	pages := 0
	for {
		out, err := e.data.ListNamedShadowsForThing(e.ctx, &iotdataplane.ListNamedShadowsForThingInput{
			ThingName: aws.String("robot"), PageSize: aws.Int32(2), NextToken: token,
		})
		must(t, err)
		pages++
		if out.Timestamp != shadowClock || len(out.Results) > 2 {
			t.Fatalf("page %d: %+v", pages, out)
		}
		names = append(names, out.Results...)
		if out.NextToken == nil {
			break
		}
		token = out.NextToken
	}
	// The classic shadow, the deleted one and other things' shadows are not listed.
	if want := []string{"$a", "b", "c", "e"}; !slices.Equal(names, want) || pages != 2 {
		t.Fatalf("listed %v in %d pages, want %v in 2", names, pages, want)
	}
	out, err := e.data.ListNamedShadowsForThing(e.ctx, &iotdataplane.ListNamedShadowsForThingInput{ThingName: aws.String("robot")})
	must(t, err)
	if !slices.Equal(out.Results, []string{"$a", "b", "c", "e"}) || out.NextToken != nil {
		t.Fatalf("default page: %+v", out)
	}
	// An unknown thing has an empty list, sent as [].
	resp, body := e.do(t, http.MethodGet, "/api/things/shadow/ListNamedShadowsForThing/nobody", "", nil)
	if resp.StatusCode != 200 || string(body) != `{"results":[],"timestamp":1700000000}` {
		t.Fatalf("unknown thing: %d %s", resp.StatusCode, body)
	}
	for _, in := range []*iotdataplane.ListNamedShadowsForThingInput{
		{ThingName: aws.String("robot"), PageSize: aws.Int32(101)},
		{ThingName: aws.String("robot"), PageSize: aws.Int32(0)},
		{ThingName: aws.String("robot"), NextToken: aws.String("!!")},
		{ThingName: aws.String("bad name")},
	} {
		_, err := e.data.ListNamedShadowsForThing(e.ctx, in)
		wantErr[*types.InvalidRequestException](t, err, 400)
	}
}

// TestShadowHTTPWithoutService: without a shadow service the API has no shadow operations.
func TestShadowHTTPWithoutService(t *testing.T) {
	e := newEnv(t)
	resp, body := e.do(t, http.MethodGet, "/things/x/shadow", "", nil)
	errorShape(t, resp, body, 404, "UnknownOperationException", "/things/x/shadow")
}

// shadowCertPolicy lets a certificate read, update and delete lamp's classic shadow and its
// named shadow cfg, and list named shadows.
const shadowCertPolicy = `{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":["iot:GetThingShadow","iot:UpdateThingShadow","iot:DeleteThingShadow"],
  "Resource":["arn:aws:iot:us-east-1:123456789012:thing/lamp","arn:aws:iot:us-east-1:123456789012:thing/lamp/cfg"]},
 {"Effect":"Allow","Action":"iot:ListNamedShadowsForThing","Resource":"*"}
]}`

func TestShadowHTTPCertificateAuthorization(t *testing.T) {
	e := newShadowEnv(t)
	srv := httptest.NewUnstartedServer(e.srv.Config.Handler)
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	creds, err := e.ca.IssueDevice()
	must(t, err)
	cert, err := e.reg.RegisterCertificate(creds.CertificatePEM, registry.StatusActive, "")
	must(t, err)
	_, err = e.reg.CreatePolicy("shadow-policy", shadowCertPolicy)
	must(t, err)
	must(t, e.reg.AttachPolicy("shadow-policy", cert.ARN))
	pair, err := tls.X509KeyPair([]byte(creds.CertificatePEM), []byte(creds.PrivateKeyPEM))
	must(t, err)
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.Certificates = []tls.Certificate{pair}
	dev := &shadowEnv{env: e.env, data: dataPlaneClient(&http.Client{Transport: tr}, srv.URL), pubs: e.pubs}

	for _, name := range []string{"", "cfg"} {
		if _, err := dev.update(t, "lamp", name, `{"state":{"reported":{"on":true}}}`); err != nil {
			t.Fatalf("update lamp %q: %v", name, err)
		}
		if _, err := dev.get(t, "lamp", name); err != nil {
			t.Fatalf("get lamp %q: %v", name, err)
		}
	}
	if len(e.pubs.take()) == 0 {
		t.Fatal("an update with a certificate published nothing")
	}
	_, err = dev.update(t, "other", "", `{"state":{"reported":{"on":true}}}`)
	fe := wantForbidden(t, err)
	if msg := fe.ErrorMessage(); !strings.Contains(msg, "iot:UpdateThingShadow") || !strings.Contains(msg, "thing/other") {
		t.Fatalf("message = %q", msg)
	}
	_, err = dev.update(t, "lamp", "secret", `{"state":{"reported":{"on":true}}}`)
	fe = wantForbidden(t, err)
	if msg := fe.ErrorMessage(); !strings.Contains(msg, "thing/lamp/secret") {
		t.Fatalf("message = %q", msg)
	}
	_, err = dev.get(t, "other", "")
	wantForbidden(t, err)
	wantPubs(t, e.pubs)
	out, err := dev.data.ListNamedShadowsForThing(e.ctx, &iotdataplane.ListNamedShadowsForThingInput{ThingName: aws.String("lamp")})
	if err != nil || !slices.Equal(out.Results, []string{"cfg"}) {
		t.Fatalf("list: %+v, %v", out, err)
	}
	if _, err := dev.delete(t, "lamp", "cfg"); err != nil {
		t.Fatalf("delete lamp cfg: %v", err)
	}
	_, err = dev.delete(t, "other", "")
	wantForbidden(t, err)
}

// wantForbidden asserts a 403 ForbiddenException. The iot-data model declares the exception for
// the connection operations only, so the SDK reports it on the shadow operations as a generic
// API error with that code.
func wantForbidden(t *testing.T, err error) smithy.APIError {
	t.Helper()
	ae := wantErr[smithy.APIError](t, err, 403)
	if ae.ErrorCode() != "ForbiddenException" {
		t.Fatalf("error code = %q, want ForbiddenException (%v)", ae.ErrorCode(), err)
	}
	return ae
}

// FuzzShadowHTTP sends random shadow requests (operation, thing, ?name=, query, body) through
// the handler with a real shadow service. Property: no 5xx; every error is AWS's HTTP shape
// (x-amzn-ErrorType and a JSON body with a message and no numeric code); every success is a
// JSON document; only accepted updates and deletes publish, never a /rejected.
func FuzzShadowHTTP(f *testing.F) {
	for _, s := range []struct {
		op                 uint8
		thing, query, body string
	}{
		{0, "lamp", "", ""},
		{1, "lamp", "name=cfg", `{"state":{"desired":{"a":1}},"clientToken":"t"}`},
		{1, "lamp", "", `{"state":{"reported":{"a":[1,{"b":null}]}},"version":3}`},
		{1, "lamp", "name=", `{"state":null}`},
		{1, "a%2Fb", "", "{\"state\":{\"desired\":\"\xff\"}}"},
		{2, "lamp", "name=cfg", ""},
		{3, "lamp", "pageSize=1&nextToken=Y2Zn", ""},
		{3, "lamp", "pageSize=x", ""},
	} {
		f.Add(s.op, s.thing, s.query, s.body)
	}
	svc, err := shadow.Open(filepath.Join(f.TempDir(), "shadows.db"), shadow.Options{NoSync: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = svc.Close() })
	rec := &pubRecorder{}
	h := api.New(api.Config{Shadows: svc, ShadowPublish: rec.publish, Logger: slog.New(slog.DiscardHandler)})

	f.Fuzz(func(t *testing.T, op uint8, thing, query, body string) {
		if strings.ContainsAny(thing, "/?#") {
			return // another path altogether (the control plane's, which has no registry here)
		}
		method, path := http.MethodGet, "/things/"+thing+"/shadow"
		switch op % 4 {
		case 1:
			method = http.MethodPost
		case 2:
			method = http.MethodDelete
		case 3:
			path = "/api/things/shadow/ListNamedShadowsForThing/" + thing
		}
		u, err := url.ParseRequestURI(path + "?" + query)
		if err != nil {
			return
		}
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Method, r.URL, r.RequestURI = method, u, ""
		r.Host = "127.0.0.1:4580" // a name the API serves (crosssite.go), not httptest's example.com
		r.Body = io.NopCloser(strings.NewReader(body))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("%s %s %q: status %d: %s", method, u, body, w.Code, w.Body)
		}
		if w.Code >= 400 {
			var m map[string]any
			if w.Header().Get("x-amzn-ErrorType") == "" || json.Unmarshal(w.Body.Bytes(), &m) != nil || m["message"] == nil || m["code"] != nil {
				t.Fatalf("%s %s: error %d not in AWS's shape: %q %s", method, u, w.Code, w.Header().Get("x-amzn-ErrorType"), w.Body)
			}
		} else if !json.Valid(w.Body.Bytes()) {
			t.Fatalf("%s %s: answer is not JSON: %q", method, u, w.Body)
		}
		for _, p := range rec.take() {
			if strings.Contains(p, "/rejected ") || w.Code != http.StatusOK || (method != http.MethodPost && method != http.MethodDelete) {
				t.Fatalf("%s %s answered %d and published %s", method, u, w.Code, p)
			}
		}
	})
}
