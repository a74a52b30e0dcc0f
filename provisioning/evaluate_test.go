package provisioning

import (
	"errors"
	"maps"
	"strings"
	"testing"
)

// TestEvaluateIntrinsics covers each intrinsic function, defaults, built-ins and mappings.
func TestEvaluateIntrinsics(t *testing.T) {
	body := `{
	  "Parameters": {"Serial": {"Type": "String"}, "Loc": {"Type": "String", "Default": "Seattle"}, "N": {"Type": "Number", "Default": 3}},
	  "Mappings": {"M": {"Seattle": {"url": "https://s"}, "Paris": {"url": "https://p"}}},
	  "Resources": {
	    "thing": {"Type": "AWS::IoT::Thing", "Properties": {
	      "ThingName": {"Fn::Join": ["-", ["dev", {"Ref": "Serial"}, {"Fn::Select": [1, {"Fn::Split": [":", "a:b:c"]}]}]]},
	      "AttributePayload": {"n": {"Ref": "N"}, "s": {"Fn::Sub": ["${Loc}/${x}/${!lit}", {"x": {"Ref": "Serial"}}]}},
	      "ThingGroups": [{"Fn::Sub": "g-${Loc}"}], "ThingTypeName": "type", "BillingGroup": {"Fn::Sub": "bill-${Loc}"}},
	      "OverrideSettings": {"ATTRIBUTE_PAYLOAD": "MERGE", "ThingGroups": "REPLACE"}},
	    "cert": {"Type": "AWS::IoT::Certificate", "Properties": {"CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "Inactive"}, "OverrideSettings": {"Status": "REPLACE"}},
	    "named": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyName": "existing"}},
	    "inline": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyDocument": {"Version": "2012-10-17", "Statement": []}}}
	  },
	  "DeviceConfiguration": {"url": {"Fn::FindInMap": ["M", {"Ref": "Loc"}, "url"]}, "plain": "x"}
	}`
	b, err := ParseBody(body, FleetProvisioning)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := b.Evaluate(map[string]string{"Serial": "42", "Loc": "Paris", "AWS::IoT::Certificate::Id": "abc"})
	if err != nil {
		t.Fatal(err)
	}
	th := plan.Thing
	if th.Name != "dev-42-b" || th.TypeName != "type" || !th.HasGroups || th.Groups[0] != "g-Paris" || th.BillingGroup != "bill-Paris" {
		t.Errorf("thing %+v", th)
	}
	if want := map[string]string{"n": "3", "s": "Paris/42/${lit}"}; !maps.Equal(th.Attributes, want) {
		t.Errorf("attributes %v, want %v", th.Attributes, want)
	}
	if th.Overrides["AttributePayload"] != "MERGE" || th.Overrides["ThingGroups"] != "REPLACE" {
		t.Errorf("overrides %v", th.Overrides)
	}
	if c := plan.Certificate; c.ID != "abc" || c.Status != "INACTIVE" || c.Override != "REPLACE" {
		t.Errorf("certificate %+v", c)
	}
	// Resources are evaluated in logical-id order: "inline", then "named".
	if len(plan.Policies) != 2 || plan.Policies[1].Name != "existing" || plan.Policies[1].Document != "" ||
		len(plan.Policies[0].Name) != 40 || strings.ToUpper(plan.Policies[0].Name) != plan.Policies[0].Name || plan.Policies[0].Document == "" {
		t.Errorf("policies %+v", plan.Policies)
	}
	if want := map[string]string{"url": "https://p", "plain": "x"}; !maps.Equal(plan.DeviceConfiguration, want) {
		t.Errorf("deviceConfiguration %v", plan.DeviceConfiguration)
	}
}

// TestEvaluateFailures: each failure is a 400 naming where.
func TestEvaluateFailures(t *testing.T) {
	for _, tc := range []struct{ name, thingName, want string }{
		{"missing parameter", `{"Ref": "Missing"}`, "parameter Missing has no value"},
		{"select out of range", `{"Fn::Select": [5, ["a"]]}`, "index 5 is outside"},
		{"map miss", `{"Fn::FindInMap": ["M", "x", "y"]}`, "no value at Mappings.M.x.y"},
		{"sub unknown", `{"Fn::Sub": "${Nope}"}`, "variable Nope has no value"},
		{"select bad index", `{"Fn::Select": ["one", ["a"]]}`, "is not an index"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := ParseBody(`{"Mappings":{"M":{"a":{"b":"c"}}},"Resources":{"t":{"Type":"AWS::IoT::Thing","Properties":{"ThingName":`+tc.thingName+`}}}}`, FleetProvisioning)
			if err != nil {
				t.Fatal(err)
			}
			_, err = b.Evaluate(nil)
			var de *DeviceError
			if !errors.As(err, &de) || de.StatusCode != 400 || !strings.Contains(de.ErrorMessage, tc.want) || !strings.Contains(de.ErrorMessage, "Resources.t.Properties.ThingName") {
				t.Errorf("error %v, want 400 naming the field and %q", err, tc.want)
			}
		})
	}
}

