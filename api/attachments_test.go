package api_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

func TestPolicyAttachments(t *testing.T) {
	e := newEnv(t)
	cert, err := e.iot.CreateKeysAndCertificate(e.ctx, &iot.CreateKeysAndCertificateInput{SetAsActive: true})
	must(t, err)
	const n = 5
	var names []string
	for i := range n {
		name := fmt.Sprintf("p%d", i)
		names = append(names, name)
		_, err := e.iot.CreatePolicy(e.ctx, &iot.CreatePolicyInput{PolicyName: aws.String(name), PolicyDocument: aws.String(allowAll)})
		must(t, err)
		_, err = e.iot.AttachPolicy(e.ctx, &iot.AttachPolicyInput{PolicyName: aws.String(name), Target: cert.CertificateArn})
		must(t, err)
	}
	// Attaching twice is harmless.
	_, err = e.iot.AttachPolicy(e.ctx, &iot.AttachPolicyInput{PolicyName: aws.String("p0"), Target: cert.CertificateArn})
	must(t, err)

	// The ARN travels %-encoded in the path; paging by pageSize.
	var got []string
	pages := 0
	var marker *string
	for {
		out, err := e.iot.ListAttachedPolicies(e.ctx, &iot.ListAttachedPoliciesInput{Target: cert.CertificateArn, PageSize: aws.Int32(2), Marker: marker})
		must(t, err)
		pages++
		for _, p := range out.Policies {
			got = append(got, aws.ToString(p.PolicyName))
			if aws.ToString(p.PolicyArn) != "arn:aws:iot:us-east-1:123456789012:policy/"+aws.ToString(p.PolicyName) {
				t.Errorf("policyArn = %q", aws.ToString(p.PolicyArn))
			}
		}
		if out.NextMarker == nil {
			break
		}
		marker = out.NextMarker
		if pages > n {
			t.Fatal("paging does not end")
		}
	}
	if !slices.Equal(got, names) || pages != 3 {
		t.Errorf("attached policies %v in %d pages, want %v in 3", got, pages, names)
	}

	_, err = e.iot.DetachPolicy(e.ctx, &iot.DetachPolicyInput{PolicyName: aws.String("p0"), Target: cert.CertificateArn})
	must(t, err)
	out, err := e.iot.ListAttachedPolicies(e.ctx, &iot.ListAttachedPoliciesInput{Target: cert.CertificateArn})
	must(t, err)
	if len(out.Policies) != n-1 || out.NextMarker != nil {
		t.Errorf("after detach: %d policies (next %v), want %d", len(out.Policies), out.NextMarker, n-1)
	}

	_, err = e.iot.AttachPolicy(e.ctx, &iot.AttachPolicyInput{PolicyName: aws.String("missing"), Target: cert.CertificateArn})
	wantErr[*types.ResourceNotFoundException](t, err, http.StatusNotFound)
	missingCert := "arn:aws:iot:us-east-1:123456789012:cert/" + fmt.Sprintf("%064x", 1)
	_, err = e.iot.AttachPolicy(e.ctx, &iot.AttachPolicyInput{PolicyName: aws.String("p1"), Target: aws.String(missingCert)})
	wantErr[*types.ResourceNotFoundException](t, err, http.StatusNotFound)
	_, err = e.iot.ListAttachedPolicies(e.ctx, &iot.ListAttachedPoliciesInput{Target: aws.String(missingCert)})
	wantErr[*types.ResourceNotFoundException](t, err, http.StatusNotFound)
	_, err = e.iot.ListAttachedPolicies(e.ctx, &iot.ListAttachedPoliciesInput{Target: cert.CertificateArn, Marker: aws.String("%%%")})
	wantErr[*types.InvalidRequestException](t, err, http.StatusBadRequest)
}

