package api_test

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/smithy-go"

	"github.com/iotcore-local/iotcore-local/api"
)

// TestSigV4 signs requests with the real aws-sdk-go-v2 v4 signer, in the header and the
// presigned forms, and checks which the emulator accepts and how it refuses the others.
func TestSigV4(t *testing.T) {
	lenient, _ := dataEnv(t)
	strict, _ := dataEnv(t, func(c *api.Config) { c.SigV4Strict = true })
	now := time.Now()

	with := func(o sigOpts, f func(*sigOpts)) sigOpts { f(&o); return o }
	cases := []struct {
		name   string
		strict bool
		opts   sigOpts
		status int
		err    string // exception name; "" for success
		msg    string
	}{
		{name: "header", opts: known("iot"), status: 200},
		{name: "header with token", opts: with(known("iot"), func(o *sigOpts) { o.token = "session-token" }), status: 200},
		{name: "header, token added after signing", opts: with(known("iot"), func(o *sigOpts) { o.token = "t"; o.tokenAfterSigning = true }), status: 200},
		{name: "execute-api scope", opts: known("execute-api"), status: 200},
		{name: "presigned", opts: with(known("iot"), func(o *sigOpts) { o.presign = true }), status: 200},
		{name: "presigned with expiry", opts: with(known("iot"), func(o *sigOpts) { o.presign = true; o.expires = 300 }), status: 200},
		{name: "presigned with token signed", opts: with(known("iot"), func(o *sigOpts) { o.presign = true; o.token = "tok/=+" }), status: 200},
		{name: "presigned, token appended after signing", opts: with(known("iot"), func(o *sigOpts) {
			o.presign = true
			o.token = "tok/=+"
			o.tokenAfterSigning = true
		}), status: 200},
		{name: "path signed as sent", opts: with(known("iot"), func(o *sigOpts) { o.singleEncodedPath = true }), status: 200},
		{name: "wrong secret", opts: with(known("iot"), func(o *sigOpts) { o.secret = "nope" }), status: 403, err: "InvalidSignatureException",
			msg: "The request signature we calculated does not match the signature you provided"},
		{name: "presigned, wrong secret", opts: with(known("iot"), func(o *sigOpts) { o.presign = true; o.secret = "nope" }), status: 403, err: "InvalidSignatureException",
			msg: "does not match"},
		{name: "signed for another region", opts: with(known("iot"), func(o *sigOpts) { o.region = "eu-west-1" }), status: 200},
		{name: "20 minutes old", opts: with(known("iot"), func(o *sigOpts) { o.at = now.Add(-20 * time.Minute) }), status: 403, err: "InvalidSignatureException",
			msg: "Signature expired"},
		{name: "20 minutes ahead", opts: with(known("iot"), func(o *sigOpts) { o.at = now.Add(20 * time.Minute) }), status: 403, err: "InvalidSignatureException",
			msg: "Signature not yet current"},
		{name: "10 minutes old", opts: with(known("iot"), func(o *sigOpts) { o.at = now.Add(-10 * time.Minute) }), status: 200},
		{name: "presigned, expired", opts: with(known("iot"), func(o *sigOpts) { o.presign = true; o.expires = 60; o.at = now.Add(-2 * time.Minute) }),
			status: 403, err: "InvalidSignatureException", msg: "Signature expired"},
		{name: "presigned, an hour old within its expiry", opts: with(known("iot"), func(o *sigOpts) { o.presign = true; o.expires = 86400; o.at = now.Add(-time.Hour) }),
			status: 200},
		{name: "unknown key, lenient", opts: sigOpts{key: "AKIDOTHER", secret: "x", service: "iot", region: testRegion}, status: 200},
		{name: "unknown key, strict", strict: true, opts: sigOpts{key: "AKIDOTHER", secret: "x", service: "iot", region: testRegion}, status: 403,
			err: "UnrecognizedClientException", msg: "The security token included in the request is invalid."},
		{name: "unsigned, lenient", opts: sigOpts{}, status: 200},
		{name: "unsigned, strict", strict: true, opts: sigOpts{}, status: 403, err: "MissingAuthenticationTokenException", msg: "Missing Authentication Token"},
		{name: "known key, strict", strict: true, opts: known("iot"), status: 200},
		{name: "other service", opts: known("s3"), status: 403, err: "InvalidSignatureException", msg: "Credential should be scoped to correct service"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := lenient
			if c.strict {
				e = strict
			}
			// A path with a %2F and a space, to exercise the canonical path.
			req := e.request(t, http.MethodGet, "/things", url.Values{"thingTypeName": {"a b/c"}, "maxResults": {"5"}}, nil, nil, c.opts)
			resp, body := e.send(t, req)
			if c.err == "" {
				if resp.StatusCode != c.status {
					t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.status, body)
				}
				return
			}
			errorShape(t, resp, body, c.status, c.err, c.msg)
		})
	}
}

