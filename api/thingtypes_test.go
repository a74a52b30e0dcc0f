package api_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

func TestThingTypeLifecycle(t *testing.T) {
	e := newEnv(t)
	props := &types.ThingTypeProperties{
		ThingTypeDescription: aws.String("light bulb"),
		SearchableAttributes: []string{"wattage", "model"},
		Mqtt5Configuration: &types.Mqtt5Configuration{PropagatingAttributes: []types.PropagatingAttribute{
			{UserPropertyKey: aws.String("serial"), ThingAttribute: aws.String("serial")},
		}},
	}
	created, err := e.iot.CreateThingType(e.ctx, &iot.CreateThingTypeInput{
		ThingTypeName: aws.String("LightBulb"), ThingTypeProperties: props,
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("lights")}},
	})
	must(t, err)
	if aws.ToString(created.ThingTypeName) != "LightBulb" || aws.ToString(created.ThingTypeArn) != "arn:aws:iot:us-east-1:123456789012:thingtype/LightBulb" ||
		len(aws.ToString(created.ThingTypeId)) != 36 {
		t.Fatalf("created %+v", created)
	}
	again, err := e.iot.CreateThingType(e.ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String("LightBulb"), ThingTypeProperties: props})
	must(t, err)
	if aws.ToString(again.ThingTypeId) != aws.ToString(created.ThingTypeId) {
		t.Fatal("idempotent CreateThingType changed the id")
	}
	_, err = e.iot.CreateThingType(e.ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String("LightBulb")})
	rae := wantErr[*types.ResourceAlreadyExistsException](t, err, http.StatusConflict)
	if aws.ToString(rae.ResourceArn) != aws.ToString(created.ThingTypeArn) {
		t.Errorf("resourceArn %q", aws.ToString(rae.ResourceArn))
	}
	_, err = e.iot.CreateThingType(e.ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String("Four"),
		ThingTypeProperties: &types.ThingTypeProperties{SearchableAttributes: []string{"a", "b", "c", "d"}}})
	wantErr[*types.InvalidRequestException](t, err, http.StatusBadRequest)

	desc, err := e.iot.DescribeThingType(e.ctx, &iot.DescribeThingTypeInput{ThingTypeName: aws.String("LightBulb")})
	must(t, err)
	if aws.ToString(desc.ThingTypeId) != aws.ToString(created.ThingTypeId) || aws.ToString(desc.ThingTypeProperties.ThingTypeDescription) != "light bulb" ||
		!slices.Equal(desc.ThingTypeProperties.SearchableAttributes, props.SearchableAttributes) ||
		aws.ToString(desc.ThingTypeProperties.Mqtt5Configuration.PropagatingAttributes[0].UserPropertyKey) != "serial" ||
		desc.ThingTypeMetadata.Deprecated || desc.ThingTypeMetadata.CreationDate == nil || desc.ThingTypeMetadata.DeprecationDate != nil {
		t.Fatalf("described %+v %+v", desc.ThingTypeProperties, desc.ThingTypeMetadata)
	}
	_, err = e.iot.DescribeThingType(e.ctx, &iot.DescribeThingTypeInput{ThingTypeName: aws.String("Nope")})
	wantErr[*types.ResourceNotFoundException](t, err, http.StatusNotFound)

	// Things must name an existing, non-deprecated type.
	_, err = e.iot.CreateThing(e.ctx, &iot.CreateThingInput{ThingName: aws.String("b1"), ThingTypeName: aws.String("Nope")})
	wantErr[*types.ResourceNotFoundException](t, err, http.StatusNotFound)
	_, err = e.iot.CreateThing(e.ctx, &iot.CreateThingInput{ThingName: aws.String("b1"), ThingTypeName: aws.String("LightBulb")})
	must(t, err)

	_, err = e.iot.DeleteThingType(e.ctx, &iot.DeleteThingTypeInput{ThingTypeName: aws.String("LightBulb")})
	wantErr[*types.InvalidRequestException](t, err, http.StatusBadRequest)
	_, err = e.iot.DeprecateThingType(e.ctx, &iot.DeprecateThingTypeInput{ThingTypeName: aws.String("LightBulb")})
	must(t, err)
	desc, err = e.iot.DescribeThingType(e.ctx, &iot.DescribeThingTypeInput{ThingTypeName: aws.String("LightBulb")})
	must(t, err)
	if !desc.ThingTypeMetadata.Deprecated || desc.ThingTypeMetadata.DeprecationDate == nil {
		t.Fatalf("deprecated metadata %+v", desc.ThingTypeMetadata)
	}
	_, err = e.iot.CreateThing(e.ctx, &iot.CreateThingInput{ThingName: aws.String("b2"), ThingTypeName: aws.String("LightBulb")})
	wantErr[*types.InvalidRequestException](t, err, http.StatusBadRequest)
	_, err = e.iot.DeprecateThingType(e.ctx, &iot.DeprecateThingTypeInput{ThingTypeName: aws.String("Nope")})
	wantErr[*types.ResourceNotFoundException](t, err, http.StatusNotFound)

	// A type with things cannot go; once its things have another type (or none), it can.
	_, err = e.iot.DeleteThingType(e.ctx, &iot.DeleteThingTypeInput{ThingTypeName: aws.String("LightBulb")})
	wantErr[*types.InvalidRequestException](t, err, http.StatusBadRequest)
	_, err = e.iot.UpdateThing(e.ctx, &iot.UpdateThingInput{ThingName: aws.String("b1"), RemoveThingType: true})
	must(t, err)
	_, err = e.iot.DeleteThingType(e.ctx, &iot.DeleteThingTypeInput{ThingTypeName: aws.String("LightBulb")})
	must(t, err)
	_, err = e.iot.DeleteThingType(e.ctx, &iot.DeleteThingTypeInput{ThingTypeName: aws.String("LightBulb")})
	wantErr[*types.ResourceNotFoundException](t, err, http.StatusNotFound)

	// Undoing a deprecation.
	_, err = e.iot.CreateThingType(e.ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String("Fan")})
	must(t, err)
	_, err = e.iot.DeprecateThingType(e.ctx, &iot.DeprecateThingTypeInput{ThingTypeName: aws.String("Fan")})
	must(t, err)
	_, err = e.iot.DeprecateThingType(e.ctx, &iot.DeprecateThingTypeInput{ThingTypeName: aws.String("Fan"), UndoDeprecate: true})
	must(t, err)
	_, err = e.iot.CreateThing(e.ctx, &iot.CreateThingInput{ThingName: aws.String("f1"), ThingTypeName: aws.String("Fan")})
	must(t, err)
}

