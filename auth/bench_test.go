package auth

import (
	"net/netip"
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

// benchCondPolicy is a device policy of the certificate-variable kind: five statements, four of
// them conditional (client ID = certificate CN, organization list, source network, persistent
// sessions), certificate variables in resources, and a Deny whose condition is false.
const benchCondPolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": "iot:Connect",
     "Resource": "arn:aws:iot:us-east-1:123456789012:client/${iot:Certificate.Subject.CommonName}",
     "Condition": {"Bool": {"iot:Connection.Thing.IsAttached": "true"},
                   "ForAllValues:StringNotEquals": {"iot:ConnectAttributes": "PersistentConnect"}}},
    {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
     "Resource": ["arn:aws:iot:us-east-1:123456789012:topic/org/${iot:Certificate.Subject.Organization}/${iot:ClientId}/*",
                  "arn:aws:iot:us-east-1:123456789012:topic/ou/${iot:Certificate.Subject.OrganizationalUnit.2}/*"],
     "Condition": {"ForAnyValue:StringEquals": {"iot:Certificate.Subject.Organization.List": ["Example Corp", "AnyCompany"]},
                   "IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:db8::/32"]}}},
    {"Effect": "Allow", "Action": "iot:Subscribe",
     "Resource": "arn:aws:iot:us-east-1:123456789012:topicfilter/org/${iot:Certificate.Subject.Organization}/${iot:ClientId}/*",
     "Condition": {"StringEquals": {"iot:ClientId": "${iot:Certificate.Subject.CommonName}"}}},
    {"Effect": "Deny", "Action": "iot:Publish",
     "Resource": "arn:aws:iot:us-east-1:123456789012:topic/org/*/admin/*",
     "Condition": {"StringNotEquals": {"iot:Certificate.Subject.OrganizationalUnit": "LightBulb"}}},
    {"Effect": "Deny", "Action": "iot:*", "Resource": "*",
     "Condition": {"NotIpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:db8::/32"]}}}
  ]
}`

// benchCondEnv is dev1 connecting from 203.0.113.7 with richCert.
func benchCondEnv(tb testing.TB) Environment {
	env := testEnv()
	env.Certificate = richCert(tb)
	env.SourceIP = netip.MustParseAddr("203.0.113.7")
	return env
}

var benchCondChecks = []check{
	{action: ActionConnect, typ: "client", name: "dev1", allowed: true},
	{action: ActionPublish, typ: "topic", name: "org/Example Corp/dev1/telemetry", allowed: true},
	{action: ActionPublish, typ: "topic", name: "org/Example Corp/dev2/telemetry"},
	{action: ActionSubscribe, typ: "topicfilter", name: "org/Example Corp/dev1/#", allowed: true},
	{action: ActionReceive, typ: "topic", name: "org/Example Corp/dev1/cmd", allowed: true},
}

// benchCases are the policies the benchmarks and the allocation test run.
func benchCases(tb testing.TB) []struct {
	name   string
	policy string
	env    Environment
	checks []check
} {
	return []struct {
		name   string
		policy string
		env    Environment
		checks []check
	}{
		{"thing-vars", benchPolicy, testEnv(), benchChecks},
		{"conditions-cert-vars", benchCondPolicy, benchCondEnv(tb), benchCondChecks},
	}
}

func BenchmarkDecide(b *testing.B) {
	for _, bc := range benchCases(b) {
		c := Compile([]NamedDocument{{Name: "device", Document: mustParse(b, bc.policy)}}, bc.env)
		for _, ck := range bc.checks {
			if got := c.Decide(ck.action, ck.typ, ck.name).Allowed; got != ck.allowed {
				b.Fatalf("%s: Decide(%s, %s/%s).Allowed = %v, want %v\n%s", bc.name, ck.action, ck.typ, ck.name, got, ck.allowed,
					c.Explain(ck.action, ck.typ, ck.name).Reason)
			}
			outcome := "deny"
			if ck.allowed {
				outcome = "allow"
			}
			b.Run(bc.name+"/"+strings.TrimPrefix(ck.action, "iot:")+"/"+outcome, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					c.Decide(ck.action, ck.typ, ck.name)
				}
			})
		}
	}
}

// BenchmarkCompile is the per-connection cost at CONNECT: resolving variables (parsing the
// certificate when a policy uses it) and evaluating every Condition.
func BenchmarkCompile(b *testing.B) {
	for _, bc := range benchCases(b) {
		policies := []NamedDocument{{Name: "device", Document: mustParse(b, bc.policy)}}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Compile(policies, bc.env)
			}
		})
	}
}

func BenchmarkParseDocument(b *testing.B) {
	for _, bc := range benchCases(b) {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseDocument(bc.policy); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
