package functions

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const testARN = "arn:aws:lambda:us-east-1:123456789012:function:my-authorizer"

// lambdaServer answers the Invoke API: it echoes the payload wrapped, or raises an error when
// the payload says so, and records the last request.
type lambdaServer struct {
	*httptest.Server
	last     atomic.Pointer[http.Request]
	lastBody atomic.Pointer[string]
}

func newLambdaServer(t *testing.T) *lambdaServer {
	t.Helper()
	s := &lambdaServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		b := string(body)
		s.last.Store(r.Clone(context.Background()))
		s.lastBody.Store(&b)
		switch {
		case b == `"raise"`:
			w.Header().Set("X-Amz-Function-Error", "Unhandled")
			io.WriteString(w, `{"errorMessage":"boom","errorType":"Error"}`)
		case b == `"sleep"`:
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		case r.Header.Get("X-Amz-Invocation-Type") == "Event":
			w.WriteHeader(http.StatusAccepted)
		default:
			io.WriteString(w, `{"echo":`+b+`}`)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func TestRoutedInvoke(t *testing.T) {
	srv := newLambdaServer(t)
	url := srv.URL + "/2015-03-31/functions/function/invocations"
	c, err := New(Config{Routes: map[string]string{testARN: url}})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{testARN, "my-authorizer", testARN + ":live"} {
		out, err := c.Invoke(context.Background(), name, []byte(`{"a":1}`))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if string(out) != `{"echo":{"a":1}}` {
			t.Fatalf("%s: answer %s", name, out)
		}
		r := srv.last.Load()
		if r.Method != http.MethodPost || r.URL.Path != "/2015-03-31/functions/function/invocations" {
			t.Fatalf("%s: request %s %s", name, r.Method, r.URL.Path)
		}
		if got := r.Header.Get("X-Amz-Invocation-Type"); got != "RequestResponse" {
			t.Fatalf("invocation type %q", got)
		}
	}
	if err := c.InvokeAsync(context.Background(), testARN, []byte(`{}`)); err != nil {
		t.Fatalf("async: %v", err)
	}
	if got := srv.last.Load().Header.Get("X-Amz-Invocation-Type"); got != "Event" {
		t.Fatalf("async invocation type %q", got)
	}
}

func TestFunctionError(t *testing.T) {
	srv := newLambdaServer(t)
	c, err := New(Config{Routes: map[string]string{testARN: srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Invoke(context.Background(), testARN, []byte(`"raise"`))
	var fe *FunctionError
	if !errors.As(err, &fe) {
		t.Fatalf("want *FunctionError, got %v", err)
	}
	if fe.Type != "Unhandled" || !strings.Contains(string(fe.Payload), "boom") || !strings.Contains(fe.Error(), "boom") {
		t.Fatalf("function error %+v", fe)
	}
}

func TestTimeoutByContext(t *testing.T) {
	srv := newLambdaServer(t)
	c, err := New(Config{Routes: map[string]string{testARN: srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = c.Invoke(ctx, testARN, []byte(`"sleep"`))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want deadline exceeded, got %v", err)
	}
}

func TestHTTPErrorStatus(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"message":"no such function"}`, http.StatusNotFound)
	}))
	defer srv.Close()
	c, err := New(Config{Routes: map[string]string{testARN: srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Invoke(context.Background(), testARN, nil)
	if err == nil || !strings.Contains(err.Error(), "HTTP 404") || !strings.Contains(err.Error(), "no such function") {
		t.Fatalf("got %v", err)
	}
}

func TestNoEndpoint(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL_LAMBDA", "")
	t.Setenv("AWS_ENDPOINT_URL", "")
	c, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Invoke(context.Background(), testARN, []byte(`{}`))
	if !errors.Is(err, ErrNoEndpoint) {
		t.Fatalf("want ErrNoEndpoint, got %v", err)
	}
	for _, want := range []string{"--function ARN=URL", "AWS_ENDPOINT_URL_LAMBDA", testARN} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if err := c.InvokeAsync(context.Background(), testARN, nil); !errors.Is(err, ErrNoEndpoint) {
		t.Fatalf("async: want ErrNoEndpoint, got %v", err)
	}
}

// TestSDKEndpoint sends an unrouted ARN through the AWS SDK's Lambda client to the endpoint
// named by AWS_ENDPOINT_URL_LAMBDA, signed with the environment's credentials.
func TestSDKEndpoint(t *testing.T) {
	srv := newLambdaServer(t)
	t.Setenv("AWS_ENDPOINT_URL_LAMBDA", srv.URL)
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	c, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Invoke(context.Background(), testARN, []byte(`{"b":2}`))
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != `{"echo":{"b":2}}` {
		t.Fatalf("answer %s", out)
	}
	r := srv.last.Load()
	if !strings.HasPrefix(r.URL.Path, "/2015-03-31/functions/") || !strings.HasSuffix(r.URL.Path, "/invocations") ||
		!strings.Contains(r.URL.Path, "my-authorizer") {
		t.Fatalf("path %s", r.URL.Path)
	}
	authz := r.Header.Get("Authorization")
	if !strings.HasPrefix(authz, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") || !strings.Contains(authz, "/eu-west-1/lambda/aws4_request") {
		t.Fatalf("not signed for lambda: %q", authz)
	}
	_, err = c.Invoke(context.Background(), testARN, []byte(`"raise"`))
	var fe *FunctionError
	if !errors.As(err, &fe) || fe.Type != "Unhandled" {
		t.Fatalf("want *FunctionError through the SDK, got %v", err)
	}
	if err := c.InvokeAsync(context.Background(), testARN, []byte(`{}`)); err != nil {
		t.Fatalf("async through the SDK: %v", err)
	}
	if got := srv.last.Load().Header.Get("X-Amz-Invocation-Type"); got != "Event" {
		t.Fatalf("async invocation type %q", got)
	}
}

func TestParseRoute(t *testing.T) {
	for _, tc := range []struct {
		in, arn, url, err string
	}{
		{in: testARN + "=http://127.0.0.1:9001/2015-03-31/functions/function/invocations", arn: testARN, url: "http://127.0.0.1:9001/2015-03-31/functions/function/invocations"},
		{in: "name=https://localhost/x", arn: "name", url: "https://localhost/x"},
		{in: testARN, err: "want ARN=URL"},
		{in: "=http://x", err: "ARN (or name) is empty"},
		{in: testARN + "=ftp://x", err: "must be http(s)"},
		{in: testARN + "=http://", err: "must be http(s)"},
		{in: testARN + "=://bad", err: "url"},
	} {
		arn, url, err := ParseRoute(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: want error containing %q, got %v", tc.in, tc.err, err)
			}
			continue
		}
		if err != nil || arn != tc.arn || url != tc.url {
			t.Errorf("%q: got %q %q %v", tc.in, arn, url, err)
		}
	}
	if _, err := New(Config{Routes: map[string]string{"x": "notaurl"}}); err == nil {
		t.Error("New accepted a bad route")
	}
}

func TestFunctionName(t *testing.T) {
	for in, want := range map[string]string{
		testARN:                 "my-authorizer",
		testARN + ":prod":       "my-authorizer",
		"plain":                 "plain",
		"arn:aws:iam::1:role/x": "arn:aws:iam::1:role/x",
	} {
		if got := FunctionName(in); got != want {
			t.Errorf("FunctionName(%q) = %q, want %q", in, got, want)
		}
	}
}
