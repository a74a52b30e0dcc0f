package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// provNodeDir is e2e/node, where `npm ci --prefix e2e/node` installs AWS's device SDK
// (.ci/run does it); the test skips locally without it and fails under CI=true.
func provNodeDir(t *testing.T) string {
	t.Helper()
	needTools(t, "node")
	dir, err := filepath.Abs("node")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "aws-iot-device-sdk-v2")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("aws-iot-device-sdk-v2 is not installed in %s (CI must run npm ci --prefix e2e/node)", dir)
		}
		t.Skip("aws-iot-device-sdk-v2 is not installed; run: npm ci --prefix e2e/node")
	}
	return dir
}

// TestFleetProvisioningWithAWSDeviceSDKForJavaScript runs e2e/node/prov-fleet.js: AWS's
// JavaScript device SDK provisions two devices by claim in JSON (IotIdentityClient:
// CreateKeysAndCertificate + RegisterThing; IotIdentityClientv2: CreateCertificateFromCsr +
// RegisterThing + a reused token refused); then each new certificate connects.
func TestFleetProvisioningWithAWSDeviceSDKForJavaScript(t *testing.T) {
	dir := provNodeDir(t)
	emu, _, claimCert, claimKey := provisioningSetup(t)
	tmp := t.TempDir()
	csrPEM, csrKey := newCSR(t)
	files := map[string]string{"cert.pem": claimCert, "key.pem": claimKey, "ca.pem": string(emu.RootCAPEM()), "device.csr": csrPEM}
	for n, data := range files {
		if err := os.WriteFile(filepath.Join(tmp, n), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join(dir, "prov-fleet.js"))
	cmd.Env = append(os.Environ(),
		"PROV_HOST=localhost", "PROV_PORT="+portOfAddr(emu.MQTTAddr()),
		"PROV_CERT="+filepath.Join(tmp, "cert.pem"), "PROV_KEY="+filepath.Join(tmp, "key.pem"), "PROV_CA="+filepath.Join(tmp, "ca.pem"),
		"PROV_TEMPLATE=fleet", "PROV_CSR="+filepath.Join(tmp, "device.csr"))
	out, err := cmd.CombinedOutput()
	t.Logf("prov-fleet.js:\n%s", out)
	if err != nil {
		t.Fatalf("prov-fleet.js failed: %v", err)
	}
	type result struct {
		CertificatePem, PrivateKey, ThingName string
	}
	var results []result
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "result "); ok {
			var r result
			if err := json.Unmarshal([]byte(rest), &r); err != nil {
				t.Fatalf("result line %q: %v", line, err)
			}
			results = append(results, r)
		}
	}
	if len(results) != 2 || !strings.Contains(string(out), "\ndone") {
		t.Fatalf("want two provisioned devices and done, got %d results", len(results))
	}
	results[1].PrivateKey = ecKeyPEM(t, csrKey)
	for _, r := range results {
		c, err := connectPaho(t, emu.MQTTAddr(), r.ThingName, keyPairTLS(t, emu, r.CertificatePem, r.PrivateKey), nil)
		if err != nil {
			t.Fatalf("%s connects with the certificate the SDK obtained: %v", r.ThingName, err)
		}
		if err := wait(t, c.Publish("things/"+r.ThingName+"/hello", 1, false, "hi")); err != nil {
			t.Fatal(err)
		}
	}
}
