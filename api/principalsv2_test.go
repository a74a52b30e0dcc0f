package api_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

func TestThingPrincipalsV2(t *testing.T) {
	e := newEnv(t)
	for _, n := range []string{"a", "b", "c"} {
		_, err := e.iot.CreateThing(e.ctx, &iot.CreateThingInput{ThingName: aws.String(n)})
		must(t, err)
	}
	var arns []string
	for i := 0; i < 3; i++ {
		out, err := e.iot.CreateKeysAndCertificate(e.ctx, &iot.CreateKeysAndCertificateInput{})
		must(t, err)
		arns = append(arns, aws.ToString(out.CertificateArn))
	}
	// Thing a: certificate 0 exclusively, 1 and 2 shared (1 also with b).
	attach := func(thing, arn string, typ types.ThingPrincipalType) {
		t.Helper()
		_, err := e.iot.AttachThingPrincipal(e.ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String(thing),
			Principal: aws.String(arn), ThingPrincipalType: typ})
		must(t, err)
	}
	attach("a", arns[0], types.ThingPrincipalTypeExclusiveThing)
	attach("a", arns[1], "")
	attach("a", arns[2], types.ThingPrincipalTypeNonExclusiveThing)
	attach("b", arns[1], types.ThingPrincipalTypeNonExclusiveThing)

	// All of a's principals, one per page.
	got := map[string]types.ThingPrincipalType{}
	var token *string
	pages := 0
	for {
		out, err := e.iot.ListThingPrincipalsV2(e.ctx, &iot.ListThingPrincipalsV2Input{ThingName: aws.String("a"), MaxResults: aws.Int32(1), NextToken: token})
		must(t, err)
		pages++
		for _, o := range out.ThingPrincipalObjects {
			got[aws.ToString(o.Principal)] = o.ThingPrincipalType
		}
		if token = out.NextToken; token == nil {
			break
		}
	}
	if pages != 3 || len(got) != 3 || got[arns[0]] != types.ThingPrincipalTypeExclusiveThing ||
		got[arns[1]] != types.ThingPrincipalTypeNonExclusiveThing || got[arns[2]] != types.ThingPrincipalTypeNonExclusiveThing {
		t.Fatalf("pages %d, principals %v", pages, got)
	}

	tests := []struct {
		typ  types.ThingPrincipalType
		want []string
	}{
		{types.ThingPrincipalTypeExclusiveThing, []string{arns[0]}},
		{types.ThingPrincipalTypeNonExclusiveThing, []string{arns[1], arns[2]}},
	}
	for _, tc := range tests {
		out, err := e.iot.ListThingPrincipalsV2(e.ctx, &iot.ListThingPrincipalsV2Input{ThingName: aws.String("a"), ThingPrincipalType: tc.typ})
		must(t, err)
		var names []string
		for _, o := range out.ThingPrincipalObjects {
			names = append(names, aws.ToString(o.Principal))
		}
		slices.Sort(names)
		want := slices.Clone(tc.want)
		slices.Sort(want)
		if !slices.Equal(names, want) {
			t.Errorf("type %s: %v, want %v", tc.typ, names, want)
		}
	}

	// The other direction, with the principal in x-amzn-principal.
	out, err := e.iot.ListPrincipalThingsV2(e.ctx, &iot.ListPrincipalThingsV2Input{Principal: aws.String(arns[1])})
	must(t, err)
	if len(out.PrincipalThingObjects) != 2 || aws.ToString(out.PrincipalThingObjects[0].ThingName) != "a" ||
		aws.ToString(out.PrincipalThingObjects[1].ThingName) != "b" || out.PrincipalThingObjects[1].ThingPrincipalType != types.ThingPrincipalTypeNonExclusiveThing {
		t.Fatalf("things of %s: %+v", arns[1], out.PrincipalThingObjects)
	}
	out, err = e.iot.ListPrincipalThingsV2(e.ctx, &iot.ListPrincipalThingsV2Input{Principal: aws.String(arns[0]), ThingPrincipalType: types.ThingPrincipalTypeNonExclusiveThing})
	must(t, err)
	if len(out.PrincipalThingObjects) != 0 {
		t.Fatalf("non-exclusive things of the exclusive certificate: %+v", out.PrincipalThingObjects)
	}
	// A token of one listing does not page another.
	first, err := e.iot.ListThingPrincipalsV2(e.ctx, &iot.ListThingPrincipalsV2Input{ThingName: aws.String("a"), MaxResults: aws.Int32(1)})
	must(t, err)
	_, err = e.iot.ListPrincipalThingsV2(e.ctx, &iot.ListPrincipalThingsV2Input{Principal: aws.String(arns[1]), NextToken: first.NextToken})
	wantErr[*types.InvalidRequestException](t, err, http.StatusBadRequest)

	// Errors.
	_, err = e.iot.ListThingPrincipalsV2(e.ctx, &iot.ListThingPrincipalsV2Input{ThingName: aws.String("missing")})
	wantErr[*types.ResourceNotFoundException](t, err, http.StatusNotFound)
	_, err = e.iot.ListThingPrincipalsV2(e.ctx, &iot.ListThingPrincipalsV2Input{ThingName: aws.String("a"), ThingPrincipalType: "SOMETIMES"})
	wantErr[*types.InvalidRequestException](t, err, http.StatusBadRequest)
	resp, body := e.do(t, "GET", "/principals/things-v2", "", nil)
	errorShape(t, resp, body, http.StatusBadRequest, "InvalidRequestException", "x-amzn-principal")
}
