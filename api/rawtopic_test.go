package api_test

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/iotcore-local/iotcore-local/api"
	"github.com/iotcore-local/iotcore-local/registry"
)

// Issue 11, item 11: AWS's curl examples publish to /topics/a/b/c with raw slashes; the SDKs send
// a%2Fb%2Fc. Both name the topic a/b/c, over the certificate personality and with SigV4.
func TestPublishTopicWithRawSlashes(t *testing.T) {
	e, b := dataEnv(t, func(c *api.Config) { c.SigV4Strict = true })
	srv, client, _ := mtlsClient(t, e, registry.StatusActive)
	post := func(path string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(e.ctx, http.MethodPost, srv.URL+path, bytes.NewReader([]byte("21.5")))
		must(t, err)
		return sendWith(t, client, req)
	}
	for _, tc := range []struct{ path, topic string }{
		{"/topics/allowed/sensor-1/temp?qos=1", "allowed/sensor-1/temp"},
		{"/topics/allowed%2Fsensor-1%2Ftemp?qos=1", "allowed/sensor-1/temp"},
		{"/topics/allowed/a%2Fb/c", "allowed/a/b/c"},
		{"/topics/allowed//x", "allowed//x"},
		{"/topics/allowed/trailing/", "allowed/trailing/"},
	} {
		resp, body := post(tc.path)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s: %d %s", tc.path, resp.StatusCode, body)
		}
		if got := b.last(t).Topic; got != tc.topic {
			t.Errorf("POST %s published to %q, want %q", tc.path, got, tc.topic)
		}
	}
	// The policy still decides on the whole topic.
	resp, body := post("/topics/other/sensor-1/temp")
	errorShape(t, resp, body, http.StatusForbidden, "ForbiddenException", "iot:Publish")
	// No topic at all is no operation.
	resp, _ = post("/topics/")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("POST /topics/: %d, want 404", resp.StatusCode)
	}

	// SigV4: the signature covers the path as sent, raw slashes and all.
	e2, b2 := dataEnv(t)
	resp, body = e2.send(t, e2.request(t, http.MethodPost, "/topics/sensors/sensor-1/temp", nil, []byte("x"), nil, known("iotdata")))
	if resp.StatusCode != http.StatusOK || b2.last(t).Topic != "sensors/sensor-1/temp" {
		t.Fatalf("signed POST with raw slashes: %d %s", resp.StatusCode, body)
	}

	// GetRetainedMessage takes the same form.
	e2.send(t, publishReq(t, e2, "sensors/a/b", []byte("v"), map[string][]string{"retain": {"true"}}, nil, known("iotdata")))
	resp, body = e2.send(t, e2.request(t, http.MethodGet, "/retainedMessage/sensors/a/b", nil, nil, nil, known("iotdata")))
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"topic":"sensors/a/b"`)) {
		t.Fatalf("GET /retainedMessage/sensors/a/b: %d %s", resp.StatusCode, body)
	}
}
