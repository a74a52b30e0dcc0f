package auth

import (
	"testing"
)

const (
	testRegion  = "us-east-1"
	testAccount = "123456789012"
	arnPrefix   = "arn:aws:iot:us-east-1:123456789012:"
)

// testEnv is a connection of thing "dev1" with client ID "dev1".
func testEnv() Environment {
	return Environment{
		Region: testRegion, Account: testAccount,
		ClientID:  "dev1",
		ThingName: "dev1", ThingTypeName: "sensor", ThingIsAttached: true,
		ThingAttributes: map[string]string{"site": "plant-7", "Floor": "3"},
		CertificateID:   "0123abcd",
	}
}

func mustParse(t testing.TB, doc string) *Document {
	t.Helper()
	d, err := ParseDocument(doc)
	if err != nil {
		t.Fatalf("ParseDocument: %v\n%s", err, doc)
	}
	return d
}

// policy builds a one-statement-per-entry document from (effect, action, resource) triples
// written in policy JSON fragments, e.g. stmt("Allow", `"iot:Publish"`, `"arn:...:topic/a"`).
func stmt(effect, actionKey, action, resourceKey, resource string) string {
	return `{"Effect":"` + effect + `","` + actionKey + `":` + action + `,"` + resourceKey + `":` + resource + `}`
}

func allow(action, resource string) string {
	return stmt("Allow", "Action", action, "Resource", resource)
}
func deny(action, resource string) string {
	return stmt("Deny", "Action", action, "Resource", resource)
}

func doc(statements ...string) string {
	s := `{"Version":"2012-10-17","Statement":[`
	for i, st := range statements {
		if i > 0 {
			s += ","
		}
		s += st
	}
	return s + `]}`
}

type check struct {
	action, typ, name string
	allowed           bool
	policy            string // "" for no matching statement
	statement         int
}

