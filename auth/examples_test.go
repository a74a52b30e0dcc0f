package auth

import (
	"net/netip"
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

	// Connections for the fixtures that use conditions and certificate variables.
	with := func(adjust func(*Environment)) Environment {
		e := testEnv()
		adjust(&e)
		return e
	}
	rich := richCert(t)
	withCert := with(func(e *Environment) { e.Certificate = rich })
	otherClient := with(func(e *Environment) { e.Certificate, e.ClientID = rich, "dev2" })
	bySerial := with(func(e *Environment) { e.Certificate, e.ClientID = rich, "10525622389124227206" })
	noCN := with(func(e *Environment) { e.Certificate = newTestCert(t, certSpec{subject: names(oidO, "Example Corp")}) })
	evilOrg := with(func(e *Environment) {
		e.Certificate = newTestCert(t, certSpec{subject: names(oidCN, "dev1", oidO, "Example Corp", oidO, "Evil Corp")})
	})
	persistent := with(func(e *Environment) { e.PersistentConnect = true })
	willOnly := with(func(e *Environment) { e.HasWill, e.WillTopic = true, "my/lastwill/topicName" })
	willElsewhere := with(func(e *Environment) { e.HasWill, e.WillTopic = true, "my/lastwill/other" })
	persistentWill := with(func(e *Environment) {
		e.PersistentConnect, e.HasWill, e.WillTopic = true, true, "my/lastwill/topicName"
	})
	from := func(ip string) Environment {
		return with(func(e *Environment) { e.SourceIP = netip.MustParseAddr(ip) })
	}
	detached := with(func(e *Environment) { e.ThingIsAttached = false })
	lowFloor := with(func(e *Environment) { e.ThingAttributes = map[string]string{"site": "plant-7", "Floor": "1"} })
	otherSite := with(func(e *Environment) { e.ThingAttributes = map[string]string{"site": "plant-8", "Floor": "3"} })

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
		"client-id-is-certificate-cn.json": {
			{withCert, []check{
				{ActionConnect, "client", "dev1", true, p, 0},
				{ActionConnect, "client", "anything", true, p, 0}, // the client ID is checked by the condition
				{ActionPublish, "topic", "devices/dev1/telemetry", true, p, 1},
				{ActionPublish, "topic", "devices/dev2/telemetry", false, "", -1},
				{ActionSubscribe, "topicfilter", "devices/dev1/#", true, p, 2},
			}},
			{otherClient, []check{ // client ID dev2 with a certificate for dev1
				{ActionConnect, "client", "dev2", false, "", -1},
				{ActionPublish, "topic", "devices/dev1/telemetry", true, p, 1},
			}},
			{testEnv(), []check{ // no certificate: CN has no value, nothing matches
				{ActionConnect, "client", "dev1", false, "", -1},
				{ActionPublish, "topic", "devices/dev1/telemetry", false, "", -1},
			}},
		},
		"certificate-serial-and-organization.json": {
			{bySerial, []check{
				{ActionConnect, "client", "10525622389124227206", true, p, 0},
				{ActionConnect, "client", "921285cbb7a5e086", false, "", -1}, // decimal, not hex
				{ActionPublish, "topic", "Example Corp/device-stats/10525622389124227206/cpu", true, p, 1},
				{ActionPublish, "topic", "AnyCompany/device-stats/10525622389124227206/cpu", false, "", -1},
			}},
		},
		"certificate-null-check.json": {
			{withCert, []check{{ActionConnect, "client", "dev1", true, p, 0}}},
			{noCN, []check{{ActionConnect, "client", "dev1", false, "", -1}}},
			{testEnv(), []check{{ActionConnect, "client", "dev1", false, "", -1}}},
		},
		"certificate-organization-list.json": {
			{withCert, []check{ // Organization = [Example Corp, AnyCompany]
				{ActionConnect, "client", "dev1", true, p, 0},
				{ActionPublish, "topic", "my/topic/dev1", true, p, 1},
				{ActionPublish, "topic", "my/topic/dev2", false, "", -1},
			}},
			{evilOrg, []check{ // one Organization is not listed
				{ActionPublish, "topic", "my/topic/dev1", false, "", -1},
			}},
			{noCN, []check{ // Organization = [Example Corp]: a subset
				{ActionPublish, "topic", "my/topic/dev1", true, p, 1},
			}},
			{testEnv(), []check{ // IAM's ForAllValues pitfall: with no certificate the key is missing, so the condition holds
				{ActionPublish, "topic", "my/topic/dev1", true, p, 1},
			}},
		},
		"deny-persistent-sessions.json": {
			{testEnv(), []check{{ActionConnect, "client", "dev1", true, p, 0}}},
			{persistent, []check{{ActionConnect, "client", "dev1", false, p, 1}}},
			{willOnly, []check{{ActionConnect, "client", "dev1", true, p, 0}}},
			{persistentWill, []check{{ActionConnect, "client", "dev1", false, p, 1}}},
		},
		"last-will-topic.json": {
			{willOnly, []check{{ActionConnect, "client", "dev1", true, p, 0}}},
			{willElsewhere, []check{{ActionConnect, "client", "dev1", false, "", -1}}},
			{testEnv(), []check{{ActionConnect, "client", "dev1", false, "", -1}}}, // no will
			{persistentWill, []check{{ActionConnect, "client", "dev1", false, p, 1}}},
		},
		"source-ip.json": {
			{from("203.0.113.7"), []check{ // the operations subnet
				{ActionConnect, "client", "dev1", true, p, 0},
				{ActionPublish, "topic", "admin/reboot", true, p, 0},
			}},
			{from("203.0.113.100"), []check{
				{ActionConnect, "client", "dev1", true, p, 0},
				{ActionPublish, "topic", "telemetry", true, p, 0},
				{ActionPublish, "topic", "admin/reboot", false, p, 1},
			}},
			{from("2001:db8:1::5"), []check{
				{ActionSubscribe, "topicfilter", "a/#", true, p, 0},
				{ActionPublish, "topic", "admin/reboot", false, p, 1},
			}},
			{from("198.51.100.1"), []check{{ActionConnect, "client", "dev1", false, "", -1}}},
			{testEnv(), []check{ // address not known: IpAddress fails, NotIpAddress holds
				{ActionConnect, "client", "dev1", false, "", -1},
				{ActionPublish, "topic", "admin/reboot", false, p, 1},
			}},
		},
		"thing-attribute-condition.json": {
			{testEnv(), []check{
				{ActionConnect, "client", "dev1", true, p, 0},
				{ActionPublish, "topic", "sites/plant-7/line-1", true, p, 1},
				{ActionPublish, "topic", "sites/plant-8/line-1", false, "", -1},
			}},
			{lowFloor, []check{{ActionPublish, "topic", "sites/plant-7/line-1", false, "", -1}}},
			{otherSite, []check{{ActionPublish, "topic", "sites/plant-8/line-1", false, "", -1}}},
			{detached, []check{{ActionConnect, "client", "dev1", false, "", -1}}},
			{noThing, []check{{ActionConnect, "client", "dev1", false, "", -1}}},
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
