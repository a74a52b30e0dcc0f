package api_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/iotcore-local/iotcore-local/api"
)

const consoleURLPath = "/_iotcore/console/mqtt-url"

// consoleEnv is an API server with a console credential.
func consoleEnv(t *testing.T, strict bool) (*env, *api.ConsoleCredential) {
	t.Helper()
	cred := api.NewConsoleCredential(testRegion, nil)
	e, _ := dataEnv(t, func(c *api.Config) {
		c.ConsoleCredential = cred
		c.SigV4Strict = strict
	})
	return e, cred
}

// consoleURL is the answer of the console route.
type consoleURL struct {
	URL         string `json:"url"`
	AccessKeyID string `json:"accessKeyId"`
	Expiration  string `json:"expiration"`
	Identity    string `json:"identity"`
}

// upgradeRequest is the GET a browser sends for the WebSocket URL u.
func upgradeRequest(t testing.TB, u string) *http.Request {
	t.Helper()
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	parsed.Scheme = "http"
	req, err := http.NewRequest(http.MethodGet, parsed.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.RequestURI = parsed.RequestURI()
	return req
}

// TestConsoleMQTTURL: the page's same-origin POST gets a presigned /mqtt URL for its own host,
// which the /mqtt verifier accepts with the console credential only, for ConsoleURLLifetime,
// and for that host only.
func TestConsoleMQTTURL(t *testing.T) {
	e, cred := consoleEnv(t, false)
	host := strings.TrimPrefix(e.srv.URL, "http://")
	req := e.request(t, http.MethodPost, consoleURLPath, nil, nil, nil, sigOpts{})
	req.Header.Set("Origin", e.srv.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, body := e.send(t, req)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("same-origin POST: %d %s", resp.StatusCode, body)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	var out consoleURL
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("answer %s: %v", body, err)
	}
	if !strings.HasPrefix(out.URL, "ws://"+host+"/mqtt?") || !strings.Contains(out.URL, "X-Amz-Signature=") {
		t.Fatalf("url = %q, want a presigned ws://%s/mqtt", out.URL, host)
	}
	if out.AccessKeyID != cred.AccessKeyID() || !strings.HasPrefix(out.AccessKeyID, "AKIACONSOLE") || len(out.AccessKeyID) != 20 {
		t.Errorf("accessKeyId = %q, credential's %q", out.AccessKeyID, cred.AccessKeyID())
	}
	if !strings.Contains(out.URL, "%2F"+testRegion+"%2Fiotdevicegateway%2F") || !strings.Contains(out.URL, "X-Amz-Expires=60") {
		t.Errorf("url %q: want the scope iotdevicegateway in %s and X-Amz-Expires=60", out.URL, testRegion)
	}
	if !strings.Contains(out.Identity, out.AccessKeyID) {
		t.Errorf("identity %q does not name the key", out.Identity)
	}
	exp, err := time.Parse(time.RFC3339, out.Expiration)
	if err != nil || exp.Before(time.Now()) || exp.After(time.Now().Add(api.ConsoleURLLifetime+time.Second)) {
		t.Errorf("expiration %q (%v): want within %s from now", out.Expiration, err, api.ConsoleURLLifetime)
	}

	withConsole := api.WebSocketVerifier{Region: testRegion, Console: cred}
	who, err := withConsole.Verify(upgradeRequest(t, out.URL))
	if err != nil || who.AccessKey != cred.AccessKeyID() {
		t.Fatalf("the /mqtt verifier refused the console URL: %v (%+v)", err, who)
	}
	var refusal *api.WebSocketRefusal
	tests := []struct {
		name string
		v    api.WebSocketVerifier
		req  func() *http.Request
		want string
	}{
		{"a verifier without the console key", api.WebSocketVerifier{Region: testRegion, Credentials: map[string]string{knownKey: knownSecret}},
			func() *http.Request { return upgradeRequest(t, out.URL) }, "is unknown"},
		{"another console credential (another start)", api.WebSocketVerifier{Region: testRegion, Console: api.NewConsoleCredential(testRegion, nil)},
			func() *http.Request { return upgradeRequest(t, out.URL) }, "is unknown"},
		{"after ConsoleURLLifetime", api.WebSocketVerifier{Region: testRegion, Console: cred,
			Now: func() time.Time { return time.Now().Add(api.ConsoleURLLifetime + time.Minute) }},
			func() *http.Request { return upgradeRequest(t, out.URL) }, "Signature expired"},
		{"sent to another Host", withConsole,
			func() *http.Request { r := upgradeRequest(t, out.URL); r.Host = "attacker.example"; return r }, "does not match"},
		{"another path", withConsole,
			func() *http.Request {
				r := upgradeRequest(t, strings.Replace(out.URL, "/mqtt?", "/topics/x?", 1))
				return r
			}, "does not match"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.v.Verify(tc.req())
			if !errors.As(err, &refusal) || refusal.Status != http.StatusForbidden || !strings.Contains(refusal.Message, tc.want) {
				t.Fatalf("Verify = %v, want a 403 saying %q", err, tc.want)
			}
		})
	}

}