func TestDecide(t *testing.T) {
	q := func(s string) string { return `"` + s + `"` }
	tests := []struct {
		name     string
		env      func(*Environment) // adjusts testEnv, may be nil
		policies []NamedDocument    // filled from docs when nil
		docs     []string
		checks   []check
	}{
		{
			name: "star crosses slash, question mark is one character",
			docs: []string{doc(
				allow(q(ActionPublish), q(arnPrefix+"topic/a/*")),
				allow(q(ActionReceive), q(arnPrefix+"topic/b/?/c")),
			)},
			checks: []check{
				{ActionPublish, "topic", "a/b", true, "p0", 0},
				{ActionPublish, "topic", "a/b/c/d", true, "p0", 0},
				{ActionPublish, "topic", "a/", true, "p0", 0},
				{ActionPublish, "topic", "a", false, "", -1},
				{ActionPublish, "topic", "A/b", false, "", -1}, // resources are case-sensitive
				{ActionPublish, "topicfilter", "a/b", false, "", -1},
				{ActionReceive, "topic", "b/x/c", true, "p0", 1},
				{ActionReceive, "topic", "b/xy/c", false, "", -1},
				{ActionReceive, "topic", "b//c", false, "", -1},
			},
		},
		{
			name: "MQTT + and # are literal",
			docs: []string{doc(
				allow(q(ActionSubscribe), `["`+arnPrefix+`topicfilter/a/+/b","`+arnPrefix+`topicfilter/c/#"]`),
				deny(q(ActionSubscribe), q(arnPrefix+"topicfilter/c/private/*")),
			)},
			checks: []check{
				{ActionSubscribe, "topicfilter", "a/+/b", true, "p0", 0},
				{ActionSubscribe, "topicfilter", "a/x/b", false, "", -1},
				{ActionSubscribe, "topicfilter", "a/#", false, "", -1},
				{ActionSubscribe, "topicfilter", "c/#", true, "p0", 0},
				{ActionSubscribe, "topicfilter", "c/x", false, "", -1},
				// The Deny on c/private/* does not cover the filter c/# (documented AWS pitfall).
				{ActionSubscribe, "topicfilter", "c/private/x", false, "p0", 1},
			},
		},
		{
			name: "explicit deny in another policy wins",
			policies: []NamedDocument{
				{Name: "allow-all", Document: mustParse(t, doc(allow(q("iot:*"), q("*"))))},
				{Name: "no-secrets", Document: mustParse(t, doc(
					allow(q(ActionConnect), q(arnPrefix+"client/x")),
					deny(`["iot:Publish","iot:Receive"]`, q(arnPrefix+"topic/secret/*")),
				))},
			},
			checks: []check{
				{ActionPublish, "topic", "public", true, "allow-all", 0},
				{ActionPublish, "topic", "secret/1", false, "no-secrets", 1},
				{ActionReceive, "topic", "secret/1", false, "no-secrets", 1},
				{ActionSubscribe, "topicfilter", "secret/1", true, "allow-all", 0},
				{ActionConnect, "client", "x", true, "allow-all", 0}, // first Allow wins
			},
		},
		{
			name: "NotAction and NotResource",
			docs: []string{doc(
				stmt("Allow", "NotAction", q(ActionReceive), "Resource", q("*")),
				stmt("Allow", "Action", q(ActionReceive), "NotResource", `["`+arnPrefix+`topic/secret/*","`+arnPrefix+`topic/private"]`),
				stmt("Deny", "NotAction", `["iot:Connect","iot:Pub*","iot:Receive"]`, "Resource", q(arnPrefix+"topicfilter/locked/*")),
			)},
			checks: []check{
				{ActionPublish, "topic", "x", true, "p0", 0},
				{ActionConnect, "client", "x", true, "p0", 0},
				{ActionReceive, "topic", "x", true, "p0", 1},
				{ActionReceive, "topic", "secret/x", false, "", -1},
				{ActionReceive, "topic", "private", false, "", -1},
				{ActionReceive, "topic", "private/x", true, "p0", 1},
				{ActionSubscribe, "topicfilter", "locked/a", false, "p0", 2},
				{ActionSubscribe, "topicfilter", "open/a", true, "p0", 0},
				{"iot:GetThingShadow", "topicfilter", "locked/a", false, "p0", 2},
			},
		},
		{
			name: "NotResource naming another account excludes nothing here",
			docs: []string{doc(
				stmt("Allow", "Action", q(ActionPublish), "NotResource", q("arn:aws:iot:us-east-1:999999999999:topic/*")),
			)},
			checks: []check{{ActionPublish, "topic", "a", true, "p0", 0}},
		},
		{
			name: "actions are case-insensitive with wildcards",
			docs: []string{doc(
				allow(`["IOT:publish","iot:Sub*"]`, q("*")),
				allow(q("iot:?eceive"), q("*")),
				allow(q("iot:Get*Shadow"), q(arnPrefix+"thing/dev1")),
			)},
			checks: []check{
				{ActionPublish, "topic", "a", true, "p0", 0},
				{"iot:PUBLISH", "topic", "a", true, "p0", 0},
				{"Iot:Subscribe", "topicfilter", "a", true, "p0", 0},
				{ActionReceive, "topic", "a", true, "p0", 1},
				{ActionConnect, "client", "dev1", false, "", -1},
				{ActionRetainPublish, "topic", "a", false, "", -1},
				{"iot:GetThingShadow", "thing", "dev1", true, "p0", 2},
				{"iot:getthingshadow", "thing", "dev1", true, "p0", 2},
				{"iot:GetThingShadow", "thing", "dev2", false, "", -1},
				{"iot:UpdateThingShadow", "thing", "dev1", false, "", -1},
			},
		},
		{
			name: "star action and star resource",
			docs: []string{doc(allow(q("*"), q("*")))},
			checks: []check{
				{ActionConnect, "client", "anything", true, "p0", 0},
				{"iot:DeleteThingShadow", "thing", "x", true, "p0", 0},
				{"s3:GetObject", "thing", "x", true, "p0", 0},
			},
		},
		{
			name: "thing variables resolve when a thing is bound",
			docs: []string{doc(
				allow(q(ActionConnect), q(arnPrefix+"client/${iot:Connection.Thing.ThingName}")),
				allow(q(ActionPublish), `["`+arnPrefix+`topic/${iot:Connection.Thing.ThingTypeName}/${iot:Connection.Thing.Attributes[site]}/*","`+arnPrefix+`topic/attached/${iot:Connection.Thing.IsAttached}"]`),
				allow(q(ActionReceive), q(arnPrefix+"topic/${iot:ClientId}/${IOT:CONNECTION.THING.THINGNAME}")),
				allow(q(ActionSubscribe), q(arnPrefix+"topicfilter/floor/${iot:Connection.Thing.Attributes[Floor]}/${iot:Connection.Thing.Attributes[floor]}")),
			)},
			checks: []check{
				{ActionConnect, "client", "dev1", true, "p0", 0},
				{ActionConnect, "client", "dev2", false, "", -1},
				{ActionPublish, "topic", "sensor/plant-7/x", true, "p0", 1},
				{ActionPublish, "topic", "sensor/plant-8/x", false, "", -1},
				{ActionPublish, "topic", "attached/true", true, "p0", 1},
				{ActionReceive, "topic", "dev1/dev1", true, "p0", 2}, // variable names ignore case
				// Attribute names are case-sensitive: "floor" does not exist, so the pattern keeps it literally.
				{ActionSubscribe, "topicfilter", "floor/3/3", false, "", -1},
				{ActionSubscribe, "topicfilter", "floor/3/${iot:Connection.Thing.Attributes[floor]}", true, "p0", 3},
			},
		},
		{
			name: "thing variables stay literal without a thing, and so do unknown variables",
			env: func(e *Environment) {
				e.ThingName, e.ThingTypeName, e.ThingAttributes, e.ThingIsAttached = "", "", nil, false
			},
			docs: []string{doc(
				allow(q(ActionConnect), `["`+arnPrefix+`client/${iot:Connection.Thing.ThingName}","`+arnPrefix+`client/cert-${iot:Certificate.Subject.CommonName}"]`),
				allow(q(ActionPublish), q(arnPrefix+"topic/${iot:ClientId}/*")),
				allow(q(ActionReceive), q(arnPrefix+"topic/attached/${iot:Connection.Thing.IsAttached}")),
				// An unresolved variable must not make a Deny apply either.
				deny(q(ActionPublish), q(arnPrefix+"topic/dev1/${iot:Connection.Thing.ThingName}")),
			)},
			checks: []check{
				{ActionConnect, "client", "dev1", false, "", -1},
				{ActionConnect, "client", "", false, "", -1},
				{ActionConnect, "client", "${iot:Connection.Thing.ThingName}", true, "p0", 0}, // only the literal text
				{ActionConnect, "client", "cert-${iot:Certificate.Subject.CommonName}", true, "p0", 0},
				{ActionPublish, "topic", "dev1/x", true, "p0", 1},
				{ActionPublish, "topic", "dev1/", true, "p0", 1},
				{ActionReceive, "topic", "attached/false", false, "", -1},
			},
		},
		{
			name: "substituted values and escapes are never wildcards",
			env:  func(e *Environment) { e.ClientID = "dev*" },
			docs: []string{doc(
				allow(q(ActionConnect), q(arnPrefix+"client/${iot:ClientId}")),
				allow(q(ActionPublish), `["`+arnPrefix+`topic/a/${*}","`+arnPrefix+`topic/b/${?}","`+arnPrefix+`topic/${$}aws/things/x/*"]`),
				allow(q(ActionSubscribe), q(arnPrefix+"topicfilter/${*}${?}*")),
			)},
			checks: []check{
				{ActionConnect, "client", "dev*", true, "p0", 0},
				{ActionConnect, "client", "devX", false, "", -1},
				{ActionConnect, "client", "dev", false, "", -1},
				{ActionPublish, "topic", "a/*", true, "p0", 1},
				{ActionPublish, "topic", "a/b", false, "", -1},
				{ActionPublish, "topic", "a/", false, "", -1},
				{ActionPublish, "topic", "b/?", true, "p0", 1},
				{ActionPublish, "topic", "b/x", false, "", -1},
				{ActionPublish, "topic", "$aws/things/x/shadow/update", true, "p0", 1},
				{ActionSubscribe, "topicfilter", "*?", true, "p0", 2},
				{ActionSubscribe, "topicfilter", "*?/more", true, "p0", 2},
				{ActionSubscribe, "topicfilter", "ab", false, "", -1},
			},
		},
		{
			name: "variables need Version 2012-10-17, as in IAM",
			docs: []string{
				`{"Version":"2008-10-17","Statement":` + allow(q(ActionConnect), q(arnPrefix+"client/${iot:ClientId}")) + `}`,
				`{"Statement":[` + allow(q(ActionPublish), q(arnPrefix+"topic/${*}")) + `]}`,
			},
			checks: []check{
				{ActionConnect, "client", "dev1", false, "", -1},
				{ActionConnect, "client", "${iot:ClientId}", true, "p0", 0},
				{ActionPublish, "topic", "${anything}", true, "p1", 0}, // the `*` of ${*} is a plain wildcard here
				{ActionPublish, "topic", "${}", true, "p1", 0},
				{ActionPublish, "topic", "*", false, "", -1},
			},
		},
		{
			name: "ARN partition, service, region and account must be this connection's",
			docs: []string{doc(
				allow(q(ActionPublish), `[
					"arn:aws:iot:us-west-2:123456789012:topic/region",
					"arn:aws:iot:us-east-1:999999999999:topic/account",
					"arn:aws-cn:iot:us-east-1:123456789012:topic/partition",
					"arn:aws:iotdata:us-east-1:123456789012:topic/service",
					"arn:aws:iot:us-east-1:123456789012",
					"arn:aws:iot:*",
					"arn:aws:iot:*:*:topic/any-region",
					"arn:aws:iot:us-*:1234567890??:topic/wild-fields",
					"arn:aws:iot:us-east-1:${iot:ClientId}:topic/var-account"
				]`),
				allow(q(ActionReceive), q(arnPrefix+"*")),
			)},
			checks: []check{
				{ActionPublish, "topic", "region", false, "", -1},
				{ActionPublish, "topic", "account", false, "", -1},
				{ActionPublish, "topic", "partition", false, "", -1},
				{ActionPublish, "topic", "service", false, "", -1},
				{ActionPublish, "topic", "any-region", true, "p0", 0},
				{ActionPublish, "topic", "wild-fields", true, "p0", 0},
				{ActionPublish, "topic", "var-account", false, "", -1},
				{ActionPublish, "topic", "x", false, "", -1},
				// Colons in a name cannot shift the ARN fields: the prefix is checked by field.
				{ActionPublish, "topic", "x:123456789012:topic/any-region", false, "", -1},
				{ActionReceive, "topic", "anything/at/all", true, "p0", 1},
				{ActionReceive, "thing", "x", true, "p0", 1},
			},
		},
		{
			name: "a Condition is evaluated once per connection: a false one drops its statement",
			docs: []string{`{"Version":"2012-10-17","Statement":[
				{"Effect":"Allow","Action":"iot:Connect","Resource":"*","Condition":{"Bool":{"iot:Connection.Thing.IsAttached":"true"}}},
				{"Effect":"Allow","Action":"iot:Publish","Resource":"*","Condition":{}},
				{"Effect":"Allow","Action":"iot:Receive","Resource":"*"},
				{"Effect":"Deny","Action":"iot:Receive","Resource":"` + arnPrefix + `topic/x","Condition":{"StringEquals":{"iot:ClientId":"nobody"}}},
				{"Effect":"Deny","Action":"iot:Receive","Resource":"` + arnPrefix + `topic/y","Condition":{"StringEquals":{"iot:ClientId":"${iot:Connection.Thing.ThingName}"}}},
				{"Effect":"Allow","Action":"iot:Subscribe","Resource":"*","Condition":{"StringEquals":{"iot:ClientId":"nobody"}}}
			]}`},
			checks: []check{
				{ActionConnect, "client", "dev1", true, "p0", 0},
				{ActionPublish, "topic", "a", true, "p0", 1}, // an empty Condition is no condition
				{ActionReceive, "topic", "a", true, "p0", 2},
				{ActionReceive, "topic", "x", true, "p0", 2},  // the Deny's condition is false
				{ActionReceive, "topic", "y", false, "p0", 4}, // the Deny's condition holds
				{ActionSubscribe, "topicfilter", "a", false, "", -1},
			},
		},
		{
			name: "a false Condition leaves the statement out for this connection only",
			env:  func(e *Environment) { e.ThingIsAttached = false },
			docs: []string{`{"Version":"2012-10-17","Statement":[
				{"Effect":"Allow","Action":"iot:Connect","Resource":"*","Condition":{"Bool":{"iot:Connection.Thing.IsAttached":"true"}}}
			]}`},
			checks: []check{{ActionConnect, "client", "dev1", false, "", -1}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := testEnv()
			if tt.env != nil {
				tt.env(&env)
			}
			policies := tt.policies
			for i, d := range tt.docs {
				policies = append(policies, NamedDocument{Name: "p" + string(rune('0'+i)), Document: mustParse(t, d)})
			}
			c := Compile(policies, env)
			for _, ck := range tt.checks {
				got := c.Decide(ck.action, ck.typ, ck.name)
				want := Decision{Allowed: ck.allowed, Policy: ck.policy, Statement: ck.statement}
				if got != want {
					t.Errorf("Decide(%s, %s/%s) = %+v, want %+v", ck.action, ck.typ, ck.name, got, want)
				}
				ex := c.Explain(ck.action, ck.typ, ck.name)
				if ex.Reason == "" {
					t.Errorf("Explain(%s, %s/%s) has no reason", ck.action, ck.typ, ck.name)
				}
				ex.Reason = ""
				if ex != want {
					t.Errorf("Explain(%s, %s/%s) = %+v, disagrees with Decide %+v", ck.action, ck.typ, ck.name, ex, want)
				}
			}
		})
	}
}

