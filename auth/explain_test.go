package auth

import (
	"crypto/x509/pkix"
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func TestExplain(t *testing.T) {
	device := mustParse(t, benchPolicy)
	conditional := mustParse(t, `{"Statement":[
		{"Sid":"AttachedOnly","Effect":"Allow","Action":"iot:Connect","Resource":"*","Condition":{"Bool":{"iot:Connection.Thing.IsAttached":"true"}}},
		{"Effect":"Allow","Action":"iot:Receive","NotResource":"arn:aws:iot:us-east-1:123456789012:topic/secret/*"},
		{"Effect":"Deny","Action":"iot:Publish","Resource":"arn:aws:iot:us-east-1:123456789012:topic/quiet/*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`)
	otherRegion := mustParse(t, `{"Statement":{"Effect":"Allow","Action":"iot:Subscribe","Resource":"arn:aws:iot:us-west-2:123456789012:topicfilter/things/dev1/x"}}`)
	oldVersion := mustParse(t, `{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-east-1:123456789012:client/${iot:ClientId}"}}`)
	noThing := testEnv()
	noThing.ThingName = ""
	detached := testEnv()
	detached.ThingIsAttached = false
	other := testEnv()
	other.ClientID = "other"
	quiet := mustParse(t, `{"Statement":[
		{"Effect":"Allow","Action":"iot:Publish","Resource":"*"},
		{"Effect":"Deny","Action":"iot:Publish","Resource":"arn:aws:iot:us-east-1:123456789012:topic/quiet/*","Condition":{"StringNotEquals":{"iot:ClientId":"dev1"}}}]}`)
	clientIsCN := mustParse(t, `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"iot:Connect","Resource":"*","Condition":{"StringEquals":{"iot:ClientId":"${iot:Certificate.Subject.CommonName}"}}},
		{"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:us-east-1:123456789012:topic/devices/${iot:Certificate.Subject.CommonName}/*",
		 "Condition":{"ForAnyValue:StringEquals":{"iot:ConnectAttributes":"PersistentConnect"}}}]}`)
	withCN := testEnv()
	withCN.Certificate = newTestCert(t, certSpec{subject: pkix.Name{CommonName: "dev2"}})

	tests := []struct {
		name             string
		env              Environment
		policies         []NamedDocument
		action, typ, res string
		want             string
	}{
		{
			name:     "allow names statement and resolved pattern",
			env:      testEnv(),
			policies: []NamedDocument{{Name: "device", Document: device}},
			action:   ActionPublish, typ: "topic", res: "things/dev1/telemetry",
			want: `allowed: policy "device" statement 1 allows iot:Publish on arn:aws:iot:us-east-1:123456789012:topic/things/dev1/telemetry ` +
				`(Resource "arn:aws:iot:us-east-1:123456789012:topic/things/${iot:Connection.Thing.ThingName}/*" resolved to "arn:aws:iot:us-east-1:123456789012:topic/things/dev1/*")`,
		},
		{
			name:     "explicit deny",
			env:      testEnv(),
			policies: []NamedDocument{{Name: "device", Document: device}},
			action:   ActionReceive, typ: "topic", res: "things/dev1/admin/x",
			want: `denied: policy "device" statement 4 explicitly denies iot:Receive on arn:aws:iot:us-east-1:123456789012:topic/things/dev1/admin/x ` +
				`(Resource "arn:aws:iot:us-east-1:123456789012:topic/things/${iot:Connection.Thing.ThingName}/admin/*" resolved to "arn:aws:iot:us-east-1:123456789012:topic/things/dev1/admin/*")`,
		},
		{
			name:     "nearest candidate with another name",
			env:      testEnv(),
			policies: []NamedDocument{{Name: "device", Document: device}},
			action:   ActionPublish, typ: "topic", res: "things/dev2/telemetry",
			want: `denied: no statement allows iot:Publish on arn:aws:iot:us-east-1:123456789012:topic/things/dev2/telemetry; ` +
				`nearest candidate: policy "device" statement 1 allows iot:Publish on "arn:aws:iot:us-east-1:123456789012:topic/things/${iot:Connection.Thing.ThingName}/*" resolved to "arn:aws:iot:us-east-1:123456789012:topic/things/dev1/*"`,
		},
		{
			name:     "nearest candidate with an unresolved variable",
			env:      noThing,
			policies: []NamedDocument{{Name: "device", Document: device}},
			action:   ActionConnect, typ: "client", res: "dev1",
			want: `denied: no statement allows iot:Connect on arn:aws:iot:us-east-1:123456789012:client/dev1; ` +
				`nearest candidate: policy "device" statement 0 allows iot:Connect on "arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}", ` +
				`which cannot match: ${iot:Connection.Thing.ThingName} has no value: no thing is bound to this connection`,
		},
		{
			name:     "nearest candidate in another region",
			env:      testEnv(),
			policies: []NamedDocument{{Name: "west", Document: otherRegion}},
			action:   ActionSubscribe, typ: "topicfilter", res: "things/dev1/x",
			want: `denied: no statement allows iot:Subscribe on arn:aws:iot:us-east-1:123456789012:topicfilter/things/dev1/x; ` +
				`nearest candidate: policy "west" statement 0 allows iot:Subscribe on "arn:aws:iot:us-west-2:123456789012:topicfilter/things/dev1/x", ` +
				`which cannot match: its region does not match this connection's "us-east-1"`,
		},
		{
			name:     "variables in a policy without Version 2012-10-17",
			env:      testEnv(),
			policies: []NamedDocument{{Name: "old", Document: oldVersion}},
			action:   ActionConnect, typ: "client", res: "dev1",
			want: `denied: no statement allows iot:Connect on arn:aws:iot:us-east-1:123456789012:client/dev1; ` +
				`nearest candidate: policy "old" statement 0 allows iot:Connect on "arn:aws:iot:us-east-1:123456789012:client/${iot:ClientId}", ` +
				`which cannot match: its policy lacks "Version": "2012-10-17", so ${...} is literal text, not a policy variable`,
		},
		{
			name:     "conditional allow whose condition holds",
			env:      testEnv(),
			policies: []NamedDocument{{Name: "cond", Document: conditional}},
			action:   ActionConnect, typ: "client", res: "dev1",
			want: `allowed: policy "cond" statement 0 (Sid "AttachedOnly") allows iot:Connect on arn:aws:iot:us-east-1:123456789012:client/dev1 (Resource "*"); ` +
				`its Condition holds for this connection`,
		},
		{
			name:     "conditional allow whose condition is false",
			env:      detached,
			policies: []NamedDocument{{Name: "cond", Document: conditional}},
			action:   ActionConnect, typ: "client", res: "dev1",
			want: `denied: no statement allows iot:Connect on arn:aws:iot:us-east-1:123456789012:client/dev1; ` +
				`policy "cond" statement 0 (Sid "AttachedOnly") would allow it but does not apply: ` +
				`condition Bool iot:Connection.Thing.IsAttached ["true"] was false: iot:Connection.Thing.IsAttached is "false"`,
		},
		{
			name:     "conditional allow whose key is missing",
			env:      noThing,
			policies: []NamedDocument{{Name: "cond", Document: conditional}},
			action:   ActionConnect, typ: "client", res: "dev1",
			want: `denied: no statement allows iot:Connect on arn:aws:iot:us-east-1:123456789012:client/dev1; ` +
				`policy "cond" statement 0 (Sid "AttachedOnly") would allow it but does not apply: ` +
				`condition Bool iot:Connection.Thing.IsAttached ["true"] was false: iot:Connection.Thing.IsAttached has no value (no thing is bound to this connection), ` +
				`and a missing key matches no value (add IfExists to let it pass)`,
		},
		{
			name:     "conditional deny on a key AWS IoT does not provide",
			env:      testEnv(),
			policies: []NamedDocument{{Name: "cond", Document: conditional}},
			action:   ActionPublish, typ: "topic", res: "quiet/1",
			want: `denied: no statement allows iot:Publish on arn:aws:iot:us-east-1:123456789012:topic/quiet/1; no Allow statement in the 1 attached policy covers iot:Publish`,
		},
		{
			name:     "allowed, and a Deny did not apply",
			env:      testEnv(),
			policies: []NamedDocument{{Name: "quiet", Document: quiet}},
			action:   ActionPublish, typ: "topic", res: "quiet/1",
			want: `allowed: policy "quiet" statement 0 allows iot:Publish on arn:aws:iot:us-east-1:123456789012:topic/quiet/1 (Resource "*"); ` +
				`policy "quiet" statement 1 would deny it but does not apply: condition StringNotEquals iot:ClientId ["dev1"] was false: iot:ClientId is "dev1"`,
		},
		{
			name:     "denied by a Deny whose condition holds",
			env:      other,
			policies: []NamedDocument{{Name: "quiet", Document: quiet}},
			action:   ActionPublish, typ: "topic", res: "quiet/1",
			want: `denied: policy "quiet" statement 1 explicitly denies iot:Publish on arn:aws:iot:us-east-1:123456789012:topic/quiet/1 ` +
				`(Resource "arn:aws:iot:us-east-1:123456789012:topic/quiet/*"); its Condition holds for this connection`,
		},
		{
			name:     "condition value with an unresolved variable",
			env:      testEnv(),
			policies: []NamedDocument{{Name: "cn", Document: clientIsCN}},
			action:   ActionConnect, typ: "client", res: "dev1",
			want: `denied: no statement allows iot:Connect on arn:aws:iot:us-east-1:123456789012:client/dev1; ` +
				`policy "cn" statement 0 would allow it but does not apply: condition StringEquals iot:ClientId ["${iot:Certificate.Subject.CommonName}"] was false: ` +
				`iot:ClientId is "dev1"; ${iot:Certificate.Subject.CommonName} has no value (the connection has no client certificate), so it is compared as literal text`,
		},
		{
			name:     "condition value with a resolved variable",
			env:      withCN,
			policies: []NamedDocument{{Name: "cn", Document: clientIsCN}},
			action:   ActionConnect, typ: "client", res: "dev1",
			want: `denied: no statement allows iot:Connect on arn:aws:iot:us-east-1:123456789012:client/dev1; ` +
				`policy "cn" statement 0 would allow it but does not apply: condition StringEquals iot:ClientId ["${iot:Certificate.Subject.CommonName}"] (resolved to ["dev2"]) was false: ` +
				`iot:ClientId is "dev1"`,
		},
		{
			name:     "nearest candidate whose condition is false as well",
			env:      withCN,
			policies: []NamedDocument{{Name: "cn", Document: clientIsCN}},
			action:   ActionPublish, typ: "topic", res: "other/1",
			want: `denied: no statement allows iot:Publish on arn:aws:iot:us-east-1:123456789012:topic/other/1; ` +
				`nearest candidate: policy "cn" statement 1 allows iot:Publish on "arn:aws:iot:us-east-1:123456789012:topic/devices/${iot:Certificate.Subject.CommonName}/*" ` +
				`resolved to "arn:aws:iot:us-east-1:123456789012:topic/devices/dev2/*"; besides, it does not apply: ` +
				`condition ForAnyValue:StringEquals iot:ConnectAttributes ["PersistentConnect"] was false: iot:ConnectAttributes has no value ` +
				`(the connection asks for neither a persistent session nor a last will), and ForAnyValue: needs at least one value`,
		},
		{
			name:     "NotResource allow and exclusion",
			env:      testEnv(),
			policies: []NamedDocument{{Name: "cond", Document: conditional}},
			action:   ActionReceive, typ: "topic", res: "secret/1",
			want: `denied: no statement allows iot:Receive on arn:aws:iot:us-east-1:123456789012:topic/secret/1; ` +
				`nearest candidate: policy "cond" statement 1 allows iot:Receive except on NotResource "arn:aws:iot:us-east-1:123456789012:topic/secret/*", which matches it`,
		},
		{
			name:     "NotResource allow",
			env:      testEnv(),
			policies: []NamedDocument{{Name: "cond", Document: conditional}},
			action:   ActionReceive, typ: "topic", res: "public/1",
			want: `allowed: policy "cond" statement 1 allows iot:Receive on arn:aws:iot:us-east-1:123456789012:topic/public/1 (its NotResource does not list it)`,
		},
		{
			name:     "no statement covers the action",
			env:      testEnv(),
			policies: []NamedDocument{{Name: "device", Document: device}, {Name: "west", Document: otherRegion}},
			action:   "iot:DeleteThingShadow", typ: "thing", res: "dev1",
			want: `denied: no statement allows iot:DeleteThingShadow on arn:aws:iot:us-east-1:123456789012:thing/dev1; no Allow statement in the 2 attached policies covers iot:DeleteThingShadow`,
		},
		{
			name:   "no policies",
			env:    testEnv(),
			action: ActionConnect, typ: "client", res: "dev1",
			want: `denied: no statement allows iot:Connect on arn:aws:iot:us-east-1:123456789012:client/dev1; no policy is attached`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Compile(tt.policies, tt.env)
			got := c.Explain(tt.action, tt.typ, tt.res)
			if got.Reason != tt.want {
				t.Errorf("Reason\n got: %s\nwant: %s", got.Reason, tt.want)
			}
			if d := c.Decide(tt.action, tt.typ, tt.res); d.Allowed != got.Allowed || d.Policy != got.Policy || d.Statement != got.Statement {
				t.Errorf("Explain %+v disagrees with Decide %+v", got, d)
			}
			if strings.HasPrefix(tt.want, "allowed") != got.Allowed {
				t.Errorf("Allowed = %v", got.Allowed)
			}
		})
	}
}

