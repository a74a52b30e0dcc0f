package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

// topicPolicy is a distinct valid policy document per n.
func topicPolicy(n int) string {
	return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:us-east-1:123456789012:topic/v%d"}]}`, n)
}

// versionIDs lists a policy's version ids through the SDK, newest first, the default starred.
func (e *env) versionIDs(t *testing.T, name string) []string {
	t.Helper()
	out, err := e.iot.ListPolicyVersions(e.ctx, &iot.ListPolicyVersionsInput{PolicyName: aws.String(name)})
	must(t, err)
	var ids []string
	for _, v := range out.PolicyVersions {
		id := aws.ToString(v.VersionId)
		if v.IsDefaultVersion {
			id += "*"
		}
		if v.CreateDate == nil || time.Since(*v.CreateDate) > time.Minute {
			t.Errorf("version %s createDate = %v", id, v.CreateDate)
		}
		ids = append(ids, id)
	}
	return ids
}

func TestPolicyVersions(t *testing.T) {
	e := newEnv(t)
	before := time.Now().Add(-time.Second)
	name := aws.String("p")
	_, err := e.iot.CreatePolicy(e.ctx, &iot.CreatePolicyInput{PolicyName: name, PolicyDocument: aws.String(topicPolicy(1))})
	must(t, err)

	v2, err := e.iot.CreatePolicyVersion(e.ctx, &iot.CreatePolicyVersionInput{PolicyName: name, PolicyDocument: aws.String(topicPolicy(2))})
	must(t, err)
	if aws.ToString(v2.PolicyVersionId) != "2" || v2.IsDefaultVersion || aws.ToString(v2.PolicyDocument) != topicPolicy(2) ||
		aws.ToString(v2.PolicyArn) != "arn:aws:iot:us-east-1:123456789012:policy/p" {
		t.Errorf("CreatePolicyVersion = %+v", v2)
	}
	v3, err := e.iot.CreatePolicyVersion(e.ctx, &iot.CreatePolicyVersionInput{PolicyName: name, PolicyDocument: aws.String(topicPolicy(3)), SetAsDefault: true})
	must(t, err)
	if aws.ToString(v3.PolicyVersionId) != "3" || !v3.IsDefaultVersion {
		t.Errorf("CreatePolicyVersion(setAsDefault) = %+v", v3)
	}

	// GetPolicy follows the default version.
	p, err := e.iot.GetPolicy(e.ctx, &iot.GetPolicyInput{PolicyName: name})
	must(t, err)
	if aws.ToString(p.DefaultVersionId) != "3" || aws.ToString(p.PolicyDocument) != topicPolicy(3) {
		t.Errorf("GetPolicy = default %s, document %s", aws.ToString(p.DefaultVersionId), aws.ToString(p.PolicyDocument))
	}

	got, err := e.iot.GetPolicyVersion(e.ctx, &iot.GetPolicyVersionInput{PolicyName: name, PolicyVersionId: aws.String("1")})
	must(t, err)
	if aws.ToString(got.PolicyName) != "p" || aws.ToString(got.PolicyArn) != aws.ToString(v2.PolicyArn) ||
		aws.ToString(got.PolicyDocument) != topicPolicy(1) || aws.ToString(got.PolicyVersionId) != "1" ||
		got.IsDefaultVersion || aws.ToString(got.GenerationId) == "" {
		t.Errorf("GetPolicyVersion(1) = %+v", got)
	}
	for field, ts := range map[string]*time.Time{"creationDate": got.CreationDate, "lastModifiedDate": got.LastModifiedDate} {
		if ts == nil || ts.Before(before) || ts.After(time.Now().Add(time.Second)) {
			t.Errorf("%s = %v, want about now", field, ts)
		}
	}
	got, err = e.iot.GetPolicyVersion(e.ctx, &iot.GetPolicyVersionInput{PolicyName: name, PolicyVersionId: aws.String("3")})
	must(t, err)
	if !got.IsDefaultVersion || aws.ToString(got.GenerationId) != aws.ToString(p.GenerationId) {
		t.Errorf("GetPolicyVersion(3) = %+v; policy generation %s", got, aws.ToString(p.GenerationId))
	}

	if ids := e.versionIDs(t, "p"); !slices.Equal(ids, []string{"3*", "2", "1"}) {
		t.Errorf("ListPolicyVersions = %v", ids)
	}

	for i := 4; i <= 5; i++ {
		_, err := e.iot.CreatePolicyVersion(e.ctx, &iot.CreatePolicyVersionInput{PolicyName: name, PolicyDocument: aws.String(topicPolicy(i))})
		must(t, err)
	}
	_, err = e.iot.CreatePolicyVersion(e.ctx, &iot.CreatePolicyVersionInput{PolicyName: name, PolicyDocument: aws.String(topicPolicy(6)), SetAsDefault: true})
	wantErr[*types.VersionsLimitExceededException](t, err, http.StatusConflict)

	_, err = e.iot.DeletePolicyVersion(e.ctx, &iot.DeletePolicyVersionInput{PolicyName: name, PolicyVersionId: aws.String("3")})
	ex := wantErr[*types.DeleteConflictException](t, err, http.StatusConflict)
	if aws.ToString(ex.Message) != "Cannot delete the default version of a policy" {
		t.Errorf("message = %q", aws.ToString(ex.Message))
	}

	_, err = e.iot.SetDefaultPolicyVersion(e.ctx, &iot.SetDefaultPolicyVersionInput{PolicyName: name, PolicyVersionId: aws.String("1")})
	must(t, err)
	p, err = e.iot.GetPolicy(e.ctx, &iot.GetPolicyInput{PolicyName: name})
	must(t, err)
	if aws.ToString(p.DefaultVersionId) != "1" || aws.ToString(p.PolicyDocument) != topicPolicy(1) {
		t.Errorf("after SetDefaultPolicyVersion(1): default %s", aws.ToString(p.DefaultVersionId))
	}

	_, err = e.iot.DeletePolicy(e.ctx, &iot.DeletePolicyInput{PolicyName: name})
	ex = wantErr[*types.DeleteConflictException](t, err, http.StatusConflict)
	if aws.ToString(ex.Message) != "The policy cannot be deleted as the policy has non-default versions" {
		t.Errorf("message = %q", aws.ToString(ex.Message))
	}

	// Version ids are never reused.
	_, err = e.iot.DeletePolicyVersion(e.ctx, &iot.DeletePolicyVersionInput{PolicyName: name, PolicyVersionId: aws.String("5")})
	must(t, err)
	v6, err := e.iot.CreatePolicyVersion(e.ctx, &iot.CreatePolicyVersionInput{PolicyName: name, PolicyDocument: aws.String(topicPolicy(6))})
	must(t, err)
	if aws.ToString(v6.PolicyVersionId) != "6" {
		t.Errorf("version after a deletion = %s, want 6", aws.ToString(v6.PolicyVersionId))
	}
	if ids := e.versionIDs(t, "p"); !slices.Equal(ids, []string{"6", "4", "3", "2", "1*"}) {
		t.Errorf("ListPolicyVersions = %v", ids)
	}

	for _, id := range []string{"6", "4", "3", "2"} {
		_, err := e.iot.DeletePolicyVersion(e.ctx, &iot.DeletePolicyVersionInput{PolicyName: name, PolicyVersionId: aws.String(id)})
		must(t, err)
	}
	_, err = e.iot.DeletePolicy(e.ctx, &iot.DeletePolicyInput{PolicyName: name})
	must(t, err)
}