func TestThingPrincipals(t *testing.T) {
	e := newEnv(t)
	var certs []string
	for range 3 {
		out, err := e.iot.CreateKeysAndCertificate(e.ctx, &iot.CreateKeysAndCertificateInput{SetAsActive: true})
		must(t, err)
		certs = append(certs, aws.ToString(out.CertificateArn))
	}
	for _, name := range []string{"a", "b"} {
		_, err := e.iot.CreateThing(e.ctx, &iot.CreateThingInput{ThingName: aws.String(name)})
		must(t, err)
	}
	for _, c := range certs {
		_, err := e.iot.AttachThingPrincipal(e.ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String("a"), Principal: aws.String(c)})
		must(t, err)
	}
	_, err := e.iot.AttachThingPrincipal(e.ctx, &iot.AttachThingPrincipalInput{
		ThingName: aws.String("b"), Principal: aws.String(certs[0]), ThingPrincipalType: types.ThingPrincipalTypeNonExclusiveThing,
	})
	must(t, err)

	// ListThingPrincipals pages.
	var got []string
	var token *string
	for pages := 0; ; pages++ {
		out, err := e.iot.ListThingPrincipals(e.ctx, &iot.ListThingPrincipalsInput{ThingName: aws.String("a"), MaxResults: aws.Int32(2), NextToken: token})
		must(t, err)
		if len(out.Principals) > 2 {
			t.Fatalf("page of %d principals", len(out.Principals))
		}
		got = append(got, out.Principals...)
		if out.NextToken == nil {
			break
		}
		token = out.NextToken
		if pages > 3 {
			t.Fatal("paging does not end")
		}
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(certs))
	if !slices.Equal(got, want) {
		t.Errorf("principals of a = %v, want %v", got, want)
	}

	things, err := e.iot.ListPrincipalThings(e.ctx, &iot.ListPrincipalThingsInput{Principal: aws.String(certs[0])})
	must(t, err)
	if !slices.Equal(things.Things, []string{"a", "b"}) || things.NextToken != nil {
		t.Errorf("things of %s = %v (next %v), want [a b]", certs[0], things.Things, things.NextToken)
	}
	things, err = e.iot.ListPrincipalThings(e.ctx, &iot.ListPrincipalThingsInput{Principal: aws.String(certs[0]), MaxResults: aws.Int32(1)})
	must(t, err)
	if len(things.Things) != 1 || things.NextToken == nil {
		t.Errorf("first page of 1 = %v (next %v)", things.Things, things.NextToken)
	}

	_, err = e.iot.DetachThingPrincipal(e.ctx, &iot.DetachThingPrincipalInput{ThingName: aws.String("b"), Principal: aws.String(certs[0])})
	must(t, err)
	things, err = e.iot.ListPrincipalThings(e.ctx, &iot.ListPrincipalThingsInput{Principal: aws.String(certs[0])})
	must(t, err)
	if !slices.Equal(things.Things, []string{"a"}) {
		t.Errorf("after detach, things = %v, want [a]", things.Things)
	}

	// A thing that has principals cannot be deleted.
	_, err = e.iot.DeleteThing(e.ctx, &iot.DeleteThingInput{ThingName: aws.String("a")})
	wantErr[*types.InvalidRequestException](t, err, http.StatusBadRequest)

	// Missing things and principals.
	_, err = e.iot.ListThingPrincipals(e.ctx, &iot.ListThingPrincipalsInput{ThingName: aws.String("nope")})
	wantErr[*types.ResourceNotFoundException](t, err, http.StatusNotFound)
	_, err = e.iot.AttachThingPrincipal(e.ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String("nope"), Principal: aws.String(certs[0])})
	wantErr[*types.ResourceNotFoundException](t, err, http.StatusNotFound)
	_, err = e.iot.AttachThingPrincipal(e.ctx, &iot.AttachThingPrincipalInput{
		ThingName: aws.String("b"), Principal: aws.String("arn:aws:iot:us-east-1:123456789012:cert/" + fmt.Sprintf("%064x", 7)),
	})
	wantErr[*types.ResourceNotFoundException](t, err, http.StatusNotFound)
	_, err = e.iot.AttachThingPrincipal(e.ctx, &iot.AttachThingPrincipalInput{
		ThingName: aws.String("b"), Principal: aws.String(certs[1]), ThingPrincipalType: types.ThingPrincipalType("SOMETIMES"),
	})
	wantErr[*types.InvalidRequestException](t, err, http.StatusBadRequest)
}
