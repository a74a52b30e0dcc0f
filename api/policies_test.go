package api_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

const allowAll = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}`

func TestPolicyLifecycle(t *testing.T) {
	e := newEnv(t)
	before := time.Now().Add(-time.Second)

	created, err := e.iot.CreatePolicy(e.ctx, &iot.CreatePolicyInput{
		PolicyName:     aws.String("allow-all"),
		PolicyDocument: aws.String(allowAll),
		Tags:           []types.Tag{{Key: aws.String("team"), Value: aws.String("fw")}},
	})
	must(t, err)
	if aws.ToString(created.PolicyName) != "allow-all" ||
		aws.ToString(created.PolicyArn) != "arn:aws:iot:us-east-1:123456789012:policy/allow-all" ||
		aws.ToString(created.PolicyDocument) != allowAll || aws.ToString(created.PolicyVersionId) != "1" {
		t.Errorf("CreatePolicy = %+v", created)
	}

	got, err := e.iot.GetPolicy(e.ctx, &iot.GetPolicyInput{PolicyName: aws.String("allow-all")})
	must(t, err)
	if aws.ToString(got.PolicyDocument) != allowAll || aws.ToString(got.DefaultVersionId) != "1" ||
		aws.ToString(got.PolicyArn) != aws.ToString(created.PolicyArn) || aws.ToString(got.GenerationId) == "" {
		t.Errorf("GetPolicy = %+v", got)
	}
	for name, ts := range map[string]*time.Time{"creationDate": got.CreationDate, "lastModifiedDate": got.LastModifiedDate} {
		if ts == nil || ts.Before(before) || ts.After(time.Now().Add(time.Second)) {
			t.Errorf("%s = %v, want about now", name, ts)
		}
	}

	_, err = e.iot.CreatePolicy(e.ctx, &iot.CreatePolicyInput{PolicyName: aws.String("allow-all"), PolicyDocument: aws.String(allowAll)})
	wantErr[*types.ResourceAlreadyExistsException](t, err, http.StatusConflict)

	_, err = e.iot.CreatePolicy(e.ctx, &iot.CreatePolicyInput{PolicyName: aws.String("broken"), PolicyDocument: aws.String(`{"Statement":`)})
	wantErr[*types.MalformedPolicyException](t, err, http.StatusBadRequest)
	_, err = e.iot.GetPolicy(e.ctx, &iot.GetPolicyInput{PolicyName: aws.String("broken")})
	wantErr[*types.ResourceNotFoundException](t, err, http.StatusNotFound)

	_, err = e.iot.DeletePolicy(e.ctx, &iot.DeletePolicyInput{PolicyName: aws.String("allow-all")})
	must(t, err)
	_, err = e.iot.GetPolicy(e.ctx, &iot.GetPolicyInput{PolicyName: aws.String("allow-all")})
	wantErr[*types.ResourceNotFoundException](t, err, http.StatusNotFound)
	_, err = e.iot.DeletePolicy(e.ctx, &iot.DeletePolicyInput{PolicyName: aws.String("allow-all")})
	wantErr[*types.ResourceNotFoundException](t, err, http.StatusNotFound)
}

func TestDeletePolicyAttached(t *testing.T) {
	e := newEnv(t)
	_, err := e.iot.CreatePolicy(e.ctx, &iot.CreatePolicyInput{PolicyName: aws.String("p"), PolicyDocument: aws.String(allowAll)})
	must(t, err)
	cert, err := e.iot.RegisterCertificateWithoutCA(e.ctx, &iot.RegisterCertificateWithoutCAInput{CertificatePem: aws.String(selfSignedPEM(t, "dev"))})
	must(t, err)
	_, err = e.iot.AttachPolicy(e.ctx, &iot.AttachPolicyInput{PolicyName: aws.String("p"), Target: cert.CertificateArn})
	must(t, err)

	_, err = e.iot.DeletePolicy(e.ctx, &iot.DeletePolicyInput{PolicyName: aws.String("p")})
	wantErr[*types.DeleteConflictException](t, err, http.StatusConflict)

	_, err = e.iot.DetachPolicy(e.ctx, &iot.DetachPolicyInput{PolicyName: aws.String("p"), Target: cert.CertificateArn})
	must(t, err)
	_, err = e.iot.DeletePolicy(e.ctx, &iot.DeletePolicyInput{PolicyName: aws.String("p")})
	must(t, err)
}

func TestListPoliciesPaging(t *testing.T) {
	e := newEnv(t)
	const n = 5
	want := map[string]bool{}
	for i := range n {
		name := fmt.Sprintf("policy-%d", i)
		want[name] = true
		_, err := e.iot.CreatePolicy(e.ctx, &iot.CreatePolicyInput{PolicyName: aws.String(name), PolicyDocument: aws.String(allowAll)})
		must(t, err)
	}
	for _, asc := range []bool{true, false} {
		seen := map[string]bool{}
		pages := 0
		var marker *string
		for {
			out, err := e.iot.ListPolicies(e.ctx, &iot.ListPoliciesInput{PageSize: aws.Int32(2), Marker: marker, AscendingOrder: asc})
			must(t, err)
			pages++
			if len(out.Policies) > 2 {
				t.Fatalf("page of %d policies, want at most 2", len(out.Policies))
			}
			for _, p := range out.Policies {
				name := aws.ToString(p.PolicyName)
				if seen[name] {
					t.Errorf("policy %s listed twice", name)
				}
				seen[name] = true
				if aws.ToString(p.PolicyArn) != "arn:aws:iot:us-east-1:123456789012:policy/"+name {
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
		if pages != 3 || len(seen) != n {
			t.Errorf("ascending=%v: %d policies in %d pages, want %d in 3", asc, len(seen), pages, n)
		}
	}
	_, err := e.iot.ListPolicies(e.ctx, &iot.ListPoliciesInput{PageSize: aws.Int32(0)})
	wantErr[*types.InvalidRequestException](t, err, http.StatusBadRequest)
}
