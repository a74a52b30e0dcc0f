package auth

import (
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
			name:     "conditional allow",
			env:      testEnv(),
			policies: []NamedDocument{{Name: "cond", Document: conditional}},
			action:   ActionConnect, typ: "client", res: "dev1",
			want: `denied: no statement allows iot:Connect on arn:aws:iot:us-east-1:123456789012:client/dev1; ` +
				`policy "cond" statement 0 (Sid "AttachedOnly") would allow it, but its Condition is not evaluated yet, so it grants nothing`,
		},
		{
			name:     "conditional deny",
			env:      testEnv(),
			policies: []NamedDocument{{Name: "cond", Document: conditional}},
			action:   ActionPublish, typ: "topic", res: "quiet/1",
			want: `denied: policy "cond" statement 2 explicitly denies iot:Publish on arn:aws:iot:us-east-1:123456789012:topic/quiet/1 ` +
				`(Resource "arn:aws:iot:us-east-1:123456789012:topic/quiet/*"); its Condition is not evaluated yet, so the Deny applies as if unconditional`,
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
