package registry

import (
	"errors"
	"testing"
)

func TestCognitoIdentityAttachments(t *testing.T) {
	r := openTest(t)
	const id = "us-east-1:1b2c3d4e-0000-4000-8000-00000000abcd"
	if _, err := r.CreatePolicy("cog", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}`); err != nil {
		t.Fatal(err)
	}
	if err := r.AttachPolicy("cog", id); err != nil {
		t.Fatalf("attach to identity: %v", err)
	}
	ps, err := r.CognitoIdentityPolicies(id)
	if err != nil || len(ps) != 1 || ps[0].Name != "cog" {
		t.Fatalf("policies %v %v", ps, err)
	}
	targets, _, err := r.ListTargetsForPolicy("cog", "", 10)
	if err != nil || len(targets) != 1 || targets[0] != id {
		t.Fatalf("targets %v %v", targets, err)
	}
	if err := r.DetachPolicy("cog", id); err != nil {
		t.Fatal(err)
	}
	if ps, _ := r.CognitoIdentityPolicies(id); len(ps) != 0 {
		t.Fatalf("still attached: %v", ps)
	}
	if err := r.AttachPolicy("cog", "us-east-1:not-a-uuid"); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("malformed identity accepted: %v", err)
	}
}
