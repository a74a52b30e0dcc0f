package auth

import (
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// policyFixtures is where the example policies live, shared with other packages' tests.
const policyFixtures = "../testdata/policies"

func readFixture(t testing.TB, name string) *Document {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(policyFixtures, name))
	if err != nil {
		t.Fatal(err)
	}
	return mustParse(t, string(data))
}

// TestExamplePolicies evaluates the AWS-style example policies of testdata/policies. Every
// fixture must have checks here.
func TestExamplePolicies(t *testing.T) {
	noThing := testEnv()
	noThing.ThingName, noThing.ThingTypeName, noThing.ThingAttributes = "", "", nil
	otherRegion := testEnv()
	otherRegion.Region, otherRegion.Account = "eu-west-1", "210987654321"

	type fixtureCase struct {
		env    Environment
		checks []check
	}
	p := "p" // checks name the policy after the fixture file; filled in below
	fixtures := map[string][]fixtureCase{
		"thing-scoped.json": {
			{testEnv(), []check{
				{ActionConnect, "client", "dev1", true, p, 0},
				{ActionConnect, "client", "dev2", false, "", -1},
				{ActionPublish, "topic", "things/dev1/telemetry", true, p, 1},
				{ActionPublish, "topic", "things/dev2/telemetry", false, "", -1},
				{ActionPublish, "topic", "things/dev1", false, "", -1},
				{ActionSubscribe, "topicfilter", "things/dev1/#", true, p, 2},
				{ActionSubscribe, "topicfilter", "things/+/telemetry", false, "", -1},
				{ActionReceive, "topic", "things/dev1/cmd", true, p, 3},
				{ActionRetainPublish, "topic", "things/dev1/telemetry", false, "", -1},
			}},
			{noThing, []check{ // a certificate with no thing attached can do nothing
				{ActionConnect, "client", "dev1", false, "", -1},
				{ActionPublish, "topic", "things/dev1/telemetry", false, "", -1},
			}},
		},
		"client-id-scoped.json": {
			{testEnv(), []check{
				{ActionConnect, "client", "dev1", true, p, 0},
				{ActionConnect, "client", "other", false, "", -1},
				{ActionPublish, "topic", "clients/dev1/up", true, p, 1},
				{ActionReceive, "topic", "clients/dev1/down", true, p, 1},
				{ActionReceive, "topic", "clients/dev2/down", false, "", -1},
				{ActionSubscribe, "topicfilter", "clients/dev1/+", true, p, 2},
			}},
			{noThing, []check{ // the client ID does not need a thing
				{ActionConnect, "client", "dev1", true, p, 0},
			}},
		},
		"deny-subtopic.json": {
			{testEnv(), []check{
				{ActionConnect, "client", "anyone", true, p, 0},
				{ActionPublish, "topic", "factory/line1/temp", true, p, 1},
				{ActionPublish, "topic", "factory/restricted/valve", false, p, 3},
				{ActionReceive, "topic", "factory/restricted/valve", false, p, 3},
				{ActionPublish, "topic", "factory/restricted", true, p, 1}, // the Deny needs something after restricted/
				{ActionSubscribe, "topicfilter", "factory/#", true, p, 2},  // a Deny on topics does not stop a wildcard filter...
				{ActionSubscribe, "topicfilter", "factory/restricted/#", true, p, 2},
			}},
		},
		"mqtt-wildcard-filters.json": {
			{testEnv(), []check{
				{ActionSubscribe, "topicfilter", "sensors/+/temperature", true, p, 0},
				{ActionSubscribe, "topicfilter", "sensors/kitchen/temperature", false, "", -1},
				{ActionSubscribe, "topicfilter", "alerts/#", true, p, 0},
				{ActionSubscribe, "topicfilter", "alerts/fire", false, "", -1},
				{ActionReceive, "topic", "sensors/kitchen/temperature", true, p, 1},
				{ActionReceive, "topic", "sensors/a/b/temperature", true, p, 1},
				{ActionReceive, "topic", "sensors/kitchen/humidity", false, "", -1},
			}},
		},
		"thing-attributes.json": {
			{testEnv(), []check{
				{ActionConnect, "client", "dev1", true, p, 0},
				{ActionPublish, "topic", "sites/plant-7/sensor/readings", true, p, 1},
				{ActionPublish, "topic", "sites/plant-8/sensor/readings", false, "", -1},
				{ActionReceive, "topic", "attached/true", true, p, 1},
			}},
			{otherRegion, []check{ // region and account are wildcards in this policy
				{ActionConnect, "client", "dev1", true, p, 0},
			}},
		},
		"retain-and-shadow.json": {
			{testEnv(), []check{
				{ActionConnect, "client", "dev1", true, p, 0},
				{ActionPublish, "topic", "$aws/things/dev1/shadow/update", true, p, 0},
				{ActionRetainPublish, "topic", "$aws/things/dev1/shadow/update", true, p, 0},
				{ActionSubscribe, "topicfilter", "$aws/things/dev1/shadow/update/accepted", true, p, 0},
				{ActionPublish, "topic", "$aws/things/dev2/shadow/update", false, "", -1},
				{"iot:GetThingShadow", "thing", "dev1", true, p, 0},
				{"iot:DeleteThingShadow", "thing", "dev1", false, "", -1},
			}},
			{otherRegion, []check{ // the ARNs name us-east-1 and account 123456789012
				{ActionConnect, "client", "dev1", false, "", -1},
			}},
		},
		"allow-all.json": {
			{testEnv(), []check{
				{ActionConnect, "client", "x", true, p, 0},
				{ActionRetainPublish, "topic", "$aws/anything", true, p, 0},
				{"iot:UpdateThingShadow", "thing", "x", true, p, 0},
			}},
		},
		"not-action.json": {
			{testEnv(), []check{
				{ActionConnect, "client", "x", true, p, 0},
				{ActionPublish, "topic", "secret/x", true, p, 0},
				{ActionReceive, "topic", "news", true, p, 1},
				{ActionReceive, "topic", "secret/x", false, "", -1},
			}},
			{otherRegion, []check{ // NotResource of another account excludes nothing; Resource of another matches nothing
				{ActionReceive, "topic", "secret/x", true, p, 1},
				{ActionConnect, "client", "x", false, "", -1},
			}},
		},
	}

	files, err := filepath.Glob(filepath.Join(policyFixtures, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	sort.Strings(names)
	for _, name := range names {
		if _, ok := fixtures[name]; !ok {
			t.Errorf("fixture %s has no checks in TestExamplePolicies", name)
		}
	}
	for name, cases := range fixtures {
		t.Run(name, func(t *testing.T) {
			doc := readFixture(t, name)
			for _, fc := range cases {
				c := Compile([]NamedDocument{{Name: name, Document: doc}}, fc.env)
				for _, ck := range fc.checks {
					if ck.policy == p {
						ck.policy = name
					}
					want := Decision{Allowed: ck.allowed, Policy: ck.policy, Statement: ck.statement}
					if got := c.Decide(ck.action, ck.typ, ck.name); got != want {
						t.Errorf("env %s/%s thing %q: Decide(%s, %s/%s) = %+v, want %+v\n%s",
							fc.env.Region, fc.env.Account, fc.env.ThingName, ck.action, ck.typ, ck.name, got, want,
							c.Explain(ck.action, ck.typ, ck.name).Reason)
					}
				}
			}
		})
	}
}
