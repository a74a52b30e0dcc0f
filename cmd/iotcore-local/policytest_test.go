package main

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iotcore-local/iotcore-local/api"
	"github.com/iotcore-local/iotcore-local/pki"
	"github.com/iotcore-local/iotcore-local/registry"
)

// policyTestServer runs the HTTP API over a fresh registry holding one ACTIVE certificate,
// attached to thing dev-1 and to a thing-scoped policy and a Deny. It returns the API's URL and
// the certificate's ID.
func policyTestServer(t *testing.T) (url, certID string) {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	reg, err := registry.Open(filepath.Join(t.TempDir(), "registry.db"), registry.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reg.Close() })
	ca, err := pki.Load(pki.Options{Dir: t.TempDir(), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	policies := map[string]string{
		"things": `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}"},
			{"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:us-east-1:123456789012:topic/things/${iot:Connection.Thing.ThingName}/*"}]}`,
		"deny-secret": `{"Version":"2012-10-17","Statement":[
			{"Effect":"Deny","Action":"iot:Publish","Resource":"arn:aws:iot:us-east-1:123456789012:topic/things/*/secret"}]}`,
		"retain": `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":"iot:RetainPublish","Resource":"*"}]}`,
	}
	for name, doc := range policies {
		if _, err := reg.CreatePolicy(name, doc); err != nil {
			t.Fatal(err)
		}
	}
	dev, err := ca.IssueDevice()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := reg.RegisterCertificate(dev.CertificatePEM, registry.StatusActive, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.CreateThing(registry.CreateThingInput{Name: "dev-1"}); err != nil {
		t.Fatal(err)
	}
	for _, step := range []error{
		reg.AttachPolicy("things", cert.ARN),
		reg.AttachPolicy("deny-secret", cert.ARN),
		reg.AttachThingPrincipal("dev-1", cert.ARN, registry.NonExclusiveThing),
	} {
		if step != nil {
			t.Fatal(step)
		}
	}
	srv := httptest.NewServer(api.New(api.Config{Registry: reg, Issuer: ca, RootCAPEM: ca.RootCAPEM(), Logger: logger}))
	t.Cleanup(srv.Close)
	return srv.URL, cert.ID
}

func TestPolicyTest(t *testing.T) {
	url, certID := policyTestServer(t)
	const prefix = "arn:aws:iot:us-east-1:123456789012:"
	tests := []struct {
		name string
		args []string
		want []string // lines (or parts of lines) of the output, in order
	}{
		{"allowed", []string{"--client-id", "dev-1", "--action", "iot:Publish", "--resource", "topic/things/dev-1/temp"}, []string{
			"ALLOWED  iot:Publish " + prefix + "topic/things/dev-1/temp",
			"  allowed by:            things",
			"  explicitly denied by:  -",
			"  no matching statement: deny-secret",
			`  why: allowed: policy "things" statement 1 allows iot:Publish on ` + prefix + "topic/things/dev-1/temp",
		}},
		{"explicit deny", []string{"--client-id", "dev-1", "--action", "iot:Publish", "--resource", "topic/things/dev-1/secret"}, []string{
			"EXPLICIT_DENY  iot:Publish " + prefix + "topic/things/dev-1/secret",
			"  allowed by:            things",
			"  explicitly denied by:  deny-secret",
			`  why: denied: policy "deny-secret" statement 0 explicitly denies`,
		}},
		{"implicit deny with the nearest candidate", []string{"--client-id", "dev-1", "--action", "iot:publish", "--resource", "topic/things/dev-2/temp"}, []string{
			"IMPLICIT_DENY  iot:Publish " + prefix + "topic/things/dev-2/temp",
			"  no matching statement: deny-secret, things",
			`  why: denied: no statement allows iot:Publish on ` + prefix + "topic/things/dev-2/temp; nearest candidate: policy \"things\" statement 1",
		}},
		{"client ID is not the thing name", []string{"--client-id", "other", "--action", "iot:Connect", "--resource", "client/other"}, []string{
			`note: no thing is bound, so ${iot:Connection.Thing.*} stays unresolved`,
			"IMPLICIT_DENY  iot:Connect " + prefix + "client/other",
		}},
		{"several resources, full ARN, added policy", []string{
			"--client-id", "dev-1", "--action", "iot:RetainPublish", "--add-policy", "retain", "--skip-policy", "deny-secret",
			"--resource", prefix + "topic/things/dev-1/a", "--resource", "topic/b"}, []string{
			"ALLOWED  iot:RetainPublish " + prefix + "topic/things/dev-1/a",
			"  allowed by:            retain",
			"  no matching statement: things",
			"ALLOWED  iot:RetainPublish " + prefix + "topic/b",
		}},
		{"certificate as an ARN, other account for short resources", []string{
			"--cert", prefix + "cert/" + certID, "--client-id", "dev-1", "--account", "999999999999",
			"--action", "iot:Publish", "--resource", "topic/things/dev-1/a"}, []string{
			"IMPLICIT_DENY  iot:Publish arn:aws:iot:us-east-1:999999999999:topic/things/dev-1/a",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--endpoint-url", url}, tc.args...)
			if !strings.Contains(strings.Join(tc.args, " "), "--cert") {
				args = append(args, "--cert", certID)
			}
			var stdout, stderr bytes.Buffer
			if err := policyTest(t.Context(), args, &stdout, &stderr); err != nil {
				t.Fatalf("policyTest: %v\nstderr: %s", err, stderr.String())
			}
			out := stdout.String()
			rest := out
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("output lacks %q (in order):\n%s", w, out)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}

func TestPolicyTestRefusals(t *testing.T) {
	url, certID := policyTestServer(t)
	base := []string{"--endpoint-url", url}
	tests := []struct {
		name  string
		args  []string
		usage bool   // a command-line mistake (exit status 2)
		want  string // in the error
	}{
		{"no certificate", []string{"--action", "iot:Publish", "--resource", "topic/a"}, true, "--cert"},
		{"no action", []string{"--cert", certID, "--resource", "topic/a"}, true, "--action"},
		{"no resource", []string{"--cert", certID, "--action", "iot:Publish"}, true, "--resource"},
		{"unknown action", []string{"--cert", certID, "--action", "iot:Fly", "--resource", "topic/a"}, true, "iot:Fly"},
		{"resource without a type", []string{"--cert", certID, "--action", "iot:Publish", "--resource", "a/b"}, true, `"a/b"`},
		{"positional argument", []string{"extra", "--cert", certID, "--action", "iot:Publish", "--resource", "topic/a"}, true, "policy test takes"},
		{"unknown flag", []string{"--cert", certID, "--bogus"}, true, "bogus"},
		{"unknown certificate", []string{"--cert", strings.Repeat("ab", 32), "--action", "iot:Publish", "--resource", "topic/a"}, false, "ResourceNotFoundException"},
		{"unknown added policy", []string{"--cert", certID, "--add-policy", "nope", "--action", "iot:Publish", "--resource", "topic/a"}, false, "ResourceNotFoundException"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := policyTest(t.Context(), append(base, tc.args...), &stdout, &stderr)
			if err == nil {
				t.Fatalf("no error; output:\n%s", stdout.String())
			}
			if errors.Is(err, errUsage) != tc.usage || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v (usage: %v), want usage %v mentioning %q", err, errors.Is(err, errUsage), tc.usage, tc.want)
			}
		})
	}

	// Eleven resources are more than one TestAuthorization call may ask.
	args := append(base, "--cert", certID, "--action", "iot:Publish")
	for range 11 {
		args = append(args, "--resource", "topic/a")
	}
	if err := policyTest(t.Context(), args, &bytes.Buffer{}, &bytes.Buffer{}); !errors.Is(err, errUsage) {
		t.Fatalf("eleven resources: %v", err)
	}
}
