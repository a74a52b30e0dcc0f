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

func TestListTargetsForPolicy(t *testing.T) {
	e := newEnv(t)
	for _, name := range []string{"p", "unused"} {
		_, err := e.iot.CreatePolicy(e.ctx, &iot.CreatePolicyInput{PolicyName: aws.String(name), PolicyDocument: aws.String(allowAll)})
		must(t, err)
	}
	var want []string
	for range 3 {
		cert, err := e.iot.CreateKeysAndCertificate(e.ctx, &iot.CreateKeysAndCertificateInput{SetAsActive: true})
		must(t, err)
		_, err = e.iot.AttachPolicy(e.ctx, &iot.AttachPolicyInput{PolicyName: aws.String("p"), Target: cert.CertificateArn})
		must(t, err)
		want = append(want, aws.ToString(cert.CertificateArn))
	}
	slices.Sort(want)

	var got []string
	var marker *string
	for pages := 1; ; pages++ {
		out, err := e.iot.ListTargetsForPolicy(e.ctx, &iot.ListTargetsForPolicyInput{PolicyName: aws.String("p"), PageSize: aws.Int32(2), Marker: marker})
		must(t, err)
		if len(out.Targets) > 2 {
			t.Fatalf("page of %d targets", len(out.Targets))
		}
		got = append(got, out.Targets...)
		if out.NextMarker == nil {
			if pages != 2 {
				t.Errorf("%d pages, want 2", pages)
			}
			break
		}
		marker = out.NextMarker
		if pages > 3 {
			t.Fatal("paging does not end")
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("targets = %v\nwant %v", got, want)
	}

	out, err := e.iot.ListTargetsForPolicy(e.ctx, &iot.ListTargetsForPolicyInput{PolicyName: aws.String("unused")})
	must(t, err)
	if len(out.Targets) != 0 || out.NextMarker != nil {
		t.Errorf("targets of an unattached policy = %+v", out)
	}
	// An empty list is [] on the wire, not null.
	resp, body := e.do(t, http.MethodPost, "/policy-targets/unused", "", nil)
	if resp.StatusCode != http.StatusOK || string(body) != `{"targets":[]}` {
		t.Errorf("raw answer %d %s", resp.StatusCode, body)
	}

	_, err = e.iot.ListTargetsForPolicy(e.ctx, &iot.ListTargetsForPolicyInput{PolicyName: aws.String("missing")})
	wantErr[*types.ResourceNotFoundException](t, err, http.StatusNotFound)
	_, err = e.iot.ListTargetsForPolicy(e.ctx, &iot.ListTargetsForPolicyInput{PolicyName: aws.String("p"), PageSize: aws.Int32(251)})
	wantErr[*types.InvalidRequestException](t, err, http.StatusBadRequest)
	_, err = e.iot.ListTargetsForPolicy(e.ctx, &iot.ListTargetsForPolicyInput{PolicyName: aws.String("p"), Marker: aws.String("bogus")})
	wantErr[*types.InvalidRequestException](t, err, http.StatusBadRequest)
}

// TestPoliciesPerCertificateLimit checks AWS's quota of 10 policies per certificate and its
// status on the wire, 410.
func TestPoliciesPerCertificateLimit(t *testing.T) {
	e := newEnv(t)
	cert, err := e.iot.CreateKeysAndCertificate(e.ctx, &iot.CreateKeysAndCertificateInput{SetAsActive: true})
	must(t, err)
	for i := range 11 {
		name := aws.String(fmt.Sprintf("p%02d", i))
		_, err := e.iot.CreatePolicy(e.ctx, &iot.CreatePolicyInput{PolicyName: name, PolicyDocument: aws.String(allowAll)})
		must(t, err)
		_, err = e.iot.AttachPolicy(e.ctx, &iot.AttachPolicyInput{PolicyName: name, Target: cert.CertificateArn})
		if i < 10 {
			must(t, err)
			continue
		}
		wantErr[*types.LimitExceededException](t, err, http.StatusGone)
	}
}