func TestExcluded(t *testing.T) {
	doc := mustParse(t, `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"iot:Connect","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}},
		{"Effect":"Allow","Action":"iot:Publish","Resource":"*","Condition":{"StringLike":{"iot:ClientId":"dev*"}}},
		{"Effect":"Deny","Action":"iot:Connect","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"iot:ConnectAttributes":"PersistentConnect"}}}]}`)
	env := testEnv()
	env.SourceIP = netip.MustParseAddr("203.0.113.9")
	c := Compile([]NamedDocument{{Name: "p", Document: doc}}, env)
	want := []ExcludedStatement{
		{Policy: "p", Statement: 0, Reason: `condition IpAddress aws:SourceIp ["10.0.0.0/8"] was false: aws:SourceIp is "203.0.113.9"`},
		{Policy: "p", Statement: 2, Reason: `condition ForAnyValue:StringEquals iot:ConnectAttributes ["PersistentConnect"] was false: ` +
			`iot:ConnectAttributes has no value (the connection asks for neither a persistent session nor a last will), and ForAnyValue: needs at least one value`},
	}
	if got := c.Excluded(); !reflect.DeepEqual(got, want) {
		t.Errorf("Excluded()\n got: %+v\nwant: %+v", got, want)
	}
	var nilCompiled *Compiled
	if got := nilCompiled.Excluded(); got != nil {
		t.Errorf("nil Excluded() = %v", got)
	}
}