// TestSigV4Body: the payload hash covers the body; X-Amz-Content-Sha256, when sent, must be the
// body's.
func TestSigV4Body(t *testing.T) {
	e, b := dataEnv(t, func(c *api.Config) { c.SigV4Strict = true })
	req := publishReq(t, e, "a/b c", []byte("payload"), nil, nil, known("iotdata"))
	resp, body := e.send(t, req)
	if resp.StatusCode != 200 {
		t.Fatalf("signed publish: %d %s", resp.StatusCode, body)
	}
	if string(b.last(t).Payload) != "payload" {
		t.Fatalf("payload %q after hashing the body", b.last(t).Payload)
	}
	// Same signature, other body.
	req = publishReq(t, e, "a/b c", []byte("payload"), nil, nil, known("iotdata"))
	req.Body = http.NoBody
	req.ContentLength = 0
	req.Header.Del("Content-Length")
	resp, body = e.send(t, req)
	errorShape(t, resp, body, 403, "InvalidSignatureException", "does not match")
	// A declared hash that is not the body's.
	req = publishReq(t, e, "t", []byte("x"), nil, http.Header{"X-Amz-Content-Sha256": {strings.Repeat("0", 64)}}, known("iotdata"))
	resp, body = e.send(t, req)
	errorShape(t, resp, body, 403, "InvalidSignatureException", "x-amz-content-sha256")
	// UNSIGNED-PAYLOAD is honoured.
	unsigned := known("iotdata")
	unsigned.payloadHash = "UNSIGNED-PAYLOAD"
	req = publishReq(t, e, "t", []byte("x"), nil, http.Header{"X-Amz-Content-Sha256": {"UNSIGNED-PAYLOAD"}}, unsigned)
	resp, body = e.send(t, req)
	if resp.StatusCode != 200 {
		t.Fatalf("UNSIGNED-PAYLOAD: %d %s", resp.StatusCode, body)
	}
}

// TestSigV4Malformed: signatures that cannot be parsed are IncompleteSignatureException, and a
// scope that does not fit the date is InvalidSignatureException.
func TestSigV4Malformed(t *testing.T) {
	e, _ := dataEnv(t)
	date := time.Now().UTC().Format("20060102T150405Z")
	day := date[:8]
	cases := []struct {
		name, authz, query, amzDate string
		status                      int
		err, msg                    string
	}{
		{"no signature", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/" + day + "/us-east-1/iot/aws4_request, SignedHeaders=host", "", date,
			400, "IncompleteSignatureException", "Authorization header requires 'Signature' parameter."},
		{"no date", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/" + day + "/us-east-1/iot/aws4_request, SignedHeaders=host, Signature=" + strings.Repeat("a", 64), "", "",
			400, "IncompleteSignatureException", "'X-Amz-Date' or a 'Date' header"},
		{"short credential", "AWS4-HMAC-SHA256 Credential=AKID/us-east-1/iot, SignedHeaders=host, Signature=" + strings.Repeat("a", 64), "", date,
			400, "IncompleteSignatureException", "5 slash-delimited elements"},
		{"bad terminator", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/" + day + "/us-east-1/iot/aws5_request, SignedHeaders=host, Signature=" + strings.Repeat("a", 64), "", date,
			403, "InvalidSignatureException", "valid terminator"},
		{"scope date", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20000101/us-east-1/iot/aws4_request, SignedHeaders=host, Signature=" + strings.Repeat("a", 64), "", date,
			403, "InvalidSignatureException", "Date in Credential scope does not match"},
		{"sigv4a", "AWS4-ECDSA-P256-SHA256 Credential=x", "", date, 400, "IncompleteSignatureException", "Unsupported AWS 'algorithm'"},
		{"both forms", "AWS4-HMAC-SHA256 Credential=x", "X-Amz-Algorithm=AWS4-HMAC-SHA256", date, 400, "IncompleteSignatureException", "Only one auth mechanism"},
		{"presigned, missing", "", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=x", "", 400, "IncompleteSignatureException", "'X-Amz-Signature'"},
		{"presigned, long expiry", "", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F" + day + "%2Fus-east-1%2Fiot%2Faws4_request&X-Amz-Date=" + date +
			"&X-Amz-SignedHeaders=host&X-Amz-Signature=" + strings.Repeat("a", 64) + "&X-Amz-Expires=604801", "", 400, "IncompleteSignatureException", "604800"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{}
			if c.authz != "" {
				h.Set("Authorization", c.authz)
			}
			if c.amzDate != "" {
				h.Set("X-Amz-Date", c.amzDate)
			}
			path := "/things"
			if c.query != "" {
				path += "?" + c.query
			}
			resp, body := e.do(t, http.MethodGet, path, "", h)
			errorShape(t, resp, body, c.status, c.err, c.msg)
		})
	}
	// Another scheme in Authorization is not SigV4: the request is unsigned.
	resp, body := e.do(t, http.MethodGet, "/things", "", http.Header{"Authorization": {"Bearer x"}})
	if resp.StatusCode != 200 {
		t.Fatalf("Authorization: Bearer: %d %s", resp.StatusCode, body)
	}
}