// TestParseBodyRefusals: structural errors are refused at create, naming the field.
func TestParseBodyRefusals(t *testing.T) {
	thing := `"t":{"Type":"AWS::IoT::Thing","Properties":{"ThingName":"a"}}`
	for _, tc := range []struct{ body, field string }{
		{``, "empty"},
		{`[]`, "not a JSON object"},
		{`{"Resources":{` + thing + `}} trailing`, "after the JSON object"},
		{`{"Resources":{` + thing + `,"t2":{"Type":"AWS::IoT::Thing","Properties":{"ThingName":"b"}}}}`, "at most one AWS::IoT::Thing"},
		{`{"Resources":{"t":{"Type":"AWS::IoT::Thing","Properties":{}}}}`, "Resources.t.Properties.ThingName: required"},
		{`{"Resources":{"c":{"Type":"AWS::IoT::Certificate","Properties":{"CertificateId":"a","CertificatePem":"b"}}}}`, "exactly one of"},
		{`{"Resources":{"c":{"Type":"AWS::IoT::Certificate","Properties":{"CertificateId":"a","Status":"GONE"}}}}`, "Resources.c.Properties.Status"},
		{`{"Resources":{"p":{"Type":"AWS::IoT::Policy","Properties":{"PolicyName":"a","PolicyDocument":"{}"}}}}`, "exactly one of PolicyName or PolicyDocument"},
		{`{"Resources":{"p":{"Type":"AWS::IoT::Policy","Properties":{"PolicyName":"a"},"OverrideSettings":{"Status":"REPLACE"}}}}`, "Resources.p.OverrideSettings"},
		{`{"Resources":{"t":{"Type":"AWS::IoT::Thing","Properties":{"ThingName":"a"},"OverrideSettings":{"AttributePayload":"MAYBE"}}}}`, "Resources.t.OverrideSettings.AttributePayload"},
		{`{"Mappings":{"M":{"a":{"b":{"Ref":"x"}}}},"Resources":{` + thing + `}}`, "Mappings.M.a.b"},
		{`{"Resources":{` + thing + `},"DeviceConfiguration":{"k":{"Fn::GetAtt":["a","b"]}}}`, "DeviceConfiguration.k.Fn::GetAtt"},
		{`{"Resources":{"t":{"Type":"AWS::IoT::Thing","Properties":{"ThingName":{"Fn::Sub":[1,{}]}}}}}`, "Fn::Sub[0]"},
		{`{"Parameters":{"p":{"Default":"x"}},"Resources":{` + thing + `}}`, "Parameters.p.Type"},
	} {
		_, err := ParseBody(tc.body, FleetProvisioning)
		if !errors.Is(err, ErrInvalidRequest) || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("body %s: error %v, want InvalidRequest naming %q", tc.body, err, tc.field)
		}
	}
}

func TestParseTopic(t *testing.T) {
	for topic, want := range map[string]Request{
		"$aws/certificates/create/json":                  {Op: OpCreateKeysAndCertificate, Format: "json"},
		"$aws/certificates/create/cbor":                  {Op: OpCreateKeysAndCertificate, Format: "cbor"},
		"$aws/certificates/create-from-csr/cbor":         {Op: OpCreateCertificateFromCSR, Format: "cbor"},
		"$aws/provisioning-templates/T-1/provision/json": {Op: OpRegisterThing, Template: "T-1", Format: "json"},
	} {
		if got, ok := ParseTopic(topic); !ok || got != want {
			t.Errorf("%s: %+v %v", topic, got, ok)
		}
	}
	for _, topic := range []string{
		"$aws/certificates/create/json/accepted", "$aws/certificates/create/xml", "$aws/provisioning-templates//provision/json",
		"$aws/provisioning-templates/T/provision/json/rejected", "things/x", "$aws/things/x/shadow/get",
	} {
		if _, ok := ParseTopic(topic); ok {
			t.Errorf("%s parsed as a request", topic)
		}
	}
}
