package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
	"github.com/google/uuid"

	"github.com/iotcore-local/iotcore-local/emulator"
	"github.com/iotcore-local/iotcore-local/listener"
)

// Issue 11, item 7: HTTPS publish answers as AWS does, {"message":"OK","traceId":"<uuid>"}, on
// 443, 8443 and the API address, to certificate, SigV4 and unsigned callers; the AWS SDK's
// Publish (which ignores the body) still works.
func TestHTTPSPublishAnswerBody(t *testing.T) {
	emu := startEmulator(t, "", func(c *emulator.Config) { c.Credentials = map[string]string{sigv4Key: sigv4Secret} })
	pub, err := emu.CreateDevice("sensor-1", httpPublisherPolicy)
	if err != nil {
		t.Fatal(err)
	}
	const path = "/topics/telemetry%2Fsensor-1%2Ftemp?qos=1"
	plain := &http.Client{}
	callers := []struct {
		name string
		url  string
		hc   *http.Client
		sign bool
	}{
		{"443 x-amzn-http-ca certificate", "https://" + emu.ALPNAddr(), httpsClientFor(t, tlsConfig(t, pub, listener.ProtocolHTTPCA)), false},
		{"8443 certificate", "https://" + emu.HTTPSAddr(), httpsClientFor(t, tlsConfig(t, pub)), false},
		{"443 SigV4", "https://" + emu.ALPNAddr(), httpsClientFor(t, trustEmulator(t, emu, nil)), true},
		{"API address SigV4", emu.APIURL(), plain, true},
		{"API address unsigned (curl)", emu.APIURL(), plain, false},
	}
	traces := map[string]bool{}
	for _, c := range callers {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, c.url+path, strings.NewReader(`{"t":21.5}`))
		if err != nil {
			t.Fatal(err)
		}
		if c.sign {
			signData(t, req, `{"t":21.5}`)
		}
		resp, err := c.hc.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var body struct {
			Message string `json:"message"`
			TraceID string `json:"traceId"`
		}
		dec := json.NewDecoder(resp.Body)
		dec.DisallowUnknownFields()
		err = dec.Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || err != nil {
			t.Fatalf("%s: %d, body error %v", c.name, resp.StatusCode, err)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: Content-Type %q", c.name, ct)
		}
		if body.Message != "OK" || uuid.Validate(body.TraceID) != nil || traces[body.TraceID] {
			t.Fatalf(`%s: answered %+v, want {"message":"OK","traceId":<a fresh UUID>}`, c.name, body)
		}
		if id := resp.Header.Get("X-Amzn-Requestid"); id != body.TraceID {
			t.Errorf("%s: x-amzn-RequestId %q, want the traceId %q (as AWS answers)", c.name, id, body.TraceID)
		}
		traces[body.TraceID] = true
	}

	// The SDK's Publish has no output members: it still succeeds with the body.
	data := dataClientAt(awsConfig(awsKey(sigv4Key, sigv4Secret), nil), emu.APIURL())
	if _, err := data.Publish(t.Context(), &iotdataplane.PublishInput{Topic: aws.String("telemetry/sensor-1/temp"), Payload: []byte("1")}); err != nil {
		t.Fatalf("SDK Publish: %v", err)
	}
}

// signData signs req for the data plane (iotdata) with the known key pair.
func signData(t *testing.T, req *http.Request, body string) {
	t.Helper()
	signRequestFor(t, req, sigv4Key, sigv4Secret, body, "iotdata")
}
