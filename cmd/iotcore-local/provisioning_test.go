package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iotcore-local/iotcore-local/emulator"
)

func TestProvisioningVerbs(t *testing.T) {
	dir := t.TempDir()
	cfg := emulator.TestConfig(dir)
	cfg.Logger = slog.New(slog.DiscardHandler)
	emu, err := emulator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := emu.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	runProv := func(args ...string) (string, error) {
		var stdout, stderr bytes.Buffer
		err := provisioningCmd(t.Context(), append(args, "--endpoint-url", emu.APIURL()), &stdout, &stderr)
		return stdout.String(), err
	}
	body := filepath.Join(dir, "template.json")
	if err := os.WriteFile(body, []byte(`{"Parameters":{"SerialNumber":{"Type":"String"}},"Resources":{"thing":{"Type":"AWS::IoT::Thing","Properties":{"ThingName":{"Ref":"SerialNumber"}}}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runProv("template", "create", "factory", "--body", body, "--enabled", "--description", "line 1")
	if err != nil || !strings.Contains(out, `"templateArn": "arn:aws:iot:us-east-1:123456789012:provisioningtemplate/factory"`) {
		t.Fatalf("template create: %q %v", out, err)
	}
	out, err = runProv("template", "list")
	if err != nil || !strings.Contains(out, `"templateName": "factory"`) || !strings.Contains(out, `"enabled": true`) {
		t.Fatalf("template list: %q %v", out, err)
	}
	out, err = runProv("template", "describe", "factory")
	if err != nil || !strings.Contains(out, `"type": "FLEET_PROVISIONING"`) || !strings.Contains(out, `SerialNumber`) {
		t.Fatalf("template describe: %q %v", out, err)
	}
	claimDir := filepath.Join(dir, "claim")
	out, err = runProv("claim", "create", "factory", "--out", claimDir)
	if err != nil || !strings.Contains(out, `"certificateId"`) || !strings.Contains(out, `"expiration"`) {
		t.Fatalf("claim create: %q %v", out, err)
	}
	for _, f := range []string{"certificate.pem.crt", "private.pem.key", "root-ca.pem"} {
		if _, err := os.Stat(filepath.Join(claimDir, f)); err != nil {
			t.Errorf("claim file %s: %v", f, err)
		}
	}
	// A bad template is refused with the field named; bad usage is a usage error.
	if err := os.WriteFile(body, []byte(`{"Resources":{"thing":{"Type":"AWS::IoT::Thingy"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := runProv("template", "create", "bad", "--body", body); err == nil || !strings.Contains(err.Error(), "Resources.thing.Type") {
		t.Errorf("bad template: %v", err)
	}
	if _, err := runProv("template", "create", "nobody"); !errors.Is(err, errUsage) {
		t.Errorf("missing --body: %v", err)
	}
	if _, err := runProv("claim", "create", "missing", "--out", claimDir); err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") {
		t.Errorf("claim for a missing template: %v", err)
	}
}
