package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"

	"github.com/iotcore-local/iotcore-local/emulator"
)

// TestRuleCLI: "rule test" evaluates SQL without a broker; "rule create" (flags and
// --document), seed-file rules and "rule activity" work against a running serve.
func TestRuleCLI(t *testing.T) {
	out, errOut, code := runBinary(t, "rule", "test", "--sql", "SELECT temp, topic(2) AS device FROM 'sensors/+/data' WHERE temp > 30",
		"--topic", "sensors/s9/data", "--payload", `{"temp": 31}`)
	if code != 0 || strings.TrimSpace(out) != `{"temp":31,"device":"s9"}` {
		t.Fatalf("rule test: %d %q %q", code, out, errOut)
	}
	out, _, code = runBinary(t, "rule", "test", "--sql", "SELECT temp FROM 'sensors/+/data' WHERE temp > 30",
		"--topic", "sensors/s9/data", "--payload", `{"temp": 3}`)
	if code != 0 || out != "" {
		t.Fatalf("rule test with WHERE false: %d %q", code, out)
	}
	out, _, code = runBinary(t, "rule", "test", "--sql", "SELECT clientid() AS c FROM '#'", "--topic", "x", "--payload", `{}`, "--client-id", "dev-7")
	if code != 0 || strings.TrimSpace(out) != `{"c":"dev-7"}` {
		t.Fatalf("rule test --client-id: %d %q", code, out)
	}
	_, errOut, code = runBinary(t, "rule", "test", "--sql", "SELECT x\nFROM 'a' WHERE nosuch(x)", "--topic", "a", "--payload", `{}`)
	if code == 0 || !strings.Contains(errOut, "2:16") || !strings.Contains(errOut, "unknown function nosuch") {
		t.Fatalf("rule test with a bad function: %d %q", code, errOut)
	}

	dir := t.TempDir()
	seed := filepath.Join(dir, "seed.yaml")
	if err := os.WriteFile(seed, []byte(`rules:
  - name: seeded
    sql: "SELECT v FROM 'seed/in'"
    awsIotSqlVersion: "2016-03-23"
    actions:
      - republish: {roleArn: "arn:aws:iam::123456789012:role/r", topic: "seed/out"}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, "--seed", seed)
	out, errOut, code = s.cli(t, "rule", "create", "from_flags", "--sql", "SELECT v * 2 AS doubled FROM 'cli/in'", "--republish", "cli/out/${topic(2)}")
	if code != 0 || !strings.Contains(out, "created") {
		t.Fatalf("rule create: %d %q %q", code, out, errOut)
	}
	doc := filepath.Join(dir, "rule.json")
	os.WriteFile(doc, []byte(`{"sql": "SELECT * FROM 'doc/in'", "actions": [{"republish": {"roleArn": "arn:aws:iam::123456789012:role/r", "topic": "doc/out"}}]}`), 0o600)
	if out, errOut, code = s.cli(t, "rule", "create", "from_doc", "--document", doc); code != 0 {
		t.Fatalf("rule create --document: %d %q %q", code, out, errOut)
	}
	_, errOut, code = s.cli(t, "rule", "create", "bad", "--sql", "SELECT FROM 'x'")
	if code == 0 || !strings.Contains(errOut, "SqlParseException") || !strings.Contains(errOut, "1:8") {
		t.Fatalf("rule create with bad SQL: %d %q", code, errOut)
	}
	out, _, code = s.cli(t, "rule", "list")
	if code != 0 || !strings.Contains(out, `"seeded"`) || !strings.Contains(out, `"from_flags"`) || !strings.Contains(out, `"from_doc"`) {
		t.Fatalf("rule list: %d %q", code, out)
	}
	out, _, _ = s.cli(t, "rule", "get", "from_doc")
	if !strings.Contains(out, `"awsIotSqlVersion": "2015-10-08"`) {
		t.Fatalf("a rule without awsIotSqlVersion runs 2015-10-08: %s", out)
	}

	data := iotdataplane.NewFromConfig(awsConfig(awsKey(sigv4Key, sigv4Secret), nil), func(o *iotdataplane.Options) { o.BaseEndpoint = aws.String("http://" + s.api) })
	for _, topic := range []string{"cli/in", "seed/in"} {
		if _, err := data.Publish(context.Background(), &iotdataplane.PublishInput{Topic: aws.String(topic), Payload: []byte(`{"v": 21}`)}); err != nil {
			t.Fatal(err)
		}
	}
	for rule, want := range map[string]string{"from_flags": `{"doubled":42}`, "seeded": `{"v":21}`} {
		var act ruleActivity
		waitUntil(t, "activity of "+rule, func() bool {
			out, _, _ := s.cli(t, "rule", "activity", rule)
			json.Unmarshal([]byte(out), &act)
			return len(act.Evaluations) > 0
		})
		e := act.Evaluations[0]
		var compact bytes.Buffer
		json.Compact(&compact, e.Result)
		if compact.String() != want || len(e.Actions) != 1 || !e.Actions[0].OK {
			t.Fatalf("activity of %s: %+v", rule, act)
		}
	}
}

// TestSeedRulesAreCheckedFirst: a seed file with a bad rule is refused before anything is
// applied, naming the rule, the member and the position.
func TestSeedRulesAreCheckedFirst(t *testing.T) {
	dir := t.TempDir()
	seed := filepath.Join(dir, "seed.yaml")
	os.WriteFile(seed, []byte(`policies:
  - name: p1
    document: {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}]}
rules:
  - name: good
    sql: "SELECT * FROM 'a'"
    actions: []
  - name: bad
    sql: "SELECT * FROM 'a' WHERE x >"
    actions: []
  - name: worse
    sql: "SELECT * FROM 'a'"
    actions: [{republish: {roleArn: "r"}}]
`), 0o600)
	cfg := testConfig(t, filepath.Join(dir, "state"))
	cfg.SeedFile = seed
	emu, err := emulator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = emu.Start(context.Background())
	emu.Close()
	if err == nil || !strings.Contains(err.Error(), "rules[1] (bad)") || !strings.Contains(err.Error(), "1:28") ||
		!strings.Contains(err.Error(), "rules[2] (worse)") || !strings.Contains(err.Error(), "actions[0].republish.topic is required") {
		t.Fatalf("Start: %v", err)
	}
	// Nothing was applied: a start without the bad rules has no policy p1 from before.
	cfg.SeedFile = ""
	emu2, err := emulator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := emu2.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer emu2.Close()
	if _, err := emu2.Registry().GetPolicy("p1"); err == nil {
		t.Fatal("policy p1 was created although the seed was refused")
	}
	if _, err := emu2.Rules().GetRule("good"); err == nil {
		t.Fatal("rule good was created although the seed was refused")
	}
}