// TestConsoleMQTTURLRefused: the route is refused to web pages of other origins, to foreign
// Host names (DNS rebinding), and, under --sigv4-strict, to every caller without a signature
// made with a --credentials key pair.
func TestConsoleMQTTURLRefused(t *testing.T) {
	e, _ := consoleEnv(t, false)
	host := strings.TrimPrefix(e.srv.URL, "http://")
	tests := []struct {
		name    string
		host    string
		header  map[string]string
		refused string
	}{
		{name: "cross-site page", header: map[string]string{"Origin": "http://attacker.example", "Sec-Fetch-Site": "cross-site"}, refused: "cross-site request refused"},
		{name: "cross-site, Origin only", header: map[string]string{"Origin": "http://attacker.example"}, refused: `Origin "http://attacker.example"`},
		{name: "same-site page on another port", header: map[string]string{"Origin": "http://127.0.0.1:1", "Sec-Fetch-Site": "same-site"}, refused: "Sec-Fetch-Site is same-site"},
		{name: "sandboxed frame", header: map[string]string{"Origin": "null"}, refused: `Origin "null"`},
		{name: "DNS rebinding: foreign Host", host: "attacker.example:" + strings.Split(host, ":")[1],
			header: map[string]string{"Origin": "http://attacker.example:" + strings.Split(host, ":")[1], "Sec-Fetch-Site": "same-origin"}, refused: `Host "attacker.example`},
		{name: "foreign Host, no Origin", host: "attacker.example", refused: "is not a name this emulator serves"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := e.request(t, http.MethodPost, consoleURLPath, nil, nil, nil, sigOpts{})
			if tc.host != "" {
				req.Host = tc.host
			}
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			resp, body := e.send(t, req)
			errorShape(t, resp, body, http.StatusForbidden, "ForbiddenException", tc.refused)
			if strings.Contains(string(body), "X-Amz-Signature") {
				t.Fatalf("refused, yet the answer holds a signed URL: %s", body)
			}
		})
	}

	t.Run("no console credential", func(t *testing.T) {
		plain, _ := dataEnv(t)
		resp, body := plain.do(t, http.MethodPost, consoleURLPath, "", nil)
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("%d %s, want 404", resp.StatusCode, body)
		}
	})

	t.Run("sigv4-strict", func(t *testing.T) {
		s, cred := consoleEnv(t, true)
		resp, body := s.do(t, http.MethodPost, consoleURLPath, "", http.Header{"Origin": {s.srv.URL}})
		errorShape(t, resp, body, http.StatusForbidden, "MissingAuthenticationTokenException", "--sigv4-strict")
		req := s.request(t, http.MethodPost, consoleURLPath, nil, nil, nil, sigOpts{})
		signAs(t, req, "AKIDUNKNOWN", "whatever", nil)
		resp, body = s.send(t, req)
		errorShape(t, resp, body, http.StatusForbidden, "UnrecognizedClientException", "")
		// The console's own key cannot sign for the API: it is unknown there.
		req = s.request(t, http.MethodPost, consoleURLPath, nil, nil, nil, sigOpts{})
		signAs(t, req, cred.AccessKeyID(), "guessed", nil)
		resp, body = s.send(t, req)
		errorShape(t, resp, body, http.StatusForbidden, "UnrecognizedClientException", "")
		// A script signing with a --credentials key pair gets the URL.
		req = s.request(t, http.MethodPost, consoleURLPath, nil, nil, nil, sigOpts{})
		signAs(t, req, knownKey, knownSecret, nil)
		resp, body = s.send(t, req)
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "X-Amz-Signature") {
			t.Fatalf("signed under strict: %d %s", resp.StatusCode, body)
		}
	})
}
