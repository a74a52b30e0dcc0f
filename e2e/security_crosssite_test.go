package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"

	"github.com/iotcore-local/iotcore-local/emulator"
	"github.com/iotcore-local/iotcore-local/listener"
)

// Issue 11, item 3: a web page must not drive the unsigned local API, while curl, the AWS SDK,
// the admin CLI and devices keep working.

// rawAPI sends one request with a plain net/http client, as a browser or curl would put it on
// the wire: Host and the headers given, no signature unless the caller signed req.
func rawAPI(t *testing.T, hc *http.Client, req *http.Request) (int, string) {
	t.Helper()
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s (Host %s): %v", req.Method, req.URL, req.Host, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// formPost is the request a page's <form method=post> to the API makes: no preflight, an
// urlencoded body, the page's Origin, and whatever Host the page's URL named.
func formPost(t *testing.T, url, host, origin string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader("x=1"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if host != "" {
		req.Host = host
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	return req
}

// certificateCount counts the registered certificates through the AWS SDK (verified SigV4).
func certificateCount(t *testing.T, c *iot.Client) int {
	t.Helper()
	out, err := c.ListCertificates(t.Context(), &iot.ListCertificatesInput{PageSize: aws.Int32(250)})
	if err != nil {
		t.Fatalf("ListCertificates: %v", err)
	}
	return len(out.Certificates)
}

// wantRefused checks a 403 ForbiddenException whose message contains each of parts.
func wantRefused(t *testing.T, what string, status int, body string, parts ...string) {
	t.Helper()
	var e struct{ Message string }
	if status != http.StatusForbidden || json.Unmarshal([]byte(body), &e) != nil {
		t.Fatalf("%s: %d %s, want 403 with an AWS error body", what, status, body)
	}
	for _, p := range parts {
		if !strings.Contains(e.Message, p) {
			t.Errorf("%s: message %q does not contain %q", what, e.Message, p)
		}
	}
}

func TestSecurityCrossSiteRequestsRefused(t *testing.T) {
	emu := startEmulator(t, "", func(c *emulator.Config) {
		c.Credentials = map[string]string{sigv4Key: sigv4Secret}
		c.Endpoints = []string{"localhost", "iotcore-local"} // as a compose file would tell it
	})
	api := emu.APIURL()
	apiHost := strings.TrimPrefix(api, "http://")
	_, port, _ := net.SplitHostPort(apiHost)
	create := api + "/keys-and-certificate?setAsActive=true"
	admin := iotClientAt(awsConfig(awsKey(sigv4Key, sigv4Secret), nil), api)
	hc := &http.Client{Timeout: 15 * time.Second}
	before := certificateCount(t, admin)

	// The attack of the issue: a page on attacker.example, rebound to 127.0.0.1, posts a form.
	status, body := rawAPI(t, hc, formPost(t, create, "attacker.example", "http://attacker.example"))
	wantRefused(t, "rebinding page's form POST", status, body, `Host "attacker.example"`, "--endpoint attacker.example")
	status, body = rawAPI(t, hc, formPost(t, create, "attacker.example:"+port, ""))
	wantRefused(t, "rebinding page, no Origin", status, body, `Host "attacker.example:`+port+`"`)
	// The same page without rebinding: the right Host, but its own Origin.
	status, body = rawAPI(t, hc, formPost(t, create, "", "http://attacker.example"))
	wantRefused(t, "cross-site form POST", status, body, `Origin "http://attacker.example"`, "http://"+apiHost)
	req := formPost(t, create, "", "")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	status, body = rawAPI(t, hc, req)
	wantRefused(t, "Sec-Fetch-Site cross-site", status, body, "Sec-Fetch-Site")
	// The connection transcripts and the data plane are refused alike.
	req, _ = http.NewRequestWithContext(t.Context(), http.MethodGet, api+"/_iotcore/connections", nil)
	req.Host = "attacker.example"
	status, body = rawAPI(t, hc, req)
	wantRefused(t, "GET /_iotcore/connections from a rebinding page", status, body, "attacker.example")
	status, body = rawAPI(t, hc, formPost(t, api+"/topics/a?qos=1", "attacker.example", "http://attacker.example"))
	wantRefused(t, "Publish from a rebinding page", status, body, "attacker.example")
	if n := certificateCount(t, admin); n != before {
		t.Fatalf("refused requests created %d certificate(s)", n-before)
	}

	// /health answers everyone (a health check from another container uses the service name).
	req, _ = http.NewRequestWithContext(t.Context(), http.MethodGet, api+"/health", nil)
	req.Host = "attacker.example"
	if status, body := rawAPI(t, hc, req); status != http.StatusOK || !strings.Contains(body, `"ok"`) {
		t.Fatalf("GET /health with a foreign Host: %d %s", status, body)
	}

	// curl-like unsigned requests on the names the emulator serves keep working.
	for _, host := range []string{"", "127.0.0.1:" + port, "localhost:" + port, "localhost", "iotcore-local:" + port} {
		status, body := rawAPI(t, hc, formPost(t, create, host, ""))
		if status != http.StatusOK || !strings.Contains(body, "PRIVATE KEY") {
			t.Fatalf("unsigned CreateKeysAndCertificate with Host %q: %d %s", host, status, body)
		}
	}
	before += 5

	// The AWS SDK: a verified key from anywhere, an unknown key (unverified) on a served name.
	if _, err := admin.CreateKeysAndCertificate(t.Context(), &iot.CreateKeysAndCertificateInput{SetAsActive: true}); err != nil {
		t.Fatalf("SDK CreateKeysAndCertificate (verified key): %v", err)
	}
	anyKey := iotClientAt(awsConfig(awsKey("AKIDSOMEONE", "whatever"), nil), "http://localhost:"+port)
	if _, err := anyKey.CreateKeysAndCertificate(t.Context(), &iot.CreateKeysAndCertificateInput{SetAsActive: true}); err != nil {
		t.Fatalf("SDK CreateKeysAndCertificate (unknown key, localhost): %v", err)
	}
	data := dataClientAt(awsConfig(awsKey(sigv4Key, sigv4Secret), nil), api)
	if _, err := data.Publish(t.Context(), &iotdataplane.PublishInput{Topic: aws.String("a/b"), Payload: []byte("x")}); err != nil {
		t.Fatalf("SDK Publish: %v", err)
	}
	// A verified signature is proof enough whatever the Host and Origin.
	req = formPost(t, create, "attacker.example", "http://attacker.example")
	signRequest(t, req, sigv4Key, sigv4Secret, "x=1")
	if status, body := rawAPI(t, hc, req); status != http.StatusOK {
		t.Fatalf("verified SigV4 with a foreign Host: %d %s", status, body)
	}
	// An unknown key proves nothing: a rebinding page could sign with one.
	req = formPost(t, create, "attacker.example", "")
	signRequest(t, req, "AKIDFORGED", "anything", "x=1")
	status, body = rawAPI(t, hc, req)
	wantRefused(t, "unknown-key SigV4 with a foreign Host", status, body, "attacker.example")
	if n := certificateCount(t, admin); n != before+3 {
		t.Fatalf("%d certificates after the accepted requests, want %d", n, before+3)
	}
}

// signRequest signs req, Host included, for the control plane with the AWS SDK's signer.
func signRequest(t *testing.T, req *http.Request, key, secret, body string) {
	t.Helper()
	signRequestFor(t, req, key, secret, body, "iot")
}

// signRequestFor signs req, Host included, for service with the AWS SDK's signer.
func signRequestFor(t *testing.T, req *http.Request, key, secret, body, service string) {
	t.Helper()
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(t.Context(), aws.Credentials{AccessKeyID: key, SecretAccessKey: secret}, req,
		hex.EncodeToString(sum[:]), service, "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
}

// TestSecurityCrossSiteOnHTTPSPorts: the HTTPS personalities serve the same API with the same
// rule. A device certificate is proof (443 with x-amzn-http-ca, and 8443), whatever the Host; an
// HTTPS request without one (443, no ALPN) is held to the Host and Origin rule.
func TestSecurityCrossSiteOnHTTPSPorts(t *testing.T) {
	emu := startEmulator(t, "")
	pub, err := emu.CreateDevice("sensor-1", httpPublisherPolicy)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		addr string
		tls  *http.Client
	}{
		{"443 x-amzn-http-ca", emu.ALPNAddr(), httpsClientFor(t, tlsConfig(t, pub, listener.ProtocolHTTPCA))},
		{"8443", emu.HTTPSAddr(), httpsClientFor(t, tlsConfig(t, pub))},
	} {
		req := formPost(t, "https://"+c.addr+"/topics/telemetry%2Fsensor-1%2Ftemp", "attacker.example", "http://attacker.example")
		if status, body := rawAPI(t, c.tls, req); status != http.StatusOK {
			t.Fatalf("certificate publish on %s with a foreign Host: %d %s", c.name, status, body)
		}
	}
	noCert := httpsClientFor(t, trustEmulator(t, emu, nil))
	req := formPost(t, "https://"+emu.ALPNAddr()+"/keys-and-certificate?setAsActive=true", "attacker.example", "")
	status, body := rawAPI(t, noCert, req)
	wantRefused(t, "443 without a certificate, foreign Host", status, body, `Host "attacker.example"`)
	req = formPost(t, "https://"+emu.ALPNAddr()+"/keys-and-certificate?setAsActive=true", "", "http://attacker.example")
	status, body = rawAPI(t, noCert, req)
	wantRefused(t, "443 without a certificate, foreign Origin", status, body, `Origin "http://attacker.example"`)
	certs, _, err := emu.Registry().ListCertificates("", 250, true)
	if err != nil || len(certs) != 1 {
		t.Fatalf("certificates after the refused HTTPS requests: %d (%v), want only the device's", len(certs), err)
	}
	req, _ = http.NewRequestWithContext(t.Context(), http.MethodGet, "https://"+emu.ALPNAddr()+"/certificates", nil)
	req.Host = "localhost"
	if status, body := rawAPI(t, noCert, req); status != http.StatusOK {
		t.Fatalf("443 without a certificate, Host localhost: %d %s", status, body)
	}
}

// TestSecurityStrictConnections: under --sigv4-strict the connection transcripts (client ids,
// certificate ids, addresses) need a verified signature; /health still answers everyone.
func TestSecurityStrictConnections(t *testing.T) {
	emu := startEmulator(t, "", func(c *emulator.Config) {
		c.SigV4Strict = true
		c.Credentials = map[string]string{sigv4Key: sigv4Secret}
	})
	hc := &http.Client{Timeout: 15 * time.Second}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, emu.APIURL()+"/_iotcore/connections", nil)
	status, body := rawAPI(t, hc, req)
	if status != http.StatusForbidden || !strings.Contains(body, "--sigv4-strict") {
		t.Fatalf("unsigned GET /_iotcore/connections under --sigv4-strict: %d %s", status, body)
	}
	req, _ = http.NewRequestWithContext(t.Context(), http.MethodGet, emu.APIURL()+"/_iotcore/connections", nil)
	signRequest(t, req, sigv4Key, sigv4Secret, "")
	if status, body := rawAPI(t, hc, req); status != http.StatusOK || !json.Valid([]byte(body)) {
		t.Fatalf("signed GET /_iotcore/connections: %d %s", status, body)
	}
	req, _ = http.NewRequestWithContext(t.Context(), http.MethodGet, emu.APIURL()+"/health", nil)
	if status, body := rawAPI(t, hc, req); status != http.StatusOK {
		t.Fatalf("GET /health under --sigv4-strict: %d %s", status, body)
	}
}

// TestSecurityCLIStillWorks: the admin CLI (it signs with the SDK, with a key the emulator does
// not know) works against the API by 127.0.0.1 and by localhost.
func TestSecurityCLIStillWorks(t *testing.T) {
	emu := startEmulator(t, "")
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(emu.APIURL(), "http://"))
	policy := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(policy, []byte(thingPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	for i, url := range []string{emu.APIURL(), "http://localhost:" + port} {
		thing := []string{"cli-a", "cli-b"}[i]
		steps := [][]string{
			{"thing", "create", thing},
			{"policy", "create", thing + "-policy", "--document", policy},
			{"cert", "create", "--thing", thing, "--policy", thing + "-policy", "--out", filepath.Join(t.TempDir(), thing)},
		}
		for _, args := range steps {
			out, errOut, code := runBinary(t, append(args, "--endpoint-url", url)...)
			if code != 0 {
				t.Fatalf("iotcore-local %s --endpoint-url %s: exit %d\n%s%s", strings.Join(args, " "), url, code, out, errOut)
			}
		}
	}
}