func TestDecideWithoutPolicies(t *testing.T) {
	want := Decision{Statement: -1}
	var nilCompiled *Compiled
	for _, c := range []*Compiled{nilCompiled, Compile(nil, testEnv()), Compile([]NamedDocument{{Name: "empty"}}, testEnv())} {
		if got := c.Decide(ActionConnect, "client", "dev1"); got != want {
			t.Errorf("Decide = %+v, want %+v", got, want)
		}
		if got := c.Explain(ActionConnect, "client", "dev1"); got.Allowed || got.Reason == "" {
			t.Errorf("Explain = %+v", got)
		}
	}
}

func TestResourceARN(t *testing.T) {
	env := testEnv()
	if got, want := ResourceARN(env, "topic", "a/+/#"), "arn:aws:iot:us-east-1:123456789012:topic/a/+/#"; got != want {
		t.Errorf("ResourceARN = %q, want %q", got, want)
	}
	env.Partition = "aws-cn"
	if got, want := ResourceARN(env, "client", "c1"), "arn:aws-cn:iot:us-east-1:123456789012:client/c1"; got != want {
		t.Errorf("ResourceARN = %q, want %q", got, want)
	}
}

func TestDecideDoesNotAllocate(t *testing.T) {
	for _, bc := range benchCases(t) {
		c := Compile([]NamedDocument{{Name: "device", Document: mustParse(t, bc.policy)}}, bc.env)
		for _, ck := range bc.checks {
			if got := c.Decide(ck.action, ck.typ, ck.name).Allowed; got != ck.allowed {
				t.Errorf("%s: Decide(%s, %s/%s).Allowed = %v, want %v", bc.name, ck.action, ck.typ, ck.name, got, ck.allowed)
			}
			if n := testing.AllocsPerRun(100, func() { c.Decide(ck.action, ck.typ, ck.name) }); n != 0 {
				t.Errorf("%s: Decide(%s, %s/%s) allocates %v times", bc.name, ck.action, ck.typ, ck.name, n)
			}
		}
	}
}

// TestDecideConcurrent runs Decide and Explain from many goroutines on one Compiled, for the race
// detector: a connection's checks may come from its reader and from other clients' deliveries.
func TestDecideConcurrent(t *testing.T) {
	cases := benchCases(t)
	compiled := make([]*Compiled, len(cases))
	for i, bc := range cases {
		compiled[i] = Compile([]NamedDocument{{Name: "device", Document: mustParse(t, bc.policy)}}, bc.env)
	}
	done := make(chan struct{})
	for g := 0; g < 8; g++ {
		go func() {
			defer func() { done <- struct{}{} }()
			c, checks := compiled[g%len(cases)], cases[g%len(cases)].checks
			for i := 0; i < 200; i++ {
				ck := checks[(g+i)%len(checks)]
				if c.Decide(ck.action, ck.typ, ck.name).Allowed != ck.allowed || c.Explain(ck.action, ck.typ, ck.name).Allowed != ck.allowed {
					t.Errorf("Decide(%s, %s/%s) wrong under concurrency", ck.action, ck.typ, ck.name)
					return
				}
			}
		}()
	}
	for g := 0; g < 8; g++ {
		<-done
	}
}
