package api_test

import (
	"fmt"
	"maps"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

func TestThingLifecycle(t *testing.T) {
	e := newEnv(t)
	attrs := map[string]string{"model": "x1", "serial": "42"}

	created, err := e.iot.CreateThing(e.ctx, &iot.CreateThingInput{
		ThingName:        aws.String("sensor-1"),
		AttributePayload: &types.AttributePayload{Attributes: attrs},
	})
	must(t, err)
	if aws.ToString(created.ThingName) != "sensor-1" {
		t.Errorf("thingName = %q", aws.ToString(created.ThingName))
	}
	if want := "arn:aws:iot:us-east-1:123456789012:thing/sensor-1"; aws.ToString(created.ThingArn) != want {
		t.Errorf("thingArn = %q, want %q", aws.ToString(created.ThingArn), want)
	}
	if len(aws.ToString(created.ThingId)) != 36 {
		t.Errorf("thingId = %q, want a UUID", aws.ToString(created.ThingId))
	}

	desc, err := e.iot.DescribeThing(e.ctx, &iot.DescribeThingInput{ThingName: aws.String("sensor-1")})
	must(t, err)
	if aws.ToString(desc.DefaultClientId) != "sensor-1" || aws.ToString(desc.ThingName) != "sensor-1" ||
		aws.ToString(desc.ThingId) != aws.ToString(created.ThingId) ||
		aws.ToString(desc.ThingArn) != aws.ToString(created.ThingArn) || desc.Version != 1 {
		t.Errorf("DescribeThing = %+v", desc)
	}
	if !maps.Equal(desc.Attributes, attrs) {
		t.Errorf("attributes = %v, want %v", desc.Attributes, attrs)
	}

	// Same name, same configuration: success with the same identity.
	again, err := e.iot.CreateThing(e.ctx, &iot.CreateThingInput{
		ThingName:        aws.String("sensor-1"),
		AttributePayload: &types.AttributePayload{Attributes: attrs},
	})
	must(t, err)
	if aws.ToString(again.ThingId) != aws.ToString(created.ThingId) {
		t.Errorf("idempotent CreateThing gave thingId %q, want %q", aws.ToString(again.ThingId), aws.ToString(created.ThingId))
	}

	// Same name, different attributes: ResourceAlreadyExistsException naming the thing.
	_, err = e.iot.CreateThing(e.ctx, &iot.CreateThingInput{
		ThingName:        aws.String("sensor-1"),
		AttributePayload: &types.AttributePayload{Attributes: map[string]string{"model": "x2"}},
	})
	rae := wantErr[*types.ResourceAlreadyExistsException](t, err, http.StatusConflict)
	if aws.ToString(rae.ResourceId) != aws.ToString(created.ThingId) || aws.ToString(rae.ResourceArn) != aws.ToString(created.ThingArn) {
		t.Errorf("ResourceAlreadyExists resourceId=%q resourceArn=%q, want the existing thing's", aws.ToString(rae.ResourceId), aws.ToString(rae.ResourceArn))
	}
	if rae.ErrorMessage() == "" {
		t.Error("ResourceAlreadyExists without a message")
	}

	_, err = e.iot.DeleteThing(e.ctx, &iot.DeleteThingInput{ThingName: aws.String("sensor-1")})
	must(t, err)
	_, err = e.iot.DescribeThing(e.ctx, &iot.DescribeThingInput{ThingName: aws.String("sensor-1")})
	wantErr[*types.ResourceNotFoundException](t, err, http.StatusNotFound)

	// Deleting a thing that does not exist succeeds, as the model documents.
	_, err = e.iot.DeleteThing(e.ctx, &iot.DeleteThingInput{ThingName: aws.String("never-existed")})
	must(t, err)
}

func TestDescribeThingWithoutAttributes(t *testing.T) {
	e := newEnv(t)
	_, err := e.iot.CreateThing(e.ctx, &iot.CreateThingInput{ThingName: aws.String("bare")})
	must(t, err)
	resp, body := e.do(t, http.MethodGet, "/things/bare", "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if want := `"attributes":{}`; !strings.Contains(string(body), want) {
		t.Errorf("body %s lacks %s", body, want)
	}
}

func TestCreateThingInvalid(t *testing.T) {
	e := newEnv(t)
	_, err := e.iot.CreateThing(e.ctx, &iot.CreateThingInput{ThingName: aws.String("bad name!")})
	wantErr[*types.InvalidRequestException](t, err, http.StatusBadRequest)

	_, err = e.iot.CreateThing(e.ctx, &iot.CreateThingInput{ThingName: aws.String("t"), BillingGroupName: aws.String("bg")})
	wantErr[*types.ResourceNotFoundException](t, err, http.StatusNotFound)
}

func TestDeleteThingVersionConflict(t *testing.T) {
	e := newEnv(t)
	_, err := e.iot.CreateThing(e.ctx, &iot.CreateThingInput{ThingName: aws.String("v")})
	must(t, err)
	_, err = e.iot.DeleteThing(e.ctx, &iot.DeleteThingInput{ThingName: aws.String("v"), ExpectedVersion: aws.Int64(7)})
	wantErr[*types.VersionConflictException](t, err, http.StatusConflict)
	_, err = e.iot.DeleteThing(e.ctx, &iot.DeleteThingInput{ThingName: aws.String("v"), ExpectedVersion: aws.Int64(1)})
	must(t, err)
}

func TestListThingsPaging(t *testing.T) {
	e := newEnv(t)
	const n = 7
	for i := range n {
		attrs := map[string]string{"parity": []string{"even", "odd"}[i%2]}
		_, err := e.iot.CreateThing(e.ctx, &iot.CreateThingInput{
			ThingName:        aws.String(fmt.Sprintf("thing-%02d", i)),
			AttributePayload: &types.AttributePayload{Attributes: attrs},
		})
		must(t, err)
	}

	var names []string
	var pages int
	var token *string
	for {
		out, err := e.iot.ListThings(e.ctx, &iot.ListThingsInput{MaxResults: aws.Int32(3), NextToken: token})
		must(t, err)
		pages++
		if len(out.Things) > 3 {
			t.Fatalf("page of %d things, want at most 3", len(out.Things))
		}
		for _, th := range out.Things {
			names = append(names, aws.ToString(th.ThingName))
			if th.Version != 1 || aws.ToString(th.ThingArn) == "" || th.Attributes["parity"] == "" {
				t.Errorf("thing %+v lacks fields", th)
			}
		}
		if out.NextToken == nil {
			break
		}
		token = out.NextToken
		if pages > n {
			t.Fatal("paging does not end")
		}
	}
	if pages != 3 || len(names) != n {
		t.Errorf("got %d things in %d pages, want %d in 3: %v", len(names), pages, n, names)
	}
	for i, name := range names {
		if want := fmt.Sprintf("thing-%02d", i); name != want {
			t.Errorf("names[%d] = %q, want %q", i, name, want)
		}
	}

	// The SDK's paginator walks the same pages.
	p := iot.NewListThingsPaginator(e.iot, &iot.ListThingsInput{MaxResults: aws.Int32(2)})
	total := 0
	for p.HasMorePages() {
		out, err := p.NextPage(e.ctx)
		must(t, err)
		total += len(out.Things)
	}
	if total != n {
		t.Errorf("paginator saw %d things, want %d", total, n)
	}

	// Attribute filter.
	out, err := e.iot.ListThings(e.ctx, &iot.ListThingsInput{AttributeName: aws.String("parity"), AttributeValue: aws.String("odd")})
	must(t, err)
	if len(out.Things) != 3 {
		t.Errorf("parity=odd gave %d things, want 3", len(out.Things))
	}

	// Attribute value prefix.
	out, err = e.iot.ListThings(e.ctx, &iot.ListThingsInput{AttributeName: aws.String("parity"), AttributeValue: aws.String("o"), UsePrefixAttributeValue: true})
	must(t, err)
	if len(out.Things) != 3 {
		t.Errorf("parity prefix o gave %d things, want 3", len(out.Things))
	}
	out, err = e.iot.ListThings(e.ctx, &iot.ListThingsInput{AttributeName: aws.String("parity"), AttributeValue: aws.String("o")})
	must(t, err)
	if len(out.Things) != 0 {
		t.Errorf("parity=o (exact) gave %d things, want 0", len(out.Things))
	}

	// Out-of-range parameters.
	_, err = e.iot.ListThings(e.ctx, &iot.ListThingsInput{MaxResults: aws.Int32(251)})
	wantErr[*types.InvalidRequestException](t, err, http.StatusBadRequest)
}
