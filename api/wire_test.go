package api_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"

	"github.com/iotcore-local/iotcore-local/api"
)

// errorShape checks an error response as the SDKs read it: the status, the exception name in
// x-amzn-ErrorType, a JSON body whose message contains msgPart, and no "code" member.
func errorShape(t *testing.T, resp *http.Response, body []byte, status int, name, msgPart string) map[string]any {
	t.Helper()
	if resp.StatusCode != status {
		t.Errorf("status = %d, want %d (body %s)", resp.StatusCode, status, body)
	}
	if got := resp.Header.Get("x-amzn-ErrorType"); got != name {
		t.Errorf("x-amzn-ErrorType = %q, want %q", got, name)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	if resp.Header.Get("x-amzn-RequestId") == "" {
		t.Error("no x-amzn-RequestId")
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("error body %q is not JSON: %v", body, err)
	}
	msg, _ := m["message"].(string)
	if !strings.Contains(msg, msgPart) {
		t.Errorf("message = %q, want it to contain %q", msg, msgPart)
	}
	for _, k := range []string{"code", "Code", "__type"} {
		if _, ok := m[k]; ok {
			t.Errorf("error body has %q: %s", k, body)
		}
	}
	return m
}

func TestMalformedBodies(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		method, path, body, msg string
	}{
		{"POST", "/policies/p", `{"policyDocument":`, "invalid JSON body: unexpected end of input"},
		{"POST", "/policies/p", `{"policyDocument": 42}`, "policyDocument: expected string, got number"},
		{"POST", "/policies/p", `{}`, "policyDocument: required"},
		{"POST", "/policies/p", ``, "policyDocument: required"},
		{"POST", "/policies/p", `[1,2]`, "invalid JSON body: expected object, got array"},
		{"POST", "/policies/p", `{"policyDocument":"{}"} trailing`, "invalid JSON body"},
		{"POST", "/policies/p", `{"policyDocument":"{}","tags":"x"}`, "tags: expected array, got string"},
		{"POST", "/things/t", `{"attributePayload":{"attributes":{"k":1}}}`, "attributePayload.attributes: expected string, got number"},
		{"POST", "/things/t", `{"thingTypeName":true}`, "thingTypeName: expected string, got boolean"},
		{"PUT", "/target-policies/p", `{}`, "target: required"},
		{"POST", "/target-policies/p", `{"target":""}`, "target: required"},
		{"POST", "/certificate/register-no-ca", `{"status":"ACTIVE"}`, "certificatePem: required"},
		{"POST", "/keys-and-certificate?setAsActive=maybe", ``, "setAsActive: must be true or false"},
		{"GET", "/things?maxResults=abc", ``, "maxResults: must be an integer between 1 and 250"},
		{"DELETE", "/things/t?expectedVersion=x", ``, "expectedVersion: must be an integer"},
		{"PUT", "/certificates/" + strings.Repeat("a", 64), ``, "newStatus: required"},
		{"PUT", "/things/t/principals", ``, "x-amzn-principal: required"},
		{"GET", "/principals/things", ``, "x-amzn-principal: required"},
		{"PATCH", "/things/t", `{"attributePayload":{"merge":"yes"}}`, "attributePayload.merge: expected boolean, got string"},
		{"POST", "/thing-types/ty", `{"thingTypeProperties":{"searchableAttributes":"x"}}`, "thingTypeProperties.searchableAttributes: expected array, got string"},
		{"POST", "/thing-types/ty/deprecate", `{"undoDeprecate":"no"}`, "undoDeprecate: expected boolean, got string"},
		{"POST", "/thing-groups/g", `{"parentGroupName":1}`, "parentGroupName: expected string, got number"},
		{"PATCH", "/thing-groups/g", `{}`, "thingGroupProperties: required"},
		{"DELETE", "/thing-groups/g?expectedVersion=x", ``, "expectedVersion: must be an integer"},
		{"PUT", "/thing-groups/addThingToThingGroup", `{"thingName":"t"}`, "thingGroupName or thingGroupArn: one is required"},
		{"PUT", "/thing-groups/removeThingFromThingGroup", `{"thingGroupName":"g"}`, "thingName or thingArn: one is required"},
		{"GET", "/thing-groups?recursive=perhaps", ``, "recursive: must be true or false"},
		{"POST", "/cacertificate", `{}`, "caCertificate: required"},
		{"POST", "/cacertificate?setAsActive=maybe", `{"caCertificate":"x"}`, "setAsActive: must be true or false"},
		{"POST", "/certificate/register", `{"status":"ACTIVE"}`, "certificatePem: required"},
		{"POST", "/certificate/register", `{"certificatePem":"x","status":"ON"}`, "status: \"ON\" is not a certificate status"},
		{"POST", "/certificates", `{"certificateSigningRequest":7}`, "certificateSigningRequest: expected string, got number"},
		{"PATCH", "/event-configurations", `{"eventConfigurations":{"THING":{"Enabled":"yes"}}}`, "expected boolean, got string"},
		{"POST", "/tags", `{"resourceArn":"arn:aws:iot:us-east-1:123456789012:thingtype/ty"}`, "tags: required"},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			resp, body := e.do(t, c.method, c.path, c.body, http.Header{"Content-Type": {"application/json"}})
			errorShape(t, resp, body, http.StatusBadRequest, "InvalidRequestException", c.msg)
		})
	}
	// Nothing was stored by any of them.
	if _, err := e.reg.GetPolicy("p"); err == nil {
		t.Error("policy p exists after refused requests")
	}
	if _, err := e.reg.DescribeThing("t"); err == nil {
		t.Error("thing t exists after refused requests")
	}
}