func TestPolicyVersionErrors(t *testing.T) {
	e := newEnv(t)
	_, err := e.iot.CreatePolicy(e.ctx, &iot.CreatePolicyInput{PolicyName: aws.String("p"), PolicyDocument: aws.String(topicPolicy(1))})
	must(t, err)
	p, missing := aws.String("p"), aws.String("missing")

	tests := []struct {
		name string
		call func() error
		want func(t *testing.T, err error)
	}{
		{"create on a missing policy", func() error {
			_, err := e.iot.CreatePolicyVersion(e.ctx, &iot.CreatePolicyVersionInput{PolicyName: missing, PolicyDocument: aws.String(topicPolicy(2))})
			return err
		}, notFound},
		{"create a malformed document", func() error {
			_, err := e.iot.CreatePolicyVersion(e.ctx, &iot.CreatePolicyVersionInput{PolicyName: p, PolicyDocument: aws.String(`{"Statement":`)})
			return err
		}, func(t *testing.T, err error) { wantErr[*types.MalformedPolicyException](t, err, http.StatusBadRequest) }},
		{"get a missing version", func() error {
			_, err := e.iot.GetPolicyVersion(e.ctx, &iot.GetPolicyVersionInput{PolicyName: p, PolicyVersionId: aws.String("9")})
			return err
		}, notFound},
		{"get from a missing policy", func() error {
			_, err := e.iot.GetPolicyVersion(e.ctx, &iot.GetPolicyVersionInput{PolicyName: missing, PolicyVersionId: aws.String("1")})
			return err
		}, notFound},
		{"get a non-numeric version", func() error {
			_, err := e.iot.GetPolicyVersion(e.ctx, &iot.GetPolicyVersionInput{PolicyName: p, PolicyVersionId: aws.String("v1")})
			return err
		}, func(t *testing.T, err error) { wantErr[*types.InvalidRequestException](t, err, http.StatusBadRequest) }},
		{"list a missing policy", func() error {
			_, err := e.iot.ListPolicyVersions(e.ctx, &iot.ListPolicyVersionsInput{PolicyName: missing})
			return err
		}, notFound},
		{"set a missing version", func() error {
			_, err := e.iot.SetDefaultPolicyVersion(e.ctx, &iot.SetDefaultPolicyVersionInput{PolicyName: p, PolicyVersionId: aws.String("2")})
			return err
		}, notFound},
		{"delete a missing version", func() error {
			_, err := e.iot.DeletePolicyVersion(e.ctx, &iot.DeletePolicyVersionInput{PolicyName: p, PolicyVersionId: aws.String("2")})
			return err
		}, notFound},
		{"delete from a missing policy", func() error {
			_, err := e.iot.DeletePolicyVersion(e.ctx, &iot.DeletePolicyVersionInput{PolicyName: missing, PolicyVersionId: aws.String("2")})
			return err
		}, notFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.want(t, tc.call()) })
	}
}

