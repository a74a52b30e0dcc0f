package api_test

import (
	"net/http"
	"testing"

	"github.com/iotcore-local/iotcore-local/api"
)

// TestDispatch: a signed request goes to the API its credential scope names, whatever the
// other APIs have at that path; an unsigned one is tried against the control plane first.
func TestDispatch(t *testing.T) {
	e, b := dataEnv(t)
	b.retained["r"] = api.RetainedMessage{Topic: "r", Payload: []byte("v"), LastModified: fakeModified}
	unsigned := sigOpts{}
	cases := []struct {
		name, method, path string
		opts               sigOpts
		status             int
		plane              string
		errName            string
	}{
		{"shadow path, iot scope", "GET", "/things/x/shadow", known("iot"), 404, "iot", "UnknownOperationException"},
		{"shadow path, iotdata scope", "GET", "/things/x/shadow", known("iotdata"), 0, "iotdata", ""},
		{"jobs path, iot-jobs-data scope", "GET", "/things/x/jobs", known("iot-jobs-data"), 404, "iot-jobs-data", "UnknownOperationException"},
		{"control op, iot scope", "GET", "/things", known("iot"), 200, "iot", ""},
		{"control op, execute-api scope", "GET", "/things", known("execute-api"), 200, "iot", ""},
		{"control op, iotdata scope", "GET", "/things", known("iotdata"), 404, "iotdata", "UnknownOperationException"},
		{"data op, iot scope", "GET", "/retainedMessage", known("iot"), 404, "iot", "UnknownOperationException"},
		{"data op, iotdata scope", "GET", "/retainedMessage/r", known("iotdata"), 200, "iotdata", ""},
		{"data op, iotdevicegateway scope", "GET", "/retainedMessage/r", known("iotdevicegateway"), 200, "iotdata", ""},
		{"unsigned control op", "GET", "/things", unsigned, 200, "iot", ""},
		{"unsigned data op", "GET", "/retainedMessage/r", unsigned, 200, "iotdata", ""},
		{"unsigned unknown", "GET", "/nowhere", unsigned, 404, "iot,iotdata,iot-jobs-data", "UnknownOperationException"},
		{"unsigned wrong method on a data path", "PUT", "/retainedMessage/r", unsigned, 405, "iotdata", "MethodNotAllowedException"},
		{"health, signed for iotdata", "GET", "/health", known("iotdata"), 200, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := e.send(t, e.request(t, c.method, c.path, nil, nil, nil, c.opts))
			if got := resp.Header.Get(api.PlaneHeader); got != c.plane {
				t.Errorf("%s = %q, want %q", api.PlaneHeader, got, c.plane)
			}
			if c.errName != "" {
				errorShape(t, resp, body, c.status, c.errName, "")
				return
			}
			if c.status != 0 && resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.status, body)
			}
		})
	}
}

// TestPlaneFreeRoutes: /health and the root CA answer without authentication even when SigV4
// is strict; the connection transcripts (client ids, certificate ids, addresses) then need a
// verified signature.
func TestPlaneFreeRoutes(t *testing.T) {
	e, _ := dataEnv(t, func(c *api.Config) { c.SigV4Strict = true })
	for _, path := range []string{"/health", "/_iotcore/root-ca.pem"} {
		resp, body := e.do(t, http.MethodGet, path, "", nil)
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: %d %s", path, resp.StatusCode, body)
		}
	}
	resp, body := e.do(t, http.MethodGet, "/_iotcore/connections", "", nil)
	errorShape(t, resp, body, 403, "MissingAuthenticationTokenException", "--sigv4-strict")
	resp, body = e.send(t, e.request(t, http.MethodGet, "/_iotcore/connections", nil, nil, nil, known("iot")))
	if resp.StatusCode != 200 {
		t.Errorf("signed GET /_iotcore/connections under --sigv4-strict: %d %s", resp.StatusCode, body)
	}
	resp, body = e.do(t, http.MethodGet, "/things", "", nil)
	errorShape(t, resp, body, 403, "MissingAuthenticationTokenException", "Missing Authentication Token")
}
