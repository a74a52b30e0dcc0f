package api_test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/iotcore-local/iotcore-local/api"
)

// TestCrossSiteRequests sends, over a real socket, the request of issue 11 item 3 (a form POST
// to /keys-and-certificate?setAsActive=true) with the Host, Origin, Sec-Fetch-Site and signature
// of each row, and checks the answer and that a certificate was created exactly when it was
// accepted.
func TestCrossSiteRequests(t *testing.T) {
	e, _ := dataEnv(t, func(c *api.Config) {
		c.Hosts = []string{"devbox.lan", "192.0.2.10:4580", "[2001:db8::7]:443"}
	})
	srvHost := strings.TrimPrefix(e.srv.URL, "http://") // 127.0.0.1:PORT
	_, port, _ := strings.Cut(srvHost, ":")
	const (
		unsigned = iota
		verified // SigV4 with the known key pair: the signature is the proof
		unknown  // SigV4 with an unknown key: accepted unverified, so no proof
	)
	tests := []struct {
		name    string
		host    string // "" leaves 127.0.0.1:PORT
		header  map[string]string
		sig     int
		path    string // "" is the certificate creation
		refused string // "" = accepted; else a text of the 403's message
	}{
		{name: "curl on 127.0.0.1:PORT"},
		{name: "localhost:PORT", host: "localhost:" + port},
		{name: "localhost without port", host: "localhost"},
		{name: "LOCALHOST. any case, trailing dot", host: "LOCALHOST.:" + port},
		{name: "name under .localhost", host: "dev.localhost:" + port},
		{name: "other loopback address", host: "127.5.6.7:9999"},
		{name: "IPv6 loopback", host: "[::1]:" + port},
		{name: "DescribeEndpoint's name", host: testEndpoint + ":8443"},
		{name: "an --endpoint name", host: "DevBox.lan:" + port},
		{name: "a listen address", host: "192.0.2.10:4580"},
		{name: "an IPv6 listen address, other port", host: "[2001:db8::7]:14580"},
		{name: "attacker's name (DNS rebinding)", host: "attacker.example", refused: `Host "attacker.example"`},
		{name: "attacker's name with port", host: "attacker.example:" + port, refused: "--endpoint attacker.example"},
		{name: "localhost as a prefix", host: "localhost.attacker.example:" + port, refused: "is not a name this emulator serves"},
		{name: "an address the emulator does not listen on", host: "10.1.2.3:" + port, refused: `Host "10.1.2.3:` + port + `"`},
		{name: "cross-site form POST", header: map[string]string{"Origin": "http://attacker.example",
			"Content-Type": "application/x-www-form-urlencoded"}, refused: `Origin "http://attacker.example"`},
		{name: "both: rebinding page's POST", host: "attacker.example", header: map[string]string{"Origin": "http://attacker.example"},
			refused: `Host "attacker.example"`},
		{name: "Origin null (sandboxed frame, file: page)", header: map[string]string{"Origin": "null"}, refused: `Origin "null"`},
		{name: "Origin of another port (same site)", header: map[string]string{"Origin": "http://127.0.0.1:1"}, refused: "http://127.0.0.1:" + port},
		{name: "Origin of another name of the same host", header: map[string]string{"Origin": "http://localhost:" + port}, refused: "Origin"},
		{name: "Origin of another scheme", header: map[string]string{"Origin": "https://" + srvHost}, refused: "Origin"},
		{name: "own Origin (a page served by the API)", header: map[string]string{"Origin": "http://" + srvHost}},
		{name: "own Origin, other case", host: "LocalHost:" + port, header: map[string]string{"Origin": "http://localhost:" + port}},
		{name: "Sec-Fetch-Site cross-site", header: map[string]string{"Sec-Fetch-Site": "cross-site"}, refused: "Sec-Fetch-Site is cross-site"},
		{name: "Sec-Fetch-Site same-site", header: map[string]string{"Sec-Fetch-Site": "same-site"}, refused: "Sec-Fetch-Site is same-site"},
		{name: "Sec-Fetch-Site same-origin", header: map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://" + srvHost}},
		{name: "Sec-Fetch-Site none (typed in the address bar)", header: map[string]string{"Sec-Fetch-Site": "none"}},
		{name: "verified signature, foreign Host and Origin", host: "attacker.example", sig: verified,
			header: map[string]string{"Origin": "http://attacker.example", "Sec-Fetch-Site": "cross-site"}},
		{name: "unknown key on a served name", sig: unknown},
		{name: "unknown key, foreign Host (forged by a rebinding page)", host: "attacker.example", sig: unknown, refused: `Host "attacker.example"`},
		{name: "unknown key, foreign Origin", sig: unknown, header: map[string]string{"Origin": "http://attacker.example"}, refused: "Origin"},
		{name: "health answers everyone", path: "/health", host: "attacker.example", header: map[string]string{"Origin": "http://attacker.example"}},
		{name: "root CA answers everyone", path: "/_iotcore/root-ca.pem", host: "iotcore-local:4580"},
		{name: "connections: foreign Host", path: "/_iotcore/connections", host: "attacker.example", refused: `Host "attacker.example"`},
		{name: "connections: foreign Origin", path: "/_iotcore/connections", header: map[string]string{"Origin": "http://attacker.example"}, refused: "Origin"},
		{name: "connections: served name", path: "/_iotcore/connections", host: "localhost:" + port},
		{name: "data plane too", path: "/retainedMessage", host: "attacker.example", refused: `Host "attacker.example"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			method, path, query := http.MethodPost, "/keys-and-certificate", url.Values{"setAsActive": {"true"}}
			if tc.path != "" {
				method, path, query = http.MethodGet, tc.path, nil
			}
			before := certCount(t, e)
			req := e.request(t, method, path, query, []byte("a=b"), nil, sigOpts{})
			if tc.host != "" {
				req.Host = tc.host
			}
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			switch tc.sig {
			case verified:
				signAs(t, req, knownKey, knownSecret, []byte("a=b"))
			case unknown:
				signAs(t, req, "AKIDUNKNOWN", "whatever", []byte("a=b"))
			}
			resp, body := e.send(t, req)
			created := certCount(t, e) - before
			if tc.refused != "" {
				errorShape(t, resp, body, http.StatusForbidden, "ForbiddenException", tc.refused)
				if created != 0 {
					t.Fatalf("refused, yet %d certificate(s) created", created)
				}
				return
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s %s with Host %q: %d %s, want 200", method, path, req.Host, resp.StatusCode, body)
			}
			if tc.path == "" && (created != 1 || !strings.Contains(string(body), "PRIVATE KEY")) {
				t.Fatalf("accepted creation made %d certificate(s): %s", created, body)
			}
		})
	}
}

// TestCrossSiteUnderStrict: under SigV4Strict the connection transcripts need a verified
// signature; a device certificate or an unsigned request from loopback is refused.
func TestCrossSiteUnderStrict(t *testing.T) {
	e, _ := dataEnv(t, func(c *api.Config) { c.SigV4Strict = true })
	resp, body := e.do(t, http.MethodGet, "/_iotcore/connections", "", nil)
	errorShape(t, resp, body, http.StatusForbidden, "MissingAuthenticationTokenException", "/_iotcore/connections")
	req := e.request(t, http.MethodGet, "/_iotcore/connections", nil, nil, nil, sigOpts{})
	signAs(t, req, "AKIDUNKNOWN", "whatever", nil)
	resp, body = e.send(t, req)
	errorShape(t, resp, body, http.StatusForbidden, "UnrecognizedClientException", "")
	req = e.request(t, http.MethodGet, "/_iotcore/connections", nil, nil, nil, sigOpts{})
	req.Host = "attacker.example"
	signAs(t, req, knownKey, knownSecret, nil)
	if resp, body = e.send(t, req); resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), "[") {
		t.Fatalf("verified signature: %d %s", resp.StatusCode, body)
	}
}

// signAs signs req (Host included) for the control plane with the real SDK signer.
func signAs(t *testing.T, req *http.Request, key, secret string, body []byte) {
	t.Helper()
	sum := sha256.Sum256(body)
	err := v4.NewSigner().SignHTTP(t.Context(), aws.Credentials{AccessKeyID: key, SecretAccessKey: secret}, req,
		hex.EncodeToString(sum[:]), "iot", testRegion, time.Now())
	if err != nil {
		t.Fatal(err)
	}
}

// certCount is the number of certificates in the registry.
func certCount(t *testing.T, e *env) int {
	t.Helper()
	certs, _, err := e.reg.ListCertificates("", 250, true)
	if err != nil {
		t.Fatal(err)
	}
	return len(certs)
}