func TestBodyTooLarge(t *testing.T) {
	e := newEnv(t)
	// Just over the limit, so that the server can drain the rest and answer cleanly.
	big := `{"policyDocument":"` + strings.Repeat("x", 1<<20) + `"}`
	resp, body := e.do(t, "POST", "/policies/big", big, nil)
	errorShape(t, resp, body, http.StatusRequestEntityTooLarge, "InvalidRequestException", "larger than")
	if _, err := e.reg.GetPolicy("big"); err == nil {
		t.Error("policy stored from an oversized body")
	}
}

func TestUnknownRoute(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct{ method, path string }{
		{"GET", "/nope"},
		{"PATCH", "/things/x/y/z"},
		{"POST", "/things"},             // known path, unknown method
		{"GET", "/things/"},             // an empty name is no name
		{"GET", "/"},                    // no root operation
		{"GET", "/attached-policies/x"}, // POST only
	} {
		resp, body := e.do(t, c.method, c.path, "", nil)
		errorShape(t, resp, body, http.StatusNotFound, "UnknownOperationException", c.method+" "+c.path)
	}
}

func TestBadPathEscape(t *testing.T) {
	e := newEnv(t)
	// Go's client refuses to send a bad escape, so write the request line by hand. net/http
	// itself answers 400 before routing; the router's own check is a second line.
	resp, body := rawRequest(t, e.srv.Listener.Addr().String(), "GET /things/%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("status = %d, body %s", resp.StatusCode, body)
	}
}

func TestEncodedTargetRouting(t *testing.T) {
	e := newEnv(t)
	cert, err := e.iot.CreateKeysAndCertificate(e.ctx, &iot.CreateKeysAndCertificateInput{SetAsActive: true})
	must(t, err)
	_, err = e.iot.CreatePolicy(e.ctx, &iot.CreatePolicyInput{PolicyName: aws.String("p"), PolicyDocument: aws.String(allowAll)})
	must(t, err)
	_, err = e.iot.AttachPolicy(e.ctx, &iot.AttachPolicyInput{PolicyName: aws.String("p"), Target: cert.CertificateArn})
	must(t, err)

	arn := aws.ToString(cert.CertificateArn)
	for _, escaped := range []string{
		url.PathEscape(arn), // ':' kept, '/' as %2F
		strings.NewReplacer(":", "%3A", "/", "%2F").Replace(arn), // everything escaped, as the SDK does
	} {
		resp, body := e.do(t, "POST", "/attached-policies/"+escaped, "", nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST /attached-policies/%s: %d %s", escaped, resp.StatusCode, body)
		}
		var out struct {
			Policies []struct{ PolicyName, PolicyArn string } `json:"policies"`
		}
		must(t, json.Unmarshal(body, &out))
		if len(out.Policies) != 1 || out.Policies[0].PolicyName != "p" {
			t.Errorf("policies = %+v", out.Policies)
		}
	}
	// Unescaped, the '/' of the ARN splits the path and no route matches.
	resp, body := e.do(t, "POST", "/attached-policies/"+arn, "", nil)
	errorShape(t, resp, body, http.StatusNotFound, "UnknownOperationException", "/attached-policies/")
}

