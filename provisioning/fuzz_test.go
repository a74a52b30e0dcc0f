package provisioning

import (
	"errors"
	"testing"
)

// FuzzTemplate: any body either is refused at parse with InvalidRequest, or evaluates to a plan
// or a 400 DeviceError — never a panic.
func FuzzTemplate(f *testing.F) {
	f.Add(`{"Resources":{"t":{"Type":"AWS::IoT::Thing","Properties":{"ThingName":{"Fn::Join":["",["a",{"Ref":"P"}]]}}}}}`, "x")
	f.Add(`{"Mappings":{"M":{"a":{"b":"c"}}},"Resources":{"t":{"Type":"AWS::IoT::Thing","Properties":{"ThingName":{"Fn::FindInMap":["M",{"Ref":"P"},"b"]}}}},"DeviceConfiguration":{"k":{"Fn::Select":[{"Ref":"P"},{"Fn::Split":[",","a,b"]}]}}}`, "1")
	f.Add(`{"Resources":{"p":{"Type":"AWS::IoT::Policy","Properties":{"PolicyDocument":{"Fn::Sub":["${a}${!b}",{"a":{"Ref":"P"}}]}}}}}`, "}")
	f.Fuzz(func(t *testing.T, body, param string) {
		b, err := ParseBody(body, FleetProvisioning)
		if err != nil {
			if !errors.Is(err, ErrInvalidRequest) {
				t.Fatalf("parse error of another kind: %v", err)
			}
			return
		}
		if _, err := b.Evaluate(map[string]string{"P": param, "AWS::IoT::Certificate::Id": "id"}); err != nil {
			var de *DeviceError
			if !errors.As(err, &de) || de.StatusCode != 400 {
				t.Fatalf("evaluate error %v", err)
			}
		}
	})
}