func TestUpdateThingTypeAPI(t *testing.T) {
	e := newEnv(t)
	_, err := e.iot.CreateThingType(e.ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String("Cam"),
		ThingTypeProperties: &types.ThingTypeProperties{ThingTypeDescription: aws.String("camera")}})
	must(t, err)
	mqtt5 := &types.Mqtt5Configuration{PropagatingAttributes: []types.PropagatingAttribute{{UserPropertyKey: aws.String("cid"), ConnectionAttribute: aws.String("iot:ClientId")}}}
	_, err = e.iot.UpdateThingType(e.ctx, &iot.UpdateThingTypeInput{ThingTypeName: aws.String("Cam"), ThingTypeProperties: &types.ThingTypeProperties{Mqtt5Configuration: mqtt5}})
	must(t, err)
	desc, err := e.iot.DescribeThingType(e.ctx, &iot.DescribeThingTypeInput{ThingTypeName: aws.String("Cam")})
	must(t, err)
	if p := desc.ThingTypeProperties.Mqtt5Configuration; p == nil || aws.ToString(p.PropagatingAttributes[0].ConnectionAttribute) != "iot:ClientId" {
		t.Fatalf("mqtt5Configuration %+v", p)
	}
	_, err = e.iot.UpdateThingType(e.ctx, &iot.UpdateThingTypeInput{ThingTypeName: aws.String("Cam"),
		ThingTypeProperties: &types.ThingTypeProperties{ThingTypeDescription: aws.String("other")}})
	wantErr[*types.InvalidRequestException](t, err, http.StatusBadRequest)
	_, err = e.iot.UpdateThingType(e.ctx, &iot.UpdateThingTypeInput{ThingTypeName: aws.String("Nope"), ThingTypeProperties: &types.ThingTypeProperties{}})
	wantErr[*types.ResourceNotFoundException](t, err, http.StatusNotFound)
}

func TestListThingTypesAPI(t *testing.T) {
	e := newEnv(t)
	for _, n := range []string{"c", "a", "b"} {
		_, err := e.iot.CreateThingType(e.ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String(n)})
		must(t, err)
	}
	var names []string
	p := iot.NewListThingTypesPaginator(e.iot, &iot.ListThingTypesInput{MaxResults: aws.Int32(2)})
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(e.ctx)
		must(t, err)
		pages++
		for _, d := range out.ThingTypes {
			if d.ThingTypeMetadata == nil || d.ThingTypeProperties == nil || aws.ToString(d.ThingTypeArn) == "" {
				t.Errorf("definition %+v", d)
			}
			names = append(names, aws.ToString(d.ThingTypeName))
		}
	}
	if !slices.Equal(names, []string{"a", "b", "c"}) || pages != 2 {
		t.Fatalf("listed %v in %d pages", names, pages)
	}
	one, err := e.iot.ListThingTypes(e.ctx, &iot.ListThingTypesInput{ThingTypeName: aws.String("b")})
	must(t, err)
	if len(one.ThingTypes) != 1 || aws.ToString(one.ThingTypes[0].ThingTypeName) != "b" || one.NextToken != nil {
		t.Fatalf("filtered %+v", one.ThingTypes)
	}
	_, err = e.iot.ListThingTypes(e.ctx, &iot.ListThingTypesInput{NextToken: aws.String("bogus")})
	wantErr[*types.InvalidRequestException](t, err, http.StatusBadRequest)
}
