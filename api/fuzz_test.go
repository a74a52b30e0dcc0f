package api_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iotcore-local/iotcore-local/api"
	"github.com/iotcore-local/iotcore-local/index"
	"github.com/iotcore-local/iotcore-local/pki"
	"github.com/iotcore-local/iotcore-local/registry"
)

// FuzzRoute sends random methods, paths and bodies through the whole handler, with a real
// registry behind it. The handler turns a panic into a 500, so the property checked is stronger
// than "does not crash": no request is answered with a 5xx, every answer is JSON (or the PEM),
// and every error carries x-amzn-ErrorType.
func FuzzRoute(f *testing.F) {
	seeds := []struct{ method, path, body string }{
		{"GET", "/things", ""},
		{"GET", "/things?maxResults=2&nextToken=abc", ""},
		{"POST", "/things/t1", `{"attributePayload":{"attributes":{"a":"b"}}}`},
		{"GET", "/things/t1", ""},
		{"DELETE", "/things/t1?expectedVersion=1", ""},
		{"PUT", "/things/t1/principals", ""},
		{"GET", "/things/t1/principals?maxResults=0", ""},
		{"GET", "/principals/things", ""},
		{"POST", "/policies/p", `{"policyDocument":"{}"}`},
		{"GET", "/policies?pageSize=250&isAscendingOrder=true", ""},
		{"DELETE", "/policies/p", ""},
		{"PUT", "/target-policies/p", `{"target":"arn:aws:iot:us-east-1:123456789012:cert/00"}`},
		{"POST", "/attached-policies/arn%3Aaws%3Aiot%3Aus-east-1%3A1%3Acert%2Fab", ""},
		{"POST", "/certificate/register-no-ca", `{"certificatePem":"x"}`},
		{"GET", "/certificates/0x00?x=%zz", ""},
		{"PUT", "/certificates/" + strings.Repeat("f", 64) + "?newStatus=ACTIVE", ""},
		{"GET", "/endpoint?endpointType=iot:Data-ATS", ""},
		{"GET", "/health", ""},
		{"GET", "/_iotcore/root-ca.pem", ""},
		{"GET", "/_iotcore/connections", ""},
		{"GET", "//", ""},
		{"BREW", "/things/%2F%2F/principals", "{"},
		{"", "", ""},
		{"GET", "/things/%", "null"},
		{"PATCH", "/things/t1", `{"attributePayload":{"attributes":{"a":""},"merge":true},"expectedVersion":1}`},
		{"POST", "/thing-types/ty", `{"thingTypeProperties":{"searchableAttributes":["a"]},"tags":[{"Key":"k","Value":"v"}]}`},
		{"POST", "/thing-types/ty/deprecate", `{"undoDeprecate":true}`},
		{"GET", "/thing-types?thingTypeName=ty", ""},
		{"POST", "/thing-groups/g", `{"parentGroupName":"p","thingGroupProperties":{"attributePayload":{"attributes":{"a":"b"}}}}`},
		{"PUT", "/thing-groups/addThingToThingGroup", `{"thingGroupArn":"arn:aws:iot:us-east-1:123456789012:thinggroup/g","thingName":"t1"}`},
		{"GET", "/thing-groups/g/things?recursive=true", ""},
		{"GET", "/things/t1/thing-groups", ""},
		{"POST", "/cacertificate?setAsActive=true&allowAutoRegistration=false", `{"caCertificate":"x","certificateMode":"SNI_ONLY"}`},
		{"PUT", "/cacertificate/" + strings.Repeat("a", 64) + "?newStatus=ACTIVE", `{"removeAutoRegistration":true}`},
		{"POST", "/certificate/register", `{"certificatePem":"x","caCertificatePem":"y"}`},
		{"POST", "/certificates?setAsActive=true", `{"certificateSigningRequest":"-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----"}`},
		{"GET", "/registrationcode", ""},
		{"POST", "/tags", `{"resourceArn":"arn:aws:iot:us-east-1:123456789012:thingtype/ty","tags":[{"Key":"a","Value":"b"}]}`},
		{"GET", "/tags?resourceArn=arn%3Aaws%3Aiot%3Aus-east-1%3A123456789012%3Apolicy%2Fp", ""},
		{"PATCH", "/event-configurations", `{"eventConfigurations":{"THING":{"Enabled":true}}}`},
		{"GET", "/things/t1/principals-v2?thingPrincipalType=EXCLUSIVE_THING&maxResults=1", ""},
		{"GET", "/principals/things-v2?nextToken=x", ""},
		{"POST", "/role-aliases/r", `{"roleArn":"arn:aws:iam::123456789012:role/r","credentialDurationSeconds":900}`},
		{"PUT", "/role-aliases/r", `{"credentialDurationSeconds":"x"}`},
		{"GET", "/role-aliases?pageSize=1&marker=%%", ""},
		{"GET", "/role-aliases/r/credentials", ""},
		{"POST", "/billing-groups/b", `{"billingGroupProperties":{"billingGroupDescription":"d"}}`},
		{"PUT", "/billing-groups/addThingToBillingGroup", `{"billingGroupName":"b","thingArn":"arn:aws:iot:us-east-1:123456789012:thing/t1"}`},
		{"DELETE", "/billing-groups/b?expectedVersion=x", ""},
		{"POST", "/v2LoggingOptions", `{"defaultLogLevel":"WARN","disableAllLogs":true}`},
		{"POST", "/v2LoggingLevel", `{"logTarget":{"targetType":"CLIENT_ID","targetName":"c"},"logLevel":"INFO"}`},
		{"GET", "/v2LoggingLevel?nextToken=zz", ""},
		{"POST", "/indexing/config", `{"thingIndexingConfiguration":{"thingIndexingMode":"REGISTRY","customFields":[{"name":"attributes.a","type":"Number"}]}}`},
		{"POST", "/indices/search", `{"queryString":"attributes.a:[1 TO 2} AND NOT thingName:x*","maxResults":1}`},
		{"POST", "/indices/buckets", `{"queryString":"*","aggregationField":"attributes.a","bucketsAggregationType":{"termsAggregation":{"maxBuckets":2}}}`},
		{"POST", "/indices/percentiles", `{"queryString":"*","aggregationField":"attributes.a","percents":[50,101]}`},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.body)
	}
	quiet := slog.New(slog.DiscardHandler)
	reg, err := registry.Open(filepath.Join(f.TempDir(), "registry.db"), registry.Options{Logger: quiet})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = reg.Close() })
	ca, err := pki.Load(pki.Options{Dir: f.TempDir(), Logger: quiet})
	if err != nil {
		f.Fatal(err)
	}
	x, err := index.New(index.Options{Registry: reg, Logger: quiet})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = x.Close() })
	h := api.New(api.Config{Registry: reg, Issuer: ca, RootCAPEM: ca.RootCAPEM(), Logger: quiet, Index: x})

	f.Fuzz(func(t *testing.T, method, path, body string) {
		r := &http.Request{
			Method: method,
			URL:    &url.URL{Path: path},
			Header: http.Header{},
			Body:   http.NoBody,
		}
		if u, err := url.ParseRequestURI(path); err == nil {
			r.URL = u
		}
		if body != "" {
			r.Body = io.NopCloser(strings.NewReader(body))
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("%q %q %q: status %d: %s", method, path, body, w.Code, w.Body)
		}
		if w.Code >= 400 && w.Header().Get("x-amzn-ErrorType") == "" {
			t.Fatalf("%q %q: error %d without x-amzn-ErrorType", method, path, w.Code)
		}
		if w.Header().Get("Content-Type") == "application/json" && !json.Valid(w.Body.Bytes()) {
			t.Fatalf("%q %q: invalid JSON answer %q", method, path, w.Body)
		}
	})
}