// TestSigV4IotSDK: the service/iot client signing with a known key's right secret works; with a
// wrong secret it is refused with InvalidSignatureException, as AWS IoT refuses it.
func TestSigV4IotSDK(t *testing.T) {
	e, _ := dataEnv(t, func(c *api.Config) { c.SigV4Strict = true })
	client := func(secret string) *iot.Client {
		return iot.NewFromConfig(aws.Config{
			Region:           testRegion,
			Credentials:      credentials.NewStaticCredentialsProvider(knownKey, secret, ""),
			RetryMaxAttempts: 1,
			HTTPClient:       e.srv.Client(),
		}, func(o *iot.Options) { o.BaseEndpoint = aws.String(e.srv.URL) })
	}
	good := client(knownSecret)
	if _, err := good.CreateThing(e.ctx, &iot.CreateThingInput{ThingName: aws.String("signed-thing")}); err != nil {
		t.Fatalf("CreateThing with the right secret: %v", err)
	}
	if _, err := good.CreatePolicy(e.ctx, &iot.CreatePolicyInput{PolicyName: aws.String("p"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}`)}); err != nil {
		t.Fatalf("CreatePolicy (a signed body) with the right secret: %v", err)
	}
	if _, err := good.ListThings(e.ctx, &iot.ListThingsInput{AttributeName: aws.String("a b"), AttributeValue: aws.String("x/y")}); err != nil {
		t.Fatalf("ListThings with query: %v", err)
	}
	if _, err := good.ListAttachedPolicies(e.ctx, &iot.ListAttachedPoliciesInput{
		Target: aws.String("arn:aws:iot:us-east-1:123456789012:cert/" + strings.Repeat("a", 64))}); err != nil {
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "ResourceNotFoundException" {
			t.Fatalf("ListAttachedPolicies (an ARN in the path): %v", err)
		}
	}
	_, err := client("wrong").ListThings(e.ctx, &iot.ListThingsInput{})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidSignatureException" {
		t.Fatalf("wrong secret: %v, want InvalidSignatureException", err)
	}
	wantErr[smithy.APIError](t, err, http.StatusForbidden)
}

// TestSigV4EscapedPath: a topic with a slash, a space and a colon travels as one escaped path
// segment; the signature verifies whether the signer escaped the path again (the SDKs) or
// signed it as sent, in both forms, for both data-plane signing names.
func TestSigV4EscapedPath(t *testing.T) {
	e, b := dataEnv(t, func(c *api.Config) { c.SigV4Strict = true })
	topic := "a/b c:d"
	b.retained[topic] = api.RetainedMessage{Topic: topic, Payload: []byte("v"), LastModified: fakeModified}
	for _, service := range []string{"iotdata", "iotdevicegateway"} {
		for _, presign := range []bool{false, true} {
			for _, single := range []bool{false, true} {
				o := known(service)
				o.presign, o.singleEncodedPath, o.token = presign, single, "tok"
				req := e.request(t, http.MethodGet, "/retainedMessage/"+escapeSegment(topic), nil, nil, nil, o)
				resp, body := e.send(t, req)
				if resp.StatusCode != 200 {
					t.Errorf("%s presign=%t single=%t: %d %s", service, presign, single, resp.StatusCode, body)
				}
			}
		}
	}
	o := known("iotdata")
	o.secret = "wrong"
	resp, body := e.send(t, e.request(t, http.MethodGet, "/retainedMessage/"+escapeSegment(topic), nil, nil, nil, o))
	errorShape(t, resp, body, 403, "InvalidSignatureException", "/retainedMessage/a%252Fb%2520c%253Ad")
}
