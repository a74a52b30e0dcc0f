package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
)

// certCount is how many certificates the emulator's registry holds.
func (s *server) certCount(t *testing.T) int {
	t.Helper()
	c := iotClientAt(awsConfig(awsKey("x", "y"), nil), "http://"+s.api)
	n := 0
	pager := iot.NewListCertificatesPaginator(c, &iot.ListCertificatesInput{})
	for pager.HasMorePages() {
		page, err := pager.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		n += len(page.Certificates)
	}
	return n
}

// thingPrincipals lists the principals attached to a thing.
func (s *server) thingPrincipals(t *testing.T, thing string) []string {
	t.Helper()
	c := iotClientAt(awsConfig(awsKey("x", "y"), nil), "http://"+s.api)
	out, err := c.ListThingPrincipals(context.Background(), &iot.ListThingPrincipalsInput{ThingName: aws.String(thing)})
	if err != nil {
		t.Fatal(err)
	}
	return out.Principals
}

// TestCertCreateIsAllOrNothing (issue 11, items 4 and 10): a cert create that cannot finish
// leaves no certificate, no attachment and no key behind and prints no id; an --out folder
// holding an earlier device's files is not overwritten without --force.
func TestCertCreateIsAllOrNothing(t *testing.T) {
	s := startServe(t, "--demo=false")
	policyFile := filepath.Join(s.dir, "policy.json")
	if err := os.WriteFile(policyFile, []byte(devicePolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := s.cli(t, "policy", "create", "lab-policy", "--document", policyFile); code != 0 {
		t.Fatalf("policy create: %d %s", code, errOut)
	}
	if _, errOut, code := s.cli(t, "thing", "create", "lab-1"); code != 0 {
		t.Fatalf("thing create: %d %s", code, errOut)
	}

	t.Run("unknown thing", func(t *testing.T) {
		dir := filepath.Join(s.dir, "nosuch")
		out, errOut, code := s.cli(t, "cert", "create", "--thing", "nosuch", "--policy", "lab-policy", "--out", dir)
		if code != 1 || out != "" || !strings.Contains(errOut, "thing nosuch does not exist") {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		if _, err := os.Stat(dir); err == nil {
			t.Fatal("the --out folder was left on disk")
		}
		if n := s.certCount(t); n != 0 {
			t.Fatalf("%d certificates registered after the failed cert create", n)
		}
	})
	t.Run("unknown policy", func(t *testing.T) {
		out, errOut, code := s.cli(t, "cert", "create", "--thing", "lab-1", "--policy", "nosuch-policy", "--out", filepath.Join(s.dir, "np"))
		if code != 1 || out != "" || !strings.Contains(errOut, "policy nosuch-policy does not exist") {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		if n, p := s.certCount(t), s.thingPrincipals(t, "lab-1"); n != 0 || len(p) != 0 {
			t.Fatalf("%d certificates, principals %v after the failed cert create", n, p)
		}
	})
	t.Run("failure after the certificate was made is rolled back", func(t *testing.T) {
		// A folder where the private key should go makes the last step, writing the files, fail.
		dir := filepath.Join(s.dir, "blocked")
		if err := os.MkdirAll(filepath.Join(dir, "private.pem.key", "x"), 0o700); err != nil {
			t.Fatal(err)
		}
		out, errOut, code := s.cli(t, "cert", "create", "--thing", "lab-1", "--policy", "lab-policy", "--out", dir, "--force")
		if code != 1 || out != "" || !strings.Contains(errOut, "deleted again") {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		if n, p := s.certCount(t), s.thingPrincipals(t, "lab-1"); n != 0 || len(p) != 0 {
			t.Fatalf("%d certificates, principals %v after the rolled-back cert create", n, p)
		}
	})

	dir := filepath.Join(s.dir, "lab-1")
	first, errOut, code := s.cli(t, "cert", "create", "--thing", "lab-1", "--policy", "lab-policy", "--out", dir)
	if code != 0 || len(strings.TrimSpace(first)) != 64 {
		t.Fatalf("cert create: %d %q %s", code, first, errOut)
	}
	key, _ := os.ReadFile(filepath.Join(dir, "private.pem.key"))
	t.Run("existing files need --force", func(t *testing.T) {
		out, errOut, code := s.cli(t, "cert", "create", "--thing", "lab-1", "--policy", "lab-policy", "--out", dir)
		if code != 1 || out != "" || !strings.Contains(errOut, "certificate.pem.crt") || !strings.Contains(errOut, "private.pem.key") || !strings.Contains(errOut, "--force") {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		if now, _ := os.ReadFile(filepath.Join(dir, "private.pem.key")); !bytes.Equal(now, key) {
			t.Fatal("the private key was overwritten")
		}
		if n := s.certCount(t); n != 1 {
			t.Fatalf("%d certificates, want 1", n)
		}
	})
	t.Run("--force replaces and names the earlier certificate", func(t *testing.T) {
		out, errOut, code := s.cli(t, "cert", "create", "--thing", "lab-1", "--policy", "lab-policy", "--out", dir, "--force")
		if code != 0 || len(strings.TrimSpace(out)) != 64 || !strings.Contains(errOut, strings.TrimSpace(first)) {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		if now, _ := os.ReadFile(filepath.Join(dir, "private.pem.key")); bytes.Equal(now, key) {
			t.Fatal("the private key was not replaced")
		}
	})
}

// TestPolicyCreateNewcomer (issue 11, items 10 and 13): policy create is idempotent for the same
// document and explains a different one; unknown iot: actions are accepted with a warning, also
// in policy test; a JSON syntax error names line and column.
func TestPolicyCreateNewcomer(t *testing.T) {
	s := startServe(t, "--demo=false")
	write := func(name, doc string) string {
		p := filepath.Join(s.dir, name)
		if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	same := write("same.json", devicePolicy)
	reformatted := write("reformatted.json", strings.ReplaceAll(devicePolicy, "\n", "\n\n  "))
	if _, errOut, code := s.cli(t, "policy", "create", "lab-policy", "--document", same); code != 0 {
		t.Fatalf("policy create: %d %s", code, errOut)
	}
	out, errOut, code := s.cli(t, "policy", "create", "lab-policy", "--document", reformatted)
	if code != 0 || !strings.Contains(out, "lab-policy") || !strings.Contains(errOut, "nothing changed") {
		t.Fatalf("same document again: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	other := write("other.json", strings.Replace(devicePolicy, "lab/*", "other/*", 1))
	_, errOut, code = s.cli(t, "policy", "create", "lab-policy", "--document", other)
	if code != 1 || !strings.Contains(errOut, "different document") || !strings.Contains(errOut, "create-policy-version") {
		t.Fatalf("different document: exit %d, stderr %q", code, errOut)
	}

	typo := write("typo.json", `{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":"iot:Connect","Resource":"*"},
 {"Effect":"Allow","Action":"iot:Publsh","Resource":"*"}]}`)
	out, errOut, code = s.cli(t, "policy", "create", "typo-policy", "--document", typo)
	if code != 0 || !strings.Contains(out, "typo-policy") || !strings.Contains(errOut, "warning") || !strings.Contains(errOut, `did you mean "iot:Publish"?`) {
		t.Fatalf("typo policy: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	broken := write("broken.json", "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\"Effect\": \"Allow\" \"Action\": \"iot:*\", \"Resource\": \"*\"}\n  ]\n}")
	_, errOut, code = s.cli(t, "policy", "create", "broken", "--document", broken)
	if code != 1 || !strings.Contains(errOut, "line 4, column 24") || !strings.Contains(errOut, "broken.json") {
		t.Fatalf("broken JSON: exit %d, stderr %q", code, errOut)
	}
	// Any client of CreatePolicy gets the position too.
	brokenDoc, _ := os.ReadFile(broken)
	_, err := iotClientAt(awsConfig(awsKey("x", "y"), nil), "http://"+s.api).CreatePolicy(context.Background(),
		&iot.CreatePolicyInput{PolicyName: aws.String("broken"), PolicyDocument: aws.String(string(brokenDoc))})
	if err == nil || !strings.Contains(err.Error(), "MalformedPolicyException") || !strings.Contains(err.Error(), "line 4, column 24") {
		t.Fatalf("CreatePolicy with broken JSON: %v", err)
	}

	if _, errOut, code := s.cli(t, "thing", "create", "dev-1"); code != 0 {
		t.Fatalf("thing create: %s", errOut)
	}
	certOut, errOut, code := s.cli(t, "cert", "create", "--thing", "dev-1", "--policy", "typo-policy", "--out", filepath.Join(s.dir, "dev-1"))
	if code != 0 {
		t.Fatalf("cert create: %s", errOut)
	}
	out, errOut, code = s.cli(t, "policy", "test", "--cert", strings.TrimSpace(certOut), "--action", "iot:Publish", "--resource", "topic/a")
	if code != 0 || !strings.Contains(out, "IMPLICIT_DENY") || !strings.Contains(errOut, "warning: policy typo-policy") || !strings.Contains(errOut, "iot:Publsh") {
		t.Fatalf("policy test: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestBenchProvisionKeepsItsFleet (issue 11, item 17): two "bench connect --provision" runs
// without --devices register one fleet, kept in the default state folder of the working
// directory, not two.
func TestBenchProvisionKeepsItsFleet(t *testing.T) {
	s := startServe(t, "--demo=false")
	work := t.TempDir()
	for run := 1; run <= 2; run++ {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		cmd := exec.CommandContext(ctx, binary(t), "bench", "connect", "--provision", "http://"+s.api, "--target", s.mqtt, "-n", "3", "--quiet")
		cmd.Dir = work
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("run %d: %v\n%s", run, err, out)
		}
		if !strings.Contains(string(out), "bench-devices.json") {
			t.Fatalf("run %d does not say where the devices are kept:\n%s", run, out)
		}
		if n := s.certCount(t); n != 3 {
			t.Fatalf("after run %d the emulator holds %d certificates, want 3\n%s", run, n, out)
		}
	}
	if _, err := os.Stat(filepath.Join(work, ".iotcore-local", "bench-devices.json")); err != nil {
		t.Fatalf("fleet file: %v", err)
	}
}

// TestReadOnlyDataFolder (issue 11, item 14): serve on a data folder it cannot write says so and
// names --data, instead of blaming another process. As root (which writes anywhere) the binary
// runs as the unprivileged user nobody.
func TestReadOnlyDataFolder(t *testing.T) {
	base, err := os.MkdirTemp("", "iotcore-local-ro-") // t.TempDir's parent is closed to others
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	data := filepath.Join(base, "state")
	if err := os.Mkdir(data, 0o555); err != nil {
		t.Fatal(err)
	}
	bin := binary(t)
	cmd := exec.Command(bin, "serve", "--data", data, "--mqtt-addr", "127.0.0.1:0", "--alpn-addr", "127.0.0.1:0", "--https-addr", "127.0.0.1:0", "--api-addr", "127.0.0.1:0")
	if os.Geteuid() == 0 {
		// nobody must reach the binary and the folder: copy the binary into a world-readable place.
		if err := os.Chmod(base, 0o755); err != nil {
			t.Fatal(err)
		}
		shared := filepath.Join(base, "iotcore-local")
		b, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(shared, b, 0o755); err != nil {
			t.Fatal(err)
		}
		cmd.Path, cmd.Args[0] = shared, shared
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("serve started on a read-only data folder:\n%s", out)
	}
	if !strings.Contains(string(out), "not writable") || !strings.Contains(string(out), "--data") || strings.Contains(string(out), "another process") {
		t.Fatalf("serve on a read-only data folder said:\n%s", out)
	}
}