// TestHandBuiltCondition covers Statements built without ParseDocument, which carry only the raw
// Condition: Compile parses it, and one it cannot evaluate fails closed (an Allow grants nothing,
// a Deny denies).
func TestHandBuiltCondition(t *testing.T) {
	env := testEnv()
	doc := &Document{Version: Version2012, Statements: []Statement{
		{Effect: EffectAllow, Actions: []string{ActionConnect}, Resources: []string{"*"}, Condition: json.RawMessage(`{"StringEquals":{"iot:ClientId":"dev1"}}`)},
		{Effect: EffectAllow, Actions: []string{ActionPublish}, Resources: []string{"*"}, Condition: json.RawMessage(`{"StringEquals":{"iot:ClientId":"dev2"}}`)},
		{Effect: EffectAllow, Actions: []string{ActionReceive, ActionSubscribe}, Resources: []string{"*"}},
		{Effect: EffectDeny, Actions: []string{ActionReceive}, Resources: []string{"*"}, Condition: json.RawMessage(`{"Bogus":{"iot:ClientId":"x"}}`)},
		{Effect: EffectAllow, Actions: []string{ActionRetainPublish}, Resources: []string{"*"}, Conditions: []Condition{{Operator: "Bogus", Key: "iot:ClientId"}}},
		{Effect: EffectDeny, Actions: []string{ActionSubscribe}, Resources: []string{"*"}, Conditions: []Condition{{Operator: "StringEqualz", Key: "iot:ClientId"}}},
	}}
	c := Compile([]NamedDocument{{Name: "h", Document: doc}}, env)
	for _, ck := range []check{
		{ActionConnect, "client", "dev1", true, "h", 0},
		{ActionPublish, "topic", "a", false, "", -1},
		{ActionReceive, "topic", "a", false, "h", 3},
		{ActionRetainPublish, "topic", "a", false, "", -1},
		{ActionSubscribe, "topicfilter", "a", false, "h", 5},
	} {
		want := Decision{Allowed: ck.allowed, Policy: ck.policy, Statement: ck.statement}
		if got := c.Decide(ck.action, ck.typ, ck.name); got != want {
			t.Errorf("Decide(%s) = %+v, want %+v", ck.action, got, want)
		}
	}
	if r := c.Explain(ActionReceive, "topic", "a").Reason; !strings.Contains(r, "its Condition cannot be evaluated") || !strings.Contains(r, "so the Deny applies as if unconditional") {
		t.Errorf("Explain(Receive) = %s", r)
	}
	if r := c.Explain(ActionRetainPublish, "topic", "a").Reason; !strings.Contains(r, "cannot be evaluated: unknown condition operator") {
		t.Errorf("Explain(RetainPublish) = %s", r)
	}
}