func notFound(t *testing.T, err error) {
	t.Helper()
	wantErr[*types.ResourceNotFoundException](t, err, http.StatusNotFound)
}

// TestPolicyVersionWire checks what the SDK cannot show: the raw query and body handling and the
// JSON types on the wire.
func TestPolicyVersionWire(t *testing.T) {
	e := newEnv(t)
	_, err := e.iot.CreatePolicy(e.ctx, &iot.CreatePolicyInput{PolicyName: aws.String("p"), PolicyDocument: aws.String(topicPolicy(1))})
	must(t, err)

	tests := []struct {
		name, method, path, body string
		status                   int
		errType                  string
	}{
		{"setAsDefault not a boolean", http.MethodPost, "/policies/p/version?setAsDefault=maybe", `{"policyDocument":"{}"}`, 400, "InvalidRequestException"},
		{"no policyDocument", http.MethodPost, "/policies/p/version", `{}`, 400, "InvalidRequestException"},
		{"policyDocument not a string", http.MethodPost, "/policies/p/version", `{"policyDocument":{}}`, 400, "InvalidRequestException"},
		{"setAsDefault=false", http.MethodPost, "/policies/p/version?setAsDefault=false", fmt.Sprintf(`{"policyDocument":%q}`, topicPolicy(2)), 200, ""},
		{"unknown method", http.MethodPut, "/policies/p/version/1", "", 404, "UnknownOperationException"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.do(t, tc.method, tc.path, tc.body, nil)
			if resp.StatusCode != tc.status || resp.Header.Get("x-amzn-ErrorType") != tc.errType {
				t.Fatalf("status %d, error type %q, body %s", resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"), body)
			}
		})
	}

	resp, body := e.do(t, http.MethodGet, "/policies/p/version", "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("ListPolicyVersions: %d %s", resp.StatusCode, body)
	}
	var list struct {
		PolicyVersions []map[string]any `json:"policyVersions"`
	}
	must(t, json.Unmarshal(body, &list))
	if len(list.PolicyVersions) != 2 {
		t.Fatalf("policyVersions = %s", body)
	}
	for _, v := range list.PolicyVersions {
		if _, ok := v["createDate"].(float64); !ok {
			t.Errorf("createDate is not a number: %s", body)
		}
		if _, ok := v["isDefaultVersion"].(bool); !ok {
			t.Errorf("isDefaultVersion is not a boolean: %s", body)
		}
	}
}