func TestErrorShapes(t *testing.T) {
	e := newEnv(t)
	resp, body := e.do(t, "GET", "/things/ghost", "", nil)
	errorShape(t, resp, body, http.StatusNotFound, "ResourceNotFoundException", "ghost")

	_, err := e.iot.CreateThing(e.ctx, &iot.CreateThingInput{ThingName: aws.String("dup"), AttributePayload: nil})
	must(t, err)
	resp, body = e.do(t, "POST", "/things/dup", `{"attributePayload":{"attributes":{"a":"b"}}}`, nil)
	m := errorShape(t, resp, body, http.StatusConflict, "ResourceAlreadyExistsException", "dup")
	if m["resourceId"] == nil || !strings.HasSuffix(m["resourceArn"].(string), ":thing/dup") {
		t.Errorf("ResourceAlreadyExists body = %s", body)
	}

	resp, body = e.do(t, "GET", "/endpoint?endpointType=iot:Other", "", nil)
	errorShape(t, resp, body, http.StatusBadRequest, "InvalidRequestException", "endpointType")

	// Success: 200, JSON, {} for operations without output.
	resp, body = e.do(t, "DELETE", "/things/dup", "", nil)
	if resp.StatusCode != http.StatusOK || string(body) != "{}" || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("DeleteThing = %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
}

func TestHealth(t *testing.T) {
	var ready atomic.Bool
	e := newEnv(t, func(c *api.Config) { c.Ready = ready.Load })
	resp, body := e.do(t, "GET", "/health", "", nil)
	if resp.StatusCode != http.StatusServiceUnavailable || strings.TrimSpace(string(body)) != `{"status":"starting"}` {
		t.Errorf("not ready: %d %s", resp.StatusCode, body)
	}
	ready.Store(true)
	resp, body = e.do(t, "GET", "/health", "", nil)
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != `{"status":"ok"}` {
		t.Errorf("ready: %d %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
}

func TestHealthWithoutReadyFunc(t *testing.T) {
	e := newEnv(t)
	resp, body := e.do(t, "GET", "/health", "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("%d %s", resp.StatusCode, body)
	}
}

func TestRootCA(t *testing.T) {
	e := newEnv(t)
	resp, body := e.do(t, "GET", "/_iotcore/root-ca.pem", "", nil)
	if resp.StatusCode != http.StatusOK || string(body) != string(e.ca.RootCAPEM()) {
		t.Errorf("root CA: %d %q", resp.StatusCode, body)
	}
	if !strings.HasPrefix(string(body), "-----BEGIN CERTIFICATE-----") {
		t.Errorf("root CA is not a PEM certificate: %q", body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-pem-file" {
		t.Errorf("Content-Type = %q", ct)
	}
}

func TestConnections(t *testing.T) {
	e := newEnv(t)
	resp, body := e.do(t, "GET", "/_iotcore/connections", "", nil)
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "[]" {
		t.Errorf("no Connections func: %d %s", resp.StatusCode, body)
	}

	type transcript struct {
		SNI  string   `json:"sni"`
		ALPN []string `json:"alpnOffered"`
	}
	e = newEnv(t, func(c *api.Config) {
		c.Connections = func() any { return []transcript{{SNI: "localhost", ALPN: []string{"x-amzn-mqtt-ca"}}} }
	})
	resp, body = e.do(t, "GET", "/_iotcore/connections", "", nil)
	var got []transcript
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &got) != nil || len(got) != 1 || got[0].SNI != "localhost" {
		t.Errorf("connections: %d %s", resp.StatusCode, body)
	}

	e = newEnv(t, func(c *api.Config) { c.Connections = func() any { return func() {} } })
	resp, body = e.do(t, "GET", "/_iotcore/connections", "", nil)
	errorShape(t, resp, body, http.StatusInternalServerError, "InternalFailureException", "encode connections")
}

func TestRegionMismatchWarnsOnce(t *testing.T) {
	e := newEnv(t)
	other := e.client("eu-west-1")
	for range 3 {
		_, err := other.DescribeEndpoint(e.ctx, &iot.DescribeEndpointInput{})
		must(t, err)
	}
	if n := strings.Count(e.logs.String(), "signed for another region"); n != 1 {
		t.Errorf("region warning logged %d times, want 1:\n%s", n, e.logs.String())
	}
	if !strings.Contains(e.logs.String(), "signed_region=eu-west-1") {
		t.Errorf("warning does not name the region:\n%s", e.logs.String())
	}
}

func TestRequestLogging(t *testing.T) {
	e := newEnv(t)
	_, _ = e.iot.DescribeThing(e.ctx, &iot.DescribeThingInput{ThingName: aws.String("ghost")})
	_, err := e.iot.DescribeEndpoint(e.ctx, &iot.DescribeEndpointInput{})
	must(t, err)
	logs := e.logs.String()
	for _, want := range []string{
		"level=WARN msg=\"api: request failed\" op=DescribeThing",
		"error=ResourceNotFoundException",
		"level=DEBUG msg=\"api: request\" op=DescribeEndpoint method=GET path=/endpoint status=200",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
}

func TestIssuerMissing(t *testing.T) {
	e := newEnv(t, func(c *api.Config) { c.Issuer = nil })
	resp, body := e.do(t, "POST", "/keys-and-certificate?setAsActive=true", "", nil)
	errorShape(t, resp, body, http.StatusInternalServerError, "InternalFailureException", "issuer")
}

// rawRequest writes a request by hand (for request lines Go's client refuses to send) and reads
// the response.
func rawRequest(t *testing.T, addr, request string) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	must(t, err)
	defer conn.Close()
	_, err = io.WriteString(conn, request)
	must(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	must(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	must(t, err)
	return resp, body
}
