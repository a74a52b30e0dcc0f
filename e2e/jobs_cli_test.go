package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iotcore-local/iotcore-local/emulator"
	"github.com/iotcore-local/iotcore-local/jobs"
)

const jobsSeedYAML = `
things:
  - name: seed-dev
jobs:
  - jobId: seed-job
    targets: [seed-dev]
    description: from the seed
    document:
      operation: install
      url: https://example.com/fw.bin
`

// TestSeedFileDeclaresJobs: a seed file's jobs are created once, kept across restarts with the
// jobs' state, and a bad job entry is refused naming it.
func TestSeedFileDeclaresJobs(t *testing.T) {
	dir := t.TempDir()
	seed := filepath.Join(dir, "seed.yaml")
	if err := os.WriteFile(seed, []byte(jobsSeedYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	withSeed := func(c *emulator.Config) { c.SeedFile = seed }
	emu := startEmulator(t, state, withSeed)
	j, err := emu.Jobs().DescribeJob("seed-job")
	if err != nil || j.Description != "from the seed" || !strings.Contains(j.Document, `"operation":"install"`) {
		t.Fatalf("seeded job: %+v %v", j, err)
	}
	if _, _, err := emu.Jobs().StartNext("seed-dev", jobs.StartNextInput{}); err != nil {
		t.Fatal(err)
	}
	closeWithin(t, emu, 15*time.Second)
	emu = startEmulator(t, state, withSeed)
	e, _, err := emu.Jobs().DescribeExecution("seed-job", "seed-dev", 0)
	if err != nil || e.Status != jobs.InProgress || e.VersionNumber != 2 {
		t.Fatalf("after a restart: %+v %v", e, err)
	}

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("jobs:\n  - jobId: x\n    targets: [seed-dev]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := emu.ApplySeedFile(t.Context(), bad); err == nil || !strings.Contains(err.Error(), "jobs[0] (x).document: required") {
		t.Fatalf("bad seed job: %v", err)
	}
}

// TestJobCLI drives the job verbs of the built command against serve.
func TestJobCLI(t *testing.T) {
	s := startServe(t)
	if out, errOut, code := s.cli(t, "thing", "create", "cli-dev"); code != 0 {
		t.Fatalf("thing create: %s %s", out, errOut)
	}
	doc := filepath.Join(t.TempDir(), "doc.json")
	if err := os.WriteFile(doc, []byte(`{"operation":"reboot"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := s.cli(t, "job", "create", "cli-job", "--target", "cli-dev", "--document", doc, "--description", "via the CLI", "--rate", "10")
	var created map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &created) != nil || created["jobId"] != "cli-job" {
		t.Fatalf("job create: %d %s %s", code, out, errOut)
	}
	out, _, code = s.cli(t, "job", "list")
	if code != 0 || !strings.Contains(out, `"jobId": "cli-job"`) {
		t.Fatalf("job list: %d %s", code, out)
	}
	out, _, code = s.cli(t, "job", "describe", "cli-job")
	if code != 0 || !strings.Contains(out, `"numberOfQueuedThings": 1`) || !strings.Contains(out, `"maximumPerMinute": 10`) {
		t.Fatalf("job describe: %d %s", code, out)
	}
	out, _, code = s.cli(t, "job", "describe", "cli-job", "--thing", "cli-dev")
	if code != 0 || !strings.Contains(out, `"status": "QUEUED"`) {
		t.Fatalf("job describe --thing: %d %s", code, out)
	}
	if out, errOut, code = s.cli(t, "job", "cancel", "cli-job", "--reason-code", "TEST"); code != 0 {
		t.Fatalf("job cancel: %d %s %s", code, out, errOut)
	}
	out, _, _ = s.cli(t, "job", "list", "--status", "CANCELED")
	if !strings.Contains(out, `"cli-job"`) {
		t.Fatalf("canceled job not listed: %s", out)
	}
	// Mistakes: usage (2) and API errors (1), each named.
	if _, errOut, code = s.cli(t, "job", "create", "x", "--document-json", "{}"); code != 2 || !strings.Contains(errOut, "--target") {
		t.Fatalf("create without target: %d %s", code, errOut)
	}
	if _, errOut, code = s.cli(t, "job", "create", "x", "--target", "cli-dev", "--document-json", "{nope"); code != 2 || !strings.Contains(errOut, "not valid JSON") {
		t.Fatalf("create with a bad document: %d %s", code, errOut)
	}
	if _, errOut, code = s.cli(t, "job", "describe", "missing"); code != 1 || !strings.Contains(errOut, "ResourceNotFoundException") {
		t.Fatalf("describe missing: %d %s", code, errOut)
	}
	if _, errOut, code = s.cli(t, "job", "create", "y", "--target", "nobody", "--document-json", "{}"); code != 1 || !strings.Contains(errOut, "ResourceNotFoundException") {
		t.Fatalf("create for a missing thing: %d %s", code, errOut)
	}
}
