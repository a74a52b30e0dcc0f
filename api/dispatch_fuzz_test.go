package api_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/iotcore-local/iotcore-local/api"
	"github.com/iotcore-local/iotcore-local/pki"
	"github.com/iotcore-local/iotcore-local/registry"
)

// FuzzDispatch sends random methods, paths, bodies and signatures (none, a known key, a wrong
// secret, an unknown key; any service name) through the whole handler, strict and lenient,
// with a fake broker behind the data plane. Property: nothing is answered with a 5xx, every
// error carries x-amzn-ErrorType, every JSON answer is valid JSON, and every answer outside
// the plane-free routes that got past authentication names the API that answered.
func FuzzDispatch(f *testing.F) {
	seeds := []struct {
		method, path, body, service string
		signer                      uint8 // 0 unsigned, 1 known key, 2 wrong secret, 3 unknown key
		strict                      bool
	}{
		{"GET", "/things", "", "iot", 1, false},
		{"GET", "/things/x/shadow", "", "iotdata", 1, true},
		{"GET", "/things/x/jobs", "", "iot-jobs-data", 1, false},
		{"POST", "/topics/a%2Fb?qos=1&retain=true", "payload", "iotdata", 1, true},
		{"POST", "/topics/a%2F%2B?qos=2", "", "iotdevicegateway", 3, false},
		{"GET", "/retainedMessage?maxResults=1&nextToken=YQ", "", "iotdata", 0, false},
		{"GET", "/retainedMessage/%24aws%2Fx", "", "iotdata", 2, false},
		{"DELETE", "/connections/c1?cleanSession=true&preventWillMessage=true", "", "iotdata", 1, false},
		{"DELETE", "/connections/%24c", "", "execute-api", 0, true},
		{"PUT", "/retainedMessage/x", "", "s3", 1, false},
		{"GET", "/health", "", "iotdata", 2, true},
		{"GET", "/_iotcore/connections", "", "", 0, true},
		{"POST", "/policies/p", `{"policyDocument":"{}"}`, "iot", 1, true},
		{"BREW", "//%", "{", "", 0, false},
		{"", "", "", "", 0, false},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.body, s.service, s.signer, s.strict)
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
	broker := newFakeBroker()
	broker.connected["c1"] = true
	handler := func(strict bool) http.Handler {
		return api.New(api.Config{Registry: reg, Issuer: ca, RootCAPEM: ca.RootCAPEM(), Logger: quiet, Broker: broker,
			Credentials: map[string]string{knownKey: knownSecret}, SigV4Strict: strict})
	}
	lenient, strictH := handler(false), handler(true)
	signer := v4.NewSigner()

	f.Fuzz(func(t *testing.T, method, path, body, service string, who uint8, strict bool) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Method = method
		r.URL = &url.URL{Path: path}
		if u, err := url.ParseRequestURI(path); err == nil {
			r.URL = u
		}
		r.RequestURI = ""
		r.Host = "127.0.0.1:4580" // a name the API serves (crosssite.go), not httptest's example.com
		if body != "" {
			r.Body = io.NopCloser(strings.NewReader(body))
			r.ContentLength = int64(len(body))
		}
		if who%4 != 0 && service != "" && method != "" {
			key, secret := knownKey, knownSecret
			switch who % 4 {
			case 2:
				secret = "wrong"
			case 3:
				key = "AKIDUNKNOWN"
			}
			sum := sha256.Sum256([]byte(body))
			_ = signer.SignHTTP(t.Context(), aws.Credentials{AccessKeyID: key, SecretAccessKey: secret}, r,
				hex.EncodeToString(sum[:]), service, "us-east-1", time.Now())
			if body != "" {
				r.Body = io.NopCloser(strings.NewReader(body))
			}
		}
		h := lenient
		if strict {
			h = strictH
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("%q %q %q: status %d: %s", method, path, body, w.Code, w.Body)
		}
		if w.Code >= 400 && w.Header().Get("x-amzn-ErrorType") == "" {
			t.Fatalf("%q %q: error %d without x-amzn-ErrorType", method, path, w.Code)
		}
		if w.Header().Get("Content-Type") == "application/json" && w.Body.Len() > 0 && !json.Valid(w.Body.Bytes()) {
			t.Fatalf("%q %q: invalid JSON answer %q", method, path, w.Body)
		}
		if w.Code < 400 && w.Header().Get(api.PlaneHeader) == "" && r.URL.EscapedPath() != "/health" &&
			!strings.HasPrefix(r.URL.EscapedPath(), "/_iotcore/") {
			t.Fatalf("%q %q: answered %d without %s", method, path, w.Code, api.PlaneHeader)
		}
	})
}
