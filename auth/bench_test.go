package auth

import (
	"strings"
	"testing"
)

// benchPolicy is a realistic device policy: five statements, thing and client-ID variables, a
// Deny, and a shadow action outside the five precomputed ones.
const benchPolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": "iot:Connect",
     "Resource": "arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}"},
    {"Effect": "Allow", "Action": ["iot:Publish", "iot:RetainPublish"],
     "Resource": ["arn:aws:iot:us-east-1:123456789012:topic/things/${iot:Connection.Thing.ThingName}/*",
                  "arn:aws:iot:us-east-1:123456789012:topic/$aws/things/${iot:ClientId}/shadow/*"]},
    {"Effect": "Allow", "Action": "iot:Subscribe",
     "Resource": ["arn:aws:iot:us-east-1:123456789012:topicfilter/things/${iot:Connection.Thing.ThingName}/*",
                  "arn:aws:iot:us-east-1:123456789012:topicfilter/broadcast/#"]},
    {"Effect": "Allow", "Action": ["iot:Receive", "iot:GetThingShadow"],
     "Resource": ["arn:aws:iot:us-east-1:123456789012:topic/things/${iot:Connection.Thing.ThingName}/*",
                  "arn:aws:iot:us-east-1:123456789012:topic/broadcast/*",
                  "arn:aws:iot:us-east-1:123456789012:thing/${iot:Connection.Thing.ThingName}"]},
    {"Effect": "Deny", "Action": ["iot:Publish", "iot:Receive"],
     "Resource": "arn:aws:iot:us-east-1:123456789012:topic/things/${iot:Connection.Thing.ThingName}/admin/*"}
  ]
}`

var benchChecks = []check{
	{action: ActionConnect, typ: "client", name: "dev1", allowed: true},
	{action: ActionPublish, typ: "topic", name: "things/dev1/telemetry/temperature", allowed: true},
	{action: ActionPublish, typ: "topic", name: "things/dev1/admin/reboot"},
	{action: ActionSubscribe, typ: "topicfilter", name: "broadcast/#", allowed: true},
	{action: ActionReceive, typ: "topic", name: "broadcast/firmware/v2", allowed: true},
	{action: ActionReceive, typ: "topic", name: "things/dev2/telemetry"},
	{action: "iot:GetThingShadow", typ: "thing", name: "dev1", allowed: true},
}

func BenchmarkDecide(b *testing.B) {
	c := Compile([]NamedDocument{{Name: "device", Document: mustParse(b, benchPolicy)}}, testEnv())
	for _, ck := range benchChecks {
		if got := c.Decide(ck.action, ck.typ, ck.name).Allowed; got != ck.allowed {
			b.Fatalf("Decide(%s, %s/%s).Allowed = %v, want %v", ck.action, ck.typ, ck.name, got, ck.allowed)
		}
		outcome := "deny"
		if ck.allowed {
			outcome = "allow"
		}
		b.Run(strings.TrimPrefix(ck.action, "iot:")+"/"+outcome, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.Decide(ck.action, ck.typ, ck.name)
			}
		})
	}
}

func BenchmarkCompile(b *testing.B) {
	policies := []NamedDocument{{Name: "device", Document: mustParse(b, benchPolicy)}}
	env := testEnv()
	b.ReportAllocs()
	for b.Loop() {
		Compile(policies, env)
	}
}

func BenchmarkParseDocument(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseDocument(benchPolicy); err != nil {
			b.Fatal(err)
		}
	}
}
