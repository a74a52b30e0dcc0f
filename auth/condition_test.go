package auth

import (
	"errors"
	"net/netip"
	"reflect"
	"testing"
)

// condEnv is a connection with every condition key known: thing dev1 (attributes site=plant-7,
// Floor=3), source 203.0.113.7, domain, a persistent session with a will on will/dev1.
func condEnv() Environment {
	env := testEnv()
	env.SourceIP = netip.MustParseAddr("203.0.113.7")
	env.DomainName = "abc123-ats.iot.us-east-1.amazonaws.com"
	env.PersistentConnect = true
	env.HasWill, env.WillTopic = true, "will/dev1"
	return env
}

// TestConditionOperators evaluates one Condition block per case, through ParseDocument and
// Compile: the statement allows iot:Connect exactly when the block holds.
func TestConditionOperators(t *testing.T) {
	clean := func(e *Environment) { e.PersistentConnect, e.HasWill, e.WillTopic = false, false, "" }
	tests := []struct {
		name      string
		env       func(*Environment) // adjusts condEnv, may be nil
		condition string
		want      bool
	}{
		// String operators.
		{"StringEquals", nil, `{"StringEquals":{"iot:ClientId":"dev1"}}`, true},
		{"StringEquals is case-sensitive", nil, `{"StringEquals":{"iot:ClientId":"DEV1"}}`, false},
		{"StringEquals has no wildcards", nil, `{"StringEquals":{"iot:ClientId":"dev*"}}`, false},
		{"StringEquals: values are ORed", nil, `{"StringEquals":{"iot:ClientId":["x","dev1"]}}`, true},
		{"StringEquals: no values", nil, `{"StringEquals":{"iot:ClientId":[]}}`, false},
		{"key names are case-insensitive", nil, `{"StringEquals":{"IOT:CLIENTID":"dev1"}}`, true},
		{"StringEquals with a variable", nil, `{"StringEquals":{"iot:ClientId":"${iot:Connection.Thing.ThingName}"}}`, true},
		{"StringEquals with an escape", func(e *Environment) { e.ClientID = "a*" }, `{"StringEquals":{"iot:ClientId":"a${*}"}}`, true},
		{"StringEquals with an unresolved variable compares literally", nil, `{"StringEquals":{"iot:ClientId":"${iot:Certificate.Subject.CommonName}"}}`, false},
		{"StringEquals on a missing key", nil, `{"StringEquals":{"iot:Unknown":"x"}}`, false},
		{"StringEquals on an empty client ID", func(e *Environment) { e.ClientID = "" }, `{"StringEquals":{"iot:ClientId":""}}`, false},
		{"StringEqualsIfExists on a missing key", nil, `{"StringEqualsIfExists":{"iot:Unknown":"x"}}`, true},
		{"StringEqualsIfExists on a present key", nil, `{"StringEqualsIfExists":{"iot:ClientId":"x"}}`, false},
		{"StringNotEquals", nil, `{"StringNotEquals":{"iot:ClientId":"x"}}`, true},
		{"StringNotEquals equal", nil, `{"StringNotEquals":{"iot:ClientId":"dev1"}}`, false},
		{"StringNotEquals: none of the values", nil, `{"StringNotEquals":{"iot:ClientId":["x","dev1"]}}`, false},
		{"StringNotEquals on a missing key", nil, `{"StringNotEquals":{"iot:Unknown":"x"}}`, true},
		{"StringNotEqualsIfExists on a missing key", nil, `{"StringNotEqualsIfExists":{"iot:Unknown":"x"}}`, true},
		{"StringNotEquals with an unresolved variable", nil, `{"StringNotEquals":{"iot:ClientId":"${iot:Certificate.Subject.CommonName}"}}`, true},
		{"StringEqualsIgnoreCase", nil, `{"StringEqualsIgnoreCase":{"iot:ClientId":"DEV1"}}`, true},
		{"StringEqualsIgnoreCase differs", nil, `{"StringEqualsIgnoreCase":{"iot:ClientId":"DEV2"}}`, false},
		{"StringNotEqualsIgnoreCase", nil, `{"StringNotEqualsIgnoreCase":{"iot:ClientId":"DEV1"}}`, false},
		{"StringNotEqualsIgnoreCase differs", nil, `{"StringNotEqualsIgnoreCase":{"iot:ClientId":"x"}}`, true},
		{"StringNotEqualsIgnoreCase on a missing key", nil, `{"StringNotEqualsIgnoreCase":{"iot:Unknown":"x"}}`, true},
		{"StringLike star", nil, `{"StringLike":{"iot:ClientId":"d*"}}`, true},
		{"StringLike question mark", nil, `{"StringLike":{"iot:ClientId":"dev?"}}`, true},
		{"StringLike is case-sensitive", nil, `{"StringLike":{"iot:ClientId":"D*"}}`, false},
		{"StringLike with a variable", nil, `{"StringLike":{"iot:ClientId":"${iot:Connection.Thing.ThingName}*"}}`, true},
		{"StringLike: a substituted star is literal", func(e *Environment) { e.ThingName = "d*" }, `{"StringLike":{"iot:ClientId":"${iot:Connection.Thing.ThingName}"}}`, false},
		{"StringLike on a missing key", nil, `{"StringLike":{"iot:Unknown":"*"}}`, false},
		{"StringLikeIfExists on a missing key", nil, `{"StringLikeIfExists":{"iot:Unknown":"x"}}`, true},
		{"StringNotLike", nil, `{"StringNotLike":{"iot:ClientId":"x*"}}`, true},
		{"StringNotLike matching", nil, `{"StringNotLike":{"iot:ClientId":["x*","d*"]}}`, false},
		{"StringNotLike on a missing key", nil, `{"StringNotLike":{"iot:Unknown":"*"}}`, true},
		{"iot:DomainName", nil, `{"StringLike":{"iot:DomainName":"*-ats.iot.us-east-1.amazonaws.com"}}`, true},
		{"iot:DomainName unknown", func(e *Environment) { e.DomainName = "" }, `{"StringLike":{"iot:DomainName":"*"}}`, false},
		{"variables need Version 2012-10-17", nil, `2008:{"StringEquals":{"iot:ClientId":"${iot:ClientId}"}}`, false},
		{"without Version a variable is literal text", func(e *Environment) { e.ClientID = "${iot:ClientId}" }, `2008:{"StringEquals":{"iot:ClientId":"${iot:ClientId}"}}`, true},

		// AND across keys and operators.
		{"AND across keys", nil, `{"StringEquals":{"iot:ClientId":"dev1","iot:Connection.Thing.ThingName":"other"}}`, false},
		{"AND across keys, all hold", nil, `{"StringEquals":{"iot:ClientId":"dev1","iot:Connection.Thing.ThingName":"dev1"}}`, true},
		{"AND across operators", nil, `{"StringEquals":{"iot:ClientId":"dev1"},"Bool":{"iot:Connection.Thing.IsAttached":"false"}}`, false},
		{"AND across operators, all hold", nil, `{"StringEquals":{"iot:ClientId":"dev1"},"Bool":{"iot:Connection.Thing.IsAttached":"true"}}`, true},

		// Numeric operators over the thing attribute Floor = "3".
		{"NumericEquals", nil, `{"NumericEquals":{"iot:Connection.Thing.Attributes[Floor]":"3"}}`, true},
		{"NumericEquals, a JSON number", nil, `{"NumericEquals":{"iot:Connection.Thing.Attributes[Floor]":3.0}}`, true},
		{"NumericEquals differs", nil, `{"NumericEquals":{"iot:Connection.Thing.Attributes[Floor]":[1,2]}}`, false},
		{"NumericNotEquals", nil, `{"NumericNotEquals":{"iot:Connection.Thing.Attributes[Floor]":"3"}}`, false},
		{"NumericNotEquals differs", nil, `{"NumericNotEquals":{"iot:Connection.Thing.Attributes[Floor]":"4"}}`, true},
		{"NumericNotEquals on a missing key", nil, `{"NumericNotEquals":{"iot:Connection.Thing.Attributes[none]":"4"}}`, true},
		{"NumericLessThan", nil, `{"NumericLessThan":{"iot:Connection.Thing.Attributes[Floor]":"4"}}`, true},
		{"NumericLessThan equal", nil, `{"NumericLessThan":{"iot:Connection.Thing.Attributes[Floor]":"3"}}`, false},
		{"NumericLessThanEquals", nil, `{"NumericLessThanEquals":{"iot:Connection.Thing.Attributes[Floor]":"3"}}`, true},
		{"NumericLessThanEquals below", nil, `{"NumericLessThanEquals":{"iot:Connection.Thing.Attributes[Floor]":"2.5"}}`, false},
		{"NumericGreaterThan", nil, `{"NumericGreaterThan":{"iot:Connection.Thing.Attributes[Floor]":"-1"}}`, true},
		{"NumericGreaterThan equal", nil, `{"NumericGreaterThan":{"iot:Connection.Thing.Attributes[Floor]":"3"}}`, false},
		{"NumericGreaterThanEquals", nil, `{"NumericGreaterThanEquals":{"iot:Connection.Thing.Attributes[Floor]":"3"}}`, true},
		{"NumericGreaterThanEquals above", nil, `{"NumericGreaterThanEquals":{"iot:Connection.Thing.Attributes[Floor]":"3e1"}}`, false},
		{"Numeric on a key that is not a number", nil, `{"NumericLessThan":{"iot:Connection.Thing.Attributes[site]":"100"}}`, false},
		{"NumericNotEquals on a key that is not a number", nil, `{"NumericNotEquals":{"iot:Connection.Thing.Attributes[site]":"100"}}`, true},
		{"Numeric on a missing key", nil, `{"NumericLessThan":{"iot:Connection.Thing.Attributes[none]":"100"}}`, false},
		{"NumericLessThanIfExists on a missing key", nil, `{"NumericLessThanIfExists":{"iot:Connection.Thing.Attributes[none]":"1"}}`, true},

		// Bool.
		{"Bool", nil, `{"Bool":{"iot:Connection.Thing.IsAttached":"true"}}`, true},
		{"Bool in any case", nil, `{"Bool":{"iot:Connection.Thing.IsAttached":"TRUE"}}`, true},
		{"Bool as a JSON boolean", nil, `{"Bool":{"iot:Connection.Thing.IsAttached":true}}`, true},
		{"Bool false", nil, `{"Bool":{"iot:Connection.Thing.IsAttached":false}}`, false},
		{"Bool of a detached thing", func(e *Environment) { e.ThingIsAttached = false }, `{"Bool":{"iot:Connection.Thing.IsAttached":"false"}}`, true},
		{"Bool on a key that is not a boolean", nil, `{"Bool":{"iot:ClientId":"true"}}`, false},
		{"Bool without a thing", func(e *Environment) { e.ThingName = "" }, `{"Bool":{"iot:Connection.Thing.IsAttached":"false"}}`, false},
		{"BoolIfExists without a thing", func(e *Environment) { e.ThingName = "" }, `{"BoolIfExists":{"iot:Connection.Thing.IsAttached":"true"}}`, true},

		// IpAddress / NotIpAddress over aws:SourceIp = 203.0.113.7.
		{"IpAddress", nil, `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, true},
		{"IpAddress, one address", nil, `{"IpAddress":{"aws:SourceIp":"203.0.113.7"}}`, true},
		{"IpAddress, host bits ignored", nil, `{"IpAddress":{"aws:SourceIp":"203.0.113.200/24"}}`, true},
		{"IpAddress outside", nil, `{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, false},
		{"IpAddress, values are ORed", nil, `{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","203.0.113.0/24"]}}`, true},
		{"IpAddress, IPv6 block for an IPv4 client", nil, `{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}`, false},
		{"IpAddress, IPv4-mapped block", nil, `{"IpAddress":{"aws:SourceIp":"::ffff:203.0.113.0/120"}}`, true},
		{"NotIpAddress", nil, `{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, true},
		{"NotIpAddress inside", nil, `{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","203.0.113.0/24"]}}`, false},
		{"IpAddress IPv6", func(e *Environment) { e.SourceIP = netip.MustParseAddr("2001:db8::5") }, `{"IpAddress":{"aws:SourceIp":"2001:DB8::/32"}}`, true},
		{"IpAddress IPv6 outside", func(e *Environment) { e.SourceIP = netip.MustParseAddr("2001:db8::5") }, `{"IpAddress":{"aws:SourceIp":"2001:db9::/32"}}`, false},
		{"IpAddress IPv6 client, IPv4 block", func(e *Environment) { e.SourceIP = netip.MustParseAddr("2001:db8::5") }, `{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}`, false},
		{"IpAddress IPv6 one address", func(e *Environment) { e.SourceIP = netip.MustParseAddr("2001:db8::5") }, `{"IpAddress":{"aws:SourceIp":"2001:db8:0::5"}}`, true},
		{"NotIpAddress IPv6", func(e *Environment) { e.SourceIP = netip.MustParseAddr("2001:db8::5") }, `{"NotIpAddress":{"aws:SourceIp":"2001:db8::/32"}}`, false},
		{"IpAddress, IPv4-mapped client", func(e *Environment) { e.SourceIP = netip.MustParseAddr("::ffff:203.0.113.7") }, `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, true},
		{"IpAddress, unknown address", func(e *Environment) { e.SourceIP = netip.Addr{} }, `{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}`, false},
		{"NotIpAddress, unknown address", func(e *Environment) { e.SourceIP = netip.Addr{} }, `{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, true},
		{"IpAddressIfExists, unknown address", func(e *Environment) { e.SourceIP = netip.Addr{} }, `{"IpAddressIfExists":{"aws:SourceIp":"10.0.0.0/8"}}`, true},
		{"IpAddress on a key that is not an address", nil, `{"IpAddress":{"iot:ClientId":"0.0.0.0/0"}}`, false},
		{"aws:SourceIp with string operators", nil, `{"StringLike":{"aws:SourceIp":"203.0.113.*"}}`, true},

		// ARN operators over iot:LastWillTopic = arn:aws:iot:us-east-1:123456789012:topic/will/dev1.
		{"ArnEquals", nil, `{"ArnEquals":{"iot:LastWillTopic":"arn:aws:iot:us-east-1:123456789012:topic/will/dev1"}}`, true},
		{"ArnEquals with wildcards", nil, `{"ArnEquals":{"iot:LastWillTopic":"arn:aws:iot:*:*:topic/will/*"}}`, true},
		{"ArnLike", nil, `{"ArnLike":{"iot:LastWillTopic":"arn:aws:iot:us-*:????????????:topic/will/dev?"}}`, true},
		{"ArnLike with a variable", nil, `{"ArnLike":{"iot:LastWillTopic":"arn:aws:iot:*:*:topic/will/${iot:ClientId}"}}`, true},
		{"ArnLike other topic", nil, `{"ArnLike":{"iot:LastWillTopic":"arn:aws:iot:*:*:topic/other/*"}}`, false},
		{"ArnLike: a wildcard does not cross a colon", nil, `{"ArnLike":{"iot:LastWillTopic":"arn:aws:iot:*:topic/will/dev1"}}`, false},
		{"ArnLike: an incomplete ARN matches nothing", nil, `{"ArnLike":{"iot:LastWillTopic":"arn:aws:*"}}`, false},
		{"ArnLike star", nil, `{"ArnLike":{"iot:LastWillTopic":"*"}}`, true},
		{"ArnNotEquals", nil, `{"ArnNotEquals":{"iot:LastWillTopic":"arn:aws:iot:us-east-1:123456789012:topic/other"}}`, true},
		{"ArnNotLike matching", nil, `{"ArnNotLike":{"iot:LastWillTopic":"arn:aws:iot:*:*:topic/will/*"}}`, false},
		{"ArnLike on a key that is not an ARN", nil, `{"ArnLike":{"iot:ClientId":"arn:*:*:*:*:*"}}`, false},
		{"ArnNotLike on a key that is not an ARN", nil, `{"ArnNotLike":{"iot:ClientId":"arn:*:*:*:*:*"}}`, true},
		{"ArnLike without a will", clean, `{"ArnLike":{"iot:LastWillTopic":"*"}}`, false},
		{"ArnNotLike without a will", clean, `{"ArnNotLike":{"iot:LastWillTopic":"*"}}`, true},
		{"ArnLikeIfExists without a will", clean, `{"ArnLikeIfExists":{"iot:LastWillTopic":"arn:aws:iot:*:*:topic/x"}}`, true},

		// Null.
		{"Null true on a missing key", nil, `{"Null":{"iot:Unknown":"true"}}`, true},
		{"Null true on a present key", nil, `{"Null":{"iot:ClientId":"true"}}`, false},
		{"Null false on a present key", nil, `{"Null":{"iot:ClientId":false}}`, true},
		{"Null false on a missing key", nil, `{"Null":{"iot:Certificate.Subject.CommonName":"false"}}`, false},
		{"Null either", nil, `{"Null":{"iot:Unknown":["true","false"]}}`, true},

		// Set operators over iot:ConnectAttributes = [PersistentConnect, LastWill].
		{"ForAnyValue:StringEquals", nil, `{"ForAnyValue:StringEquals":{"iot:ConnectAttributes":"PersistentConnect"}}`, true},
		{"ForAnyValue:StringEquals, none", nil, `{"ForAnyValue:StringEquals":{"iot:ConnectAttributes":"Other"}}`, false},
		{"ForAnyValue:StringLike", nil, `{"ForAnyValue:StringLike":{"iot:ConnectAttributes":"Last*"}}`, true},
		{"ForAnyValue:StringNotEquals", nil, `{"ForAnyValue:StringNotEquals":{"iot:ConnectAttributes":"PersistentConnect"}}`, true},
		{"ForAnyValue:StringNotEquals, every value listed", nil, `{"ForAnyValue:StringNotEquals":{"iot:ConnectAttributes":["PersistentConnect","LastWill"]}}`, false},
		{"ForAllValues:StringEquals, subset", nil, `{"ForAllValues:StringEquals":{"iot:ConnectAttributes":["PersistentConnect","LastWill"]}}`, true},
		{"ForAllValues:StringEquals, not a subset", nil, `{"ForAllValues:StringEquals":{"iot:ConnectAttributes":"PersistentConnect"}}`, false},
		{"ForAllValues:StringEquals, empty list", nil, `{"ForAllValues:StringEquals":{"iot:ConnectAttributes":[]}}`, false},
		{"ForAllValues:StringNotEquals", nil, `{"ForAllValues:StringNotEquals":{"iot:ConnectAttributes":"PersistentConnect"}}`, false},
		{"ForAllValues:StringNotEquals, disjoint", nil, `{"ForAllValues:StringNotEquals":{"iot:ConnectAttributes":"Other"}}`, true},
		{"no set operator on a multi-valued key: any value", nil, `{"StringEquals":{"iot:ConnectAttributes":"LastWill"}}`, true},
		{"no set operator, negated: no value", nil, `{"StringNotEquals":{"iot:ConnectAttributes":"LastWill"}}`, false},
		{"only a will", func(e *Environment) { e.PersistentConnect = false }, `{"ForAllValues:StringEquals":{"iot:ConnectAttributes":"LastWill"}}`, true},
		{"only a persistent session", func(e *Environment) { e.HasWill = false }, `{"ForAllValues:StringEquals":{"iot:ConnectAttributes":"LastWill"}}`, false},
		{"clean, ForAllValues: no attributes", clean, `{"ForAllValues:StringEquals":{"iot:ConnectAttributes":[]}}`, true},
		{"clean, ForAllValues:StringNotEquals", clean, `{"ForAllValues:StringNotEquals":{"iot:ConnectAttributes":"PersistentConnect"}}`, true},
		{"clean, ForAnyValue", clean, `{"ForAnyValue:StringEquals":{"iot:ConnectAttributes":"PersistentConnect"}}`, false},
		{"clean, ForAnyValue negated", clean, `{"ForAnyValue:StringNotEquals":{"iot:ConnectAttributes":"PersistentConnect"}}`, false},
		{"clean, ForAnyValue...IfExists", clean, `{"ForAnyValue:StringEqualsIfExists":{"iot:ConnectAttributes":"PersistentConnect"}}`, true},
		{"clean, Null", clean, `{"Null":{"iot:ConnectAttributes":"true"}}`, true},
		{"set operator on a single-valued key", nil, `{"ForAnyValue:StringEquals":{"iot:ClientId":"dev1"}}`, true},
		{"ForAllValues on a missing key", nil, `{"ForAllValues:StringEquals":{"iot:Unknown":"x"}}`, true},
		{"ForAllValues:NumericLessThan", nil, `{"ForAllValues:NumericLessThan":{"iot:Connection.Thing.Attributes[Floor]":"10"}}`, true},

		// Certificate keys.
		{"client ID equals the certificate CN", nil, `{"StringEquals":{"iot:ClientId":"${iot:Certificate.Subject.CommonName}"}}@cert`, true},
		{"ForAllValues over Organization.List", nil, `{"ForAllValues:StringEquals":{"iot:Certificate.Subject.Organization.List":["Example Corp","AnyCompany"]}}@cert`, true},
		{"ForAllValues over Organization.List, not all listed", nil, `{"ForAllValues:StringEquals":{"iot:Certificate.Subject.Organization.List":"Example Corp"}}@cert`, false},
		{"ForAnyValue over Organization.List", nil, `{"ForAnyValue:StringEquals":{"iot:Certificate.Subject.Organization.List":"AnyCompany"}}@cert`, true},
		{"plain attribute is the first value", nil, `{"StringEquals":{"iot:Certificate.Subject.Organization":"AnyCompany"}}@cert`, false},
		{".1 is the second value", nil, `{"StringEquals":{"iot:Certificate.Subject.Organization.1":"AnyCompany"}}@cert`, true},
		{"AvailableKeys", nil, `{"ForAnyValue:StringEquals":{"iot:Certificate.AvailableKeys":"iot:Certificate.Subject.CommonName"}}@cert`, true},
		{"Null on certificate keys", nil, `{"Null":{"iot:Certificate.SerialNumber":"false","iot:Certificate.Subject.CommonName":"false"}}@cert`, true},
		{"Null on an unusable value", nil, `{"Null":{"iot:Certificate.Subject.OrganizationalUnit.1":"true"}}@cert`, true},
		{"certificate keys without a certificate", nil, `{"Null":{"iot:Certificate.SerialNumber":"true"}}`, true},
		{"serial number", nil, `{"StringEquals":{"iot:Certificate.SerialNumber":"10525622389124227206"}}@cert`, true},
		{"DNS name", nil, `{"StringLike":{"iot:Certificate.Subject.AlternativeName.DNSName":"*.com"}}@cert`, true},
	}
	cert := richCert(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := condEnv()
			if tt.env != nil {
				tt.env(&env)
			}
			cond, version := tt.condition, `"Version":"2012-10-17",`
			if len(cond) > 5 && cond[:5] == "2008:" {
				cond, version = cond[5:], ""
			}
			if n := len(cond); n > 5 && cond[n-5:] == "@cert" {
				cond, env.Certificate = cond[:n-5], cert
			}
			d := mustParse(t, `{`+version+`"Statement":{"Effect":"Allow","Action":"iot:Connect","Resource":"*","Condition":`+cond+`}}`)
			c := Compile([]NamedDocument{{Name: "p", Document: d}}, env)
			if got := c.Decide(ActionConnect, "client", env.ClientID).Allowed; got != tt.want {
				t.Errorf("condition %s holds = %v, want %v\n%s", cond, got, tt.want, c.Explain(ActionConnect, "client", env.ClientID).Reason)
			}
			// The same condition on a Deny applies exactly when it holds.
			dd := mustParse(t, `{`+version+`"Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"},`+
				`{"Effect":"Deny","Action":"iot:Connect","Resource":"*","Condition":`+cond+`}]}`)
			c = Compile([]NamedDocument{{Name: "p", Document: dd}}, env)
			if got := c.Decide(ActionConnect, "client", env.ClientID).Allowed; got == tt.want {
				t.Errorf("Deny with condition %s: allowed = %v, want %v", cond, got, !tt.want)
			}
			if !tt.want && len(c.Excluded()) != 1 {
				t.Errorf("Excluded() = %+v, want the Deny", c.Excluded())
			}
		})
	}
}

func TestParseConditions(t *testing.T) {
	got := mustParse(t, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{
		"StringEquals":{"iot:ClientId":["a","b"],"iot:DomainName":"d"},
		"ForAllValues:StringLikeIfExists":{"iot:ConnectAttributes":[]},
		"NumericLessThan":{"k":[1, 2.5e3]},
		"Bool":{"k":true},
		"Null":{"k":"false"}}}}`).Statements[0].Conditions
	want := []Condition{
		{Operator: "StringEquals", Key: "iot:ClientId", Values: []string{"a", "b"}},
		{Operator: "StringEquals", Key: "iot:DomainName", Values: []string{"d"}},
		{Operator: "ForAllValues:StringLikeIfExists", Key: "iot:ConnectAttributes", Values: []string{}},
		{Operator: "NumericLessThan", Key: "k", Values: []string{"1", "2.5e3"}},
		{Operator: "Bool", Key: "k", Values: []string{"true"}},
		{Operator: "Null", Key: "k", Values: []string{"false"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Conditions\n got: %+v\nwant: %+v", got, want)
	}
}

func TestParseConditionErrors(t *testing.T) {
	wrap := func(cond string) string {
		return `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":` + cond + `}]}`
	}
	tests := []struct {
		name, cond, want string
	}{
		{"unknown operator", `{"StringEqual":{"iot:ClientId":"a"}}`,
			`Statement[0].Condition.StringEqual: unknown condition operator; the operators are StringEquals, StringNotEquals, StringEqualsIgnoreCase, StringNotEqualsIgnoreCase, StringLike, StringNotLike, NumericEquals, NumericNotEquals, NumericLessThan, NumericLessThanEquals, NumericGreaterThan, NumericGreaterThanEquals, Bool, IpAddress, NotIpAddress, ArnEquals, ArnLike, ArnNotEquals, ArnNotLike, Null, optionally prefixed with "ForAnyValue:" or "ForAllValues:" and suffixed with "IfExists" (except Null)`},
		{"operator case", `{"stringequals":{"iot:ClientId":"a"}}`,
			`Statement[0].Condition.stringequals: unknown condition operator (operator names are case-sensitive: did you mean "StringEquals"?)`},
		{"operator case with prefix and suffix", `{"ForAnyValue:stringLikeifexists":{"iot:ClientId":"a"}}`,
			`Statement[0].Condition.ForAnyValue:stringLikeifexists: unknown condition operator (operator names are case-sensitive: did you mean "ForAnyValue:StringLikeIfExists"?)`},
		{"set operator typo", `{"ForAnyValues:StringEquals":{"iot:ClientId":"a"}}`,
			`Statement[0].Condition.ForAnyValues:StringEquals: unknown set operator "ForAnyValues:": write "ForAnyValue:" or "ForAllValues:" (case-sensitive)`},
		{"set operator case", `{"forallvalues:StringEquals":{"iot:ClientId":"a"}}`,
			`Statement[0].Condition.forallvalues:StringEquals: unknown set operator "forallvalues:": write "ForAnyValue:" or "ForAllValues:" (case-sensitive)`},
		{"unknown set operator", `{"ForSomeValues:StringEquals":{"iot:ClientId":"a"}}`,
			`Statement[0].Condition.ForSomeValues:StringEquals: unknown set operator "ForSomeValues:": the only prefixes are "ForAnyValue:" and "ForAllValues:"`},
		{"date operator", `{"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}`,
			`Statement[0].Condition.DateLessThan: IAM operator DateLessThan is not supported: AWS IoT provides no date or binary condition keys`},
		{"binary operator", `{"BinaryEqualsIfExists":{"k":"AAAA"}}`,
			`Statement[0].Condition.BinaryEqualsIfExists: IAM operator BinaryEquals is not supported: AWS IoT provides no date or binary condition keys`},
		{"IfExists alone", `{"IfExists":{"k":"a"}}`, `Statement[0].Condition.IfExists: unknown condition operator; the operators are StringEquals, StringNotEquals, StringEqualsIgnoreCase, StringNotEqualsIgnoreCase, StringLike, StringNotLike, NumericEquals, NumericNotEquals, NumericLessThan, NumericLessThanEquals, NumericGreaterThan, NumericGreaterThanEquals, Bool, IpAddress, NotIpAddress, ArnEquals, ArnLike, ArnNotEquals, ArnNotLike, Null, optionally prefixed with "ForAnyValue:" or "ForAllValues:" and suffixed with "IfExists" (except Null)`},
		{"Null with IfExists", `{"NullIfExists":{"k":"true"}}`,
			`Statement[0].Condition.NullIfExists: Null takes neither a ForAnyValue:/ForAllValues: prefix nor the IfExists suffix: it tests whether the key is present`},
		{"Null with a set operator", `{"ForAnyValue:Null":{"k":"true"}}`,
			`Statement[0].Condition.ForAnyValue:Null: Null takes neither a ForAnyValue:/ForAllValues: prefix nor the IfExists suffix: it tests whether the key is present`},
		{"operator value", `{"StringEquals":"a"}`,
			`Statement[0].Condition.StringEquals: must be an object of condition keys and values, such as {"iot:ClientId": "dev1"}, got string`},
		{"duplicate operator", `{"StringEquals":{"a":"b"},"StringEquals":{"c":"d"}}`, `Statement[0].Condition.StringEquals: duplicate key`},
		{"duplicate key", `{"StringEquals":{"a":"b","a":"d"}}`, `Statement[0].Condition.StringEquals.a: duplicate key`},
		{"empty key", `{"StringEquals":{"":"b"}}`, `Statement[0].Condition.StringEquals.: a condition key must not be empty`},
		{"null value", `{"StringEquals":{"iot:ClientId":null}}`,
			`Statement[0].Condition.StringEquals.iot:ClientId: must be a string, number or boolean, or an array of them, got null`},
		{"object value", `{"StringEquals":{"iot:ClientId":{"a":1}}}`,
			`Statement[0].Condition.StringEquals.iot:ClientId: must be a string, number or boolean, or an array of them, got object`},
		{"nested array", `{"StringEquals":{"iot:ClientId":["a",["b"]]}}`,
			`Statement[0].Condition.StringEquals.iot:ClientId[1]: must be a string, number or boolean, got array`},
		{"not a boolean", `{"Bool":{"iot:Connection.Thing.IsAttached":"yes"}}`,
			`Statement[0].Condition.Bool.iot:Connection.Thing.IsAttached: "yes" is not a boolean: write "true" or "false"`},
		{"not a boolean in a list", `{"Bool":{"iot:Connection.Thing.IsAttached":["true", 1]}}`,
			`Statement[0].Condition.Bool.iot:Connection.Thing.IsAttached[1]: "1" is not a boolean: write "true" or "false"`},
		{"Null not a boolean", `{"Null":{"k":"maybe"}}`, `Statement[0].Condition.Null.k: "maybe" is not a boolean: write "true" or "false"`},
		{"bad CIDR prefix length", `{"IpAddress":{"aws:SourceIp":"10.0.0.0/33"}}`,
			`Statement[0].Condition.IpAddress.aws:SourceIp: "10.0.0.0/33" is not a CIDR block: the prefix length must be a number from 0 to 32 for IPv4, to 128 for IPv6`},
		{"bad CIDR address", `{"NotIpAddressIfExists":{"aws:SourceIp":["10.0.0.0/8","not-an-ip"]}}`,
			`Statement[0].Condition.NotIpAddressIfExists.aws:SourceIp[1]: "not-an-ip" is not an IP address or CIDR block such as "203.0.113.0/24" or "2001:db8::/32"`},
		{"variable in a CIDR", `{"IpAddress":{"aws:SourceIp":"${aws:SourceIp}"}}`,
			`Statement[0].Condition.IpAddress.aws:SourceIp: "${aws:SourceIp}" is not an IP address or CIDR block such as "203.0.113.0/24" or "2001:db8::/32"`},
		{"not a number", `{"NumericLessThan":{"k":"ten"}}`, `Statement[0].Condition.NumericLessThan.k: "ten" is not a number`},
		{"NaN", `{"NumericEquals":{"k":"NaN"}}`, `Statement[0].Condition.NumericEquals.k: "NaN" is not a number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseDocument(wrap(tt.cond))
			if err == nil {
				t.Fatal("ParseDocument succeeded")
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got: %s\nwant: %s", err, tt.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Offset != -1 {
				t.Errorf("error %#v is not a field *ParseError", err)
			}
		})
	}
}

// TestConditionKeys checks the value of every non-certificate key AWS IoT provides.
func TestConditionKeys(t *testing.T) {
	env := condEnv()
	sc := newScope(&env)
	tests := []struct {
		key  string
		want string // rendered as keyValue.String
		miss miss
	}{
		{"iot:ClientId", `"dev1"`, present},
		{"aws:SourceIp", `"203.0.113.7"`, present},
		{"AWS:SOURCEIP", `"203.0.113.7"`, present},
		{"iot:DomainName", `"abc123-ats.iot.us-east-1.amazonaws.com"`, present},
		{"iot:ConnectAttributes", `["PersistentConnect","LastWill"]`, present},
		{"iot:LastWillTopic", `"arn:aws:iot:us-east-1:123456789012:topic/will/dev1"`, present},
		{"iot:Connection.Thing.ThingName", `"dev1"`, present},
		{"iot:Connection.Thing.ThingTypeName", `"sensor"`, present},
		{"iot:Connection.Thing.IsAttached", `"true"`, present},
		{"iot:Connection.Thing.Attributes[site]", `"plant-7"`, present},
		{"iot:Connection.Thing.Attributes[Site]", ``, missNoThingAttr},
		{"iot:Connection.Thing.Other", ``, missUnknown},
		{"iot:Certificate.Subject.CommonName", ``, missNoCertificate},
		{"aws:SecureTransport", ``, missUnknown},
	}
	for _, tt := range tests {
		v, m := sc.lookup(tt.key)
		got := ""
		if m == present {
			got = v.String()
		}
		if got != tt.want || m != tt.miss {
			t.Errorf("lookup(%s) = %s miss %d, want %s miss %d", tt.key, got, m, tt.want, tt.miss)
		}
		if m != present && sc.describeMiss(tt.key, m) == "" {
			t.Errorf("describeMiss(%s) is empty", tt.key)
		}
	}
	if v, ok := sc.variable("iot:ConnectAttributes"); ok {
		t.Errorf("a multi-valued key was substituted: %q", v)
	}
	if v, ok := sc.variable("aws:SourceIp"); !ok || v != "203.0.113.7" {
		t.Errorf("${aws:SourceIp} = %q, %v", v, ok)
	}
	env.SourceIP = netip.MustParseAddr("::ffff:10.1.2.3")
	if v, _ := sc.lookup("aws:SourceIp"); v.one != "10.1.2.3" {
		t.Errorf("IPv4-mapped source = %q, want 10.1.2.3", v.one)
	}
	env.Partition, env.WillTopic = "aws-cn", "a/+/#"
	if v, _ := sc.lookup("iot:LastWillTopic"); v.one != "arn:aws-cn:iot:us-east-1:123456789012:topic/a/+/#" {
		t.Errorf("iot:LastWillTopic = %q", v.one)
	}
}
