package api_test

import (
	"maps"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

func TestUpdateThingAPI(t *testing.T) {
	e := newEnv(t)
	_, err := e.iot.CreateThingType(e.ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String("sensor")})
	must(t, err)
	_, err = e.iot.CreateThing(e.ctx, &iot.CreateThingInput{ThingName: aws.String("s1"),
		AttributePayload: &types.AttributePayload{Attributes: map[string]string{"a": "1", "b": "2"}}})
	must(t, err)

	describe := func() *iot.DescribeThingOutput {
		t.Helper()
		out, err := e.iot.DescribeThing(e.ctx, &iot.DescribeThingInput{ThingName: aws.String("s1")})
		must(t, err)
		return out
	}
	steps := []struct {
		name    string
		in      iot.UpdateThingInput
		version int64
		typ     string
		attrs   map[string]string
	}{
		{"merge", iot.UpdateThingInput{AttributePayload: &types.AttributePayload{Attributes: map[string]string{"b": "20", "c": "3"}, Merge: true}},
			2, "", map[string]string{"a": "1", "b": "20", "c": "3"}},
		{"empty value removes", iot.UpdateThingInput{AttributePayload: &types.AttributePayload{Attributes: map[string]string{"a": ""}, Merge: true}},
			3, "", map[string]string{"b": "20", "c": "3"}},
		{"replace", iot.UpdateThingInput{AttributePayload: &types.AttributePayload{Attributes: map[string]string{"z": "26"}}},
			4, "", map[string]string{"z": "26"}},
		{"set the type, with the expected version", iot.UpdateThingInput{ThingTypeName: aws.String("sensor"), ExpectedVersion: aws.Int64(4)},
			5, "sensor", map[string]string{"z": "26"}},
		{"remove the type", iot.UpdateThingInput{RemoveThingType: true}, 6, "", map[string]string{"z": "26"}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			in := s.in
			in.ThingName = aws.String("s1")
			_, err := e.iot.UpdateThing(e.ctx, &in)
			must(t, err)
			d := describe()
			if d.Version != s.version || aws.ToString(d.ThingTypeName) != s.typ || !maps.Equal(d.Attributes, s.attrs) {
				t.Fatalf("after update: version %d, type %q, attributes %v", d.Version, aws.ToString(d.ThingTypeName), d.Attributes)
			}
		})
	}

	_, err = e.iot.UpdateThing(e.ctx, &iot.UpdateThingInput{ThingName: aws.String("s1"), ExpectedVersion: aws.Int64(1)})
	wantErr[*types.VersionConflictException](t, err, http.StatusConflict)
	_, err = e.iot.UpdateThing(e.ctx, &iot.UpdateThingInput{ThingName: aws.String("ghost")})
	wantErr[*types.ResourceNotFoundException](t, err, http.StatusNotFound)
	_, err = e.iot.UpdateThing(e.ctx, &iot.UpdateThingInput{ThingName: aws.String("s1"), ThingTypeName: aws.String("nope")})
	wantErr[*types.ResourceNotFoundException](t, err, http.StatusNotFound)
	_, err = e.iot.UpdateThing(e.ctx, &iot.UpdateThingInput{ThingName: aws.String("s1"), ThingTypeName: aws.String("sensor"), RemoveThingType: true})
	wantErr[*types.InvalidRequestException](t, err, http.StatusBadRequest)
	_, err = e.iot.UpdateThing(e.ctx, &iot.UpdateThingInput{ThingName: aws.String("s1"),
		AttributePayload: &types.AttributePayload{Attributes: map[string]string{"a": "1", "b": "2", "c": "3"}, Merge: true}})
	wantErr[*types.InvalidRequestException](t, err, http.StatusBadRequest) // a fourth attribute without a type
	if d := describe(); d.Version != 6 {
		t.Fatalf("a refused update changed the version to %d", d.Version)
	}

	// A malformed body names the member.
	resp, body := e.do(t, http.MethodPatch, "/things/s1", `{"expectedVersion":"x"}`, nil)
	errorShape(t, resp, body, http.StatusBadRequest, "InvalidRequestException", "expectedVersion: expected integer, got string")
	resp, body = e.do(t, http.MethodPatch, "/things/s1", `{"removeThingType":1}`, nil)
	errorShape(t, resp, body, http.StatusBadRequest, "InvalidRequestException", "removeThingType")
	if !strings.Contains(string(body), "boolean") {
		t.Errorf("body %s does not say a boolean was expected", body)
	}
}
