package api

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// FuzzSigV4Parse feeds arbitrary Authorization headers, query strings and dates to the SigV4
// parser and, when they parse, to the time check and the verifier. The property: no panic, and
// every refusal is an AWS error (a 400 or 403 with an exception name) — never a 500.
func FuzzSigV4Parse(f *testing.F) {
	day := "20240102"
	date := day + "T030405Z"
	sig := strings.Repeat("ab", 32)
	cred := "AKIDEXAMPLE/" + day + "/us-east-1/iot/aws4_request"
	seeds := []struct{ authz, query, amzDate, body string }{
		{"AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=host;x-amz-date, Signature=" + sig, "", date, ""},
		{"AWS4-HMAC-SHA256 Credential=" + cred + ",SignedHeaders=host,Signature=" + sig, "a=b&c", date, "body"},
		{"AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=content-length;host;transfer-encoding, Signature=" + sig, "", date, "x"},
		{"", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" + url.QueryEscape(cred) + "&X-Amz-Date=" + date +
			"&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=" + sig + "&X-Amz-Security-Token=t%2B", "", ""},
		{"", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a/b", "", ""},
		{"AWS4-HMAC-SHA256", "", "", ""},
		{"AWS4-HMAC-SHA256 ,,,=,", "", date, ""},
		{"AWS4-HMAC-SHA256 Credential=//////, SignedHeaders=;;, Signature=zz", "", "x", ""},
		{"AWS4-X", "X-Amz-Signature=1", date, ""},
		{"Bearer abc", "%zz=%", "", ""},
		{"AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=HOST, Signature=" + sig, "", "Mon, 02 Jan 2024 03:04:05 GMT", ""},
	}
	for _, s := range seeds {
		f.Add(s.authz, s.query, s.amzDate, s.body)
	}
	now := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	f.Fuzz(func(t *testing.T, authz, query, amzDate, body string) {
		r := &http.Request{
			Method: http.MethodPost,
			URL:    &url.URL{Path: "/topics/a%2Fb", RawPath: "/topics/a%2Fb", RawQuery: query},
			Header: http.Header{},
			Host:   "localhost",
			Body:   http.NoBody,
		}
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		if amzDate != "" {
			r.Header.Set("X-Amz-Date", amzDate)
		}
		if body != "" {
			r.Body = readCloser(body)
			r.ContentLength = int64(len(body))
		}
		s, err := parseSigV4(r)
		if err != nil {
			wantAuthError(t, err)
			return
		}
		if s == nil {
			return
		}
		if s.accessKey == "" || len(s.signature) != 64 || s.date.Format(scopeDateFormat) != s.scopeDate {
			t.Fatalf("parsed an inconsistent signature: %+v", s)
		}
		if err := s.checkTime(now); err != nil {
			wantAuthError(t, err)
		}
		if err := s.verify(r, "secret"); err != nil {
			wantAuthError(t, err)
		}
	})
}

// wantAuthError fails unless err is an AWS error a client can act on.
func wantAuthError(t *testing.T, err error) {
	t.Helper()
	var ae *apiError
	if !errors.As(err, &ae) || ae.name == "" || ae.status >= 500 {
		t.Fatalf("error %v (%T) is not a 4xx AWS error", err, err)
	}
}

type stringReadCloser struct{ *strings.Reader }

func (stringReadCloser) Close() error { return nil }

func readCloser(s string) stringReadCloser { return stringReadCloser{strings.NewReader(s)} }
