package rules

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/iotcore-local/iotcore-local/internal/awserr"
	"github.com/iotcore-local/iotcore-local/rules/sql"
)

// recorder is a Publisher that records what republish actions send; block, when set, holds
// every publish until closed.
type recorder struct {
	mu    sync.Mutex
	pubs  []Publication
	block chan struct{}
}

func (r *recorder) Publish(ctx context.Context, p Publication) error {
	if r.block != nil {
		select {
		case <-r.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	r.mu.Lock()
	r.pubs = append(r.pubs, p)
	r.mu.Unlock()
	return nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pubs)
}

func openTest(t *testing.T, opts Options) *Engine {
	t.Helper()
	if opts.Path == "" {
		opts.Path = filepath.Join(t.TempDir(), "rules.db")
	}
	e, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func payload(t *testing.T, s string) *Payload {
	t.Helper()
	p, err := ParsePayload([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func msg(topic, body string) Message {
	return Message{Message: sql.Message{Topic: topic, Payload: []byte(body)}}
}

func TestValidation(t *testing.T) {
	e := openTest(t, Options{})
	republish := `{"republish":{"roleArn":"arn:aws:iam::1:role/r","topic":"out"}}`
	eleven := strings.TrimSuffix(strings.Repeat(republish+",", 11), ",")
	for _, tc := range []struct{ name, body, kind, want string }{
		{"r", `{"actions":[]}`, "InvalidRequestException", "topicRulePayload.sql is required"},
		{"r", `{"sql":"SELECT * FROM 'a'"}`, "InvalidRequestException", "topicRulePayload.actions is required"},
		{"r", `{"sql":"SELECT * FROM 'a'","actions":[` + eleven + `]}`, "InvalidRequestException", "11 actions; the maximum is 10"},
		{"r", `{"sql":"SELECT * FROM 'a'","actions":[{"teleport":{}}]}`, "InvalidRequestException", `actions[0]: unknown action type "teleport"`},
		{"r", `{"sql":"SELECT * FROM 'a'","actions":[{"republish":{"topic":"x"},"lambda":{"functionArn":"f"}}]}`, "InvalidRequestException", "exactly one action type, found 2"},
		{"r", `{"sql":"SELECT * FROM 'a'","actions":[{"republish":{"roleArn":"r"}}]}`, "InvalidRequestException", "actions[0].republish.topic is required"},
		{"r", `{"sql":"SELECT * FROM 'a'","actions":[{"republish":{"roleArn":"r","topic":"x","qos":2}}]}`, "InvalidRequestException", "qos must be 0 or 1"},
		{"r", `{"sql":"SELECT * FROM 'a'","actions":[{"sqs":{"roleArn":"r","queueUrl":5}}]}`, "InvalidRequestException", "actions[0].sqs.queueUrl must be a string"},
		{"r", `{"sql":"SELECT * FROM 'a'","actions":[{"http":{"url":"http://example.com/x"}}]}`, "InvalidRequestException", "must use https"},
		{"r", `{"sql":"SELECT * FROM 'a'","actions":[{"http":{"url":"https://h/x","confirmationUrl":"https://other/"}}]}`, "InvalidRequestException", "must be a prefix of url"},
		{"r", `{"sql":"SELECT * FROM 'a'","actions":[],"awsIotSqlVersion":"2016-03-23","errorAction":{"republish":{"roleArn":"r","topic":"${get_thing_shadow('t','arn')}"}}}`, "InvalidRequestException", "not allowed in an errorAction"},
		{"r", `{"sql":"SELECT * FROM 'a'","actions":[],"awsIotSqlVersion":"2020-01-01"}`, "InvalidRequestException", "awsIotSqlVersion"},
		{"r", `{"sql":"SELECT * FROM","actions":[]}`, "SqlParseException", "1:14"},
		{"bad-name", `{"sql":"SELECT * FROM 'a'","actions":[]}`, "InvalidRequestException", "Member must satisfy regular expression pattern"},
	} {
		err := e.CreateRule(tc.name, payload(t, tc.body), nil)
		var ke *awserr.Error
		if !errors.As(err, &ke) || ke.Kind.Error() != tc.kind || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %s containing %q", tc.body, err, tc.kind, tc.want)
		}
	}
	if _, err := ParsePayload([]byte(`{"sql": 5}`)); err == nil || !strings.Contains(err.Error(), "topicRulePayload.sql") {
		t.Errorf("wrong member type: %v", err)
	}
	// Stored action types iotcore-local does not perform are accepted (and fail when run).
	if err := e.CreateRule("timestream", payload(t, `{"sql":"SELECT * FROM 'a'","actions":[{"timestream":{"roleArn":"r","databaseName":"d","tableName":"t","dimensions":[]}}]}`), nil); err != nil {
		t.Errorf("timestream: %v", err)
	}
}

// TestHTTPSDestinationConfirmation: a rule naming a new HTTPS URL creates a destination and
// sends AWS's confirmation request; deliveries fail until it is confirmed, then arrive.
func TestHTTPSDestinationConfirmation(t *testing.T) {
	type got struct {
		query, kind, arn string
		body             map[string]string
		raw              string
	}
	ch := make(chan got, 8)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		g := got{query: r.URL.Query().Get("confirmationToken"), kind: r.Header.Get("x-amz-rules-engine-message-type"), arn: r.Header.Get("x-amz-rules-engine-destination-arn"), raw: string(b)}
		json.Unmarshal(b, &g.body)
		ch <- g
	}))
	defer srv.Close()
	e := openTest(t, Options{HTTPClient: srv.Client(), APIURL: func() string { return "http://127.0.0.1:4580" }})
	url := srv.URL + "/ingest"
	if err := e.CreateRule("web", payload(t, `{"sql":"SELECT v FROM 'w'","actions":[{"http":{"url":"`+url+`"}}]}`), nil); err != nil {
		t.Fatal(err)
	}
	var conf got
	select {
	case conf = <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("no confirmation request")
	}
	dests := e.ListDestinations()
	if len(dests) != 1 || dests[0].Status != StatusInProgress || conf.kind != "DestinationConfirmation" || conf.arn != dests[0].Arn ||
		conf.query == "" || conf.body["confirmationToken"] != conf.query || conf.body["enableUrl"] != "http://127.0.0.1:4580/confirmdestination/"+conf.query ||
		conf.body["messageType"] != "DestinationConfirmation" || conf.body["arn"] != dests[0].Arn {
		t.Fatalf("confirmation %+v, destinations %+v", conf, dests)
	}
	if err := e.UpdateDestination(dests[0].Arn, StatusEnabled); err == nil {
		t.Fatal("an unconfirmed destination was enabled")
	}
	e.Submit(msg("w", `{"v":1}`))
	waitFor(t, "a failed delivery", func() bool { a, _ := e.Activity("web"); return len(a) == 1 })
	if a, _ := e.Activity("web"); a[0].Actions[0].OK || !strings.Contains(a[0].Actions[0].Error, "IN_PROGRESS") {
		t.Fatalf("delivery before confirmation: %+v", a[0].Actions)
	}
	if err := e.ConfirmDestination(conf.query); err != nil {
		t.Fatal(err)
	}
	e.Submit(msg("w", `{"v":2}`))
	select {
	case g := <-ch:
		if g.raw != `{"v":2}` || g.kind != "" {
			t.Fatalf("delivery %+v", g)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery after confirmation")
	}
	if err := e.UpdateDestination(dests[0].Arn, StatusDisabled); err != nil {
		t.Fatal(err)
	}
	if err := e.DeleteDestination(dests[0].Arn); err != nil {
		t.Fatal(err)
	}
	if _, err := e.GetDestination(dests[0].Arn); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted destination: %v", err)
	}
}

// TestHTTPRetries: 5xx is retried, three tries at most; 4xx is not.
func TestHTTPRetries(t *testing.T) {
	var mu sync.Mutex
	tries := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		tries[r.URL.Path]++
		n := tries[r.URL.Path]
		mu.Unlock()
		switch {
		case r.URL.Path == "/flaky" && n < 3:
			w.WriteHeader(503)
		case r.URL.Path == "/down":
			w.WriteHeader(500)
		case r.URL.Path == "/bad":
			w.WriteHeader(400)
		}
	}))
	defer srv.Close()
	e := openTest(t, Options{})
	for _, p := range []string{"flaky", "down", "bad"} {
		if err := e.CreateRule(p, payload(t, `{"sql":"SELECT * FROM '`+p+`'","actions":[{"http":{"url":"`+srv.URL+"/"+p+`"}}]}`), nil); err != nil {
			t.Fatal(err)
		}
		e.Submit(msg(p, `{}`))
	}
	for p, want := range map[string]struct {
		ok    bool
		tries int
	}{"flaky": {true, 3}, "down": {false, 3}, "bad": {false, 1}} {
		waitFor(t, p, func() bool { a, _ := e.Activity(p); return len(a) == 1 })
		a, _ := e.Activity(p)
		mu.Lock()
		n := tries["/"+p]
		mu.Unlock()
		if a[0].Actions[0].OK != want.ok || n != want.tries {
			t.Errorf("%s: ok %v after %d tries, want %v after %d", p, a[0].Actions[0].OK, n, want.ok, want.tries)
		}
	}
}

// TestRepublishLoopIsCut: a rule republishing onto its own filter loops as on AWS, and the
// engine cuts it after MaxRepublishDepth generations.
func TestRepublishLoopIsCut(t *testing.T) {
	pub := &recorder{}
	e := openTest(t, Options{Publisher: pub, MaxRepublishDepth: 4})
	if err := e.CreateRule("loop", payload(t, `{"sql":"SELECT n + 1 AS n FROM 'loop/#'","actions":[{"republish":{"roleArn":"r","topic":"loop/again"}}]}`), nil); err != nil {
		t.Fatal(err)
	}
	e.Submit(msg("loop/start", `{"n":0}`))
	waitFor(t, "five generations", func() bool { return pub.count() == 5 })
	time.Sleep(100 * time.Millisecond) // nothing more may come
	if n := pub.count(); n != 5 {
		t.Fatalf("%d publications, want 5 (the message and 4 generations)", n)
	}
	if last := string(pub.pubs[4].Payload); last != `{"n":5}` {
		t.Fatalf("last generation %s", last)
	}
}

// TestQueueFullDropsAndCounts: a blocked action never blocks Submit; what does not fit is
// dropped and counted; Close ends the blocked action.
func TestQueueFullDropsAndCounts(t *testing.T) {
	pub := &recorder{block: make(chan struct{})}
	e, err := Open(Options{Path: filepath.Join(t.TempDir(), "r.db"), Publisher: pub, QueueSize: 2, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.CreateRule("slow", payload(t, `{"sql":"SELECT * FROM 'q'","actions":[{"republish":{"roleArn":"r","topic":"out"}}]}`), nil); err != nil {
		t.Fatal(err)
	}
	accepted := 0
	for i := range 10 {
		if e.Submit(msg("q", fmt.Sprintf(`{"i":%d}`, i))) {
			accepted++
		}
	}
	if e.Dropped() == 0 || accepted+int(e.Dropped()) != 10 {
		t.Fatalf("accepted %d, dropped %d", accepted, e.Dropped())
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestActivityBoundedNewestFirst and persistence of rules and their state.
func TestActivityAndPersistence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.db")
	pub := &recorder{}
	e, err := Open(Options{Path: path, Publisher: pub, ActivitySize: 3, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.CreateRule("act", payload(t, `{"sql":"SELECT i FROM 'a' WHERE i > 0","actions":[{"republish":{"roleArn":"r","topic":"out"}}]}`), nil); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		e.Submit(msg("a", fmt.Sprintf(`{"i":%d}`, i)))
	}
	waitFor(t, "four publications", func() bool { return pub.count() == 4 })
	waitFor(t, "activity", func() bool { a, _ := e.Activity("act"); return len(a) == 3 && string(a[0].Result) == `{"i":4}` })
	a, _ := e.Activity("act")
	if string(a[1].Result) != `{"i":3}` || string(a[2].Result) != `{"i":2}` {
		t.Fatalf("activity not newest first: %s %s %s", a[0].Result, a[1].Result, a[2].Result)
	}
	if err := e.SetEnabled("act", false); err != nil {
		t.Fatal(err)
	}
	if e.Active() {
		t.Fatal("active with its only rule disabled")
	}
	e.Close()
	e2 := openTest(t, Options{Path: path})
	r, err := e2.GetRule("act")
	if err != nil || !r.Disabled || r.Version != sql.DefaultVersion || r.CreatedAt.IsZero() {
		t.Fatalf("after reopen: %+v %v", r, err)
	}
	if _, err := e2.GetRule("none"); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("missing rule: %v", err)
	}
}

func TestMatchFilter(t *testing.T) {
	for _, tc := range []struct {
		filter, topic string
		want          bool
	}{
		{"a/b", "a/b", true}, {"a/b", "a/b/c", false}, {"a/+", "a/b", true}, {"a/+", "a/b/c", false},
		{"a/#", "a", true}, {"a/#", "a/b/c", true}, {"#", "x/y", true}, {"#", "$aws/things/t/shadow/update", false},
		{"+/b", "$aws/b", false}, {"$aws/things/+/shadow/update/accepted", "$aws/things/t1/shadow/update/accepted", true},
		{"a/+/c", "a//c", true}, {"a", "b", false},
	} {
		if got := MatchTopic(tc.filter, tc.topic); got != tc.want {
			t.Errorf("%s ~ %s = %v, want %v", tc.filter, tc.topic, got, tc.want)
		}
	}
}

// TestHTTPSigV4: an http action with auth.sigv4 signs each POST for its serviceName and
// signingRegion with the configured AWS credentials, the payload's hash included; the server
// recomputes the signature with the secret and finds it equal. Without auth nothing is signed.
func TestHTTPSigV4(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDRULESHTTP")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "rules-http-secret")
	t.Setenv("AWS_SESSION_TOKEN", "")
	type seen struct {
		auth, problem string
	}
	got := make(chan seen, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s := seen{auth: r.Header.Get("Authorization")}
		if s.auth != "" {
			s.problem = checkSigV4(r, body, "rules-http-secret")
		}
		got <- s
	}))
	defer srv.Close()
	e := openTest(t, Options{})
	signed := `{"sql":"SELECT * FROM 'sig'","actions":[{"http":{"url":"` + srv.URL + `/signed","auth":{"sigv4":{"signingRegion":"eu-west-1","serviceName":"execute-api","roleArn":"arn:aws:iam::123456789012:role/r"}}}}]}`
	plain := `{"sql":"SELECT * FROM 'plain'","actions":[{"http":{"url":"` + srv.URL + `/plain"}}]}`
	for name, body := range map[string]string{"signed": signed, "plain": plain} {
		if err := e.CreateRule(name, payload(t, body), nil); err != nil {
			t.Fatal(err)
		}
	}
	e.Submit(msg("sig", `{"temperature":21}`))
	s := <-got
	if !strings.HasPrefix(s.auth, "AWS4-HMAC-SHA256 Credential=AKIDRULESHTTP/") || !strings.Contains(s.auth, "/eu-west-1/execute-api/aws4_request") || s.problem != "" {
		t.Fatalf("signed request: Authorization %q, problem %q", s.auth, s.problem)
	}
	e.Submit(msg("plain", `{}`))
	if s := <-got; s.auth != "" {
		t.Fatalf("an action without auth signed its request: %q", s.auth)
	}
	bad := `{"sql":"SELECT * FROM 'x'","actions":[{"http":{"url":"https://h/x","auth":{"sigv4":{"signingRegion":"eu-west-1"}}}}]}`
	if err := e.CreateRule("badsig", payload(t, bad), nil); err == nil || !strings.Contains(err.Error(), "auth.sigv4.serviceName is required") {
		t.Fatalf("sigv4 without serviceName: %v", err)
	}
}

// checkSigV4 recomputes r's SigV4 signature with secret and says what differs ("" if nothing).
func checkSigV4(r *http.Request, body []byte, secret string) string {
	sum := sha256.Sum256(body)
	if r.Header.Get("X-Amz-Content-Sha256") != hex.EncodeToString(sum[:]) {
		return "X-Amz-Content-Sha256 is not the payload's hash"
	}
	when, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return "X-Amz-Date: " + err.Error()
	}
	auth := r.Header.Get("Authorization")
	scope := strings.Split(strings.TrimPrefix(strings.Fields(auth)[1], "Credential="), "/")
	again, _ := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), bytes.NewReader(body))
	signedHeaders := ""
	for _, part := range strings.Split(auth, ", ") {
		if v, ok := strings.CutPrefix(part, "SignedHeaders="); ok {
			signedHeaders = ";" + v + ";"
		}
	}
	for k, v := range r.Header { // the transport adds headers after signing (Accept-Encoding)
		if strings.Contains(signedHeaders, ";"+strings.ToLower(k)+";") {
			again.Header[k] = v
		}
	}
	creds := aws.Credentials{AccessKeyID: scope[0], SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, again, r.Header.Get("X-Amz-Content-Sha256"), scope[3], scope[2], when); err != nil {
		return err.Error()
	}
	if again.Header.Get("Authorization") != auth {
		return "signature differs: recomputed " + again.Header.Get("Authorization")
	}
	return ""
}
