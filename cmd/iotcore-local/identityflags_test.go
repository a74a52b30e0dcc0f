package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCredentialIdentityFlags parses --credentials AKID:SECRET[:COGNITO_IDENTITY_ID] and
// --credential-policy AKID=FILE into the emulator's configuration, with errors naming the flag.
func TestCredentialIdentityFlags(t *testing.T) {
	secrets, cognito := mapFlag{}, mapFlag{}
	f := credentialFlag{secrets: secrets, cognito: cognito}
	for _, v := range []string{"AK1:s1", "AK2:s2:us-east-1:0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"} {
		if err := f.Set(v); err != nil {
			t.Fatalf("%s: %v", v, err)
		}
	}
	for _, bad := range []string{"AK3", ":s", "AK3:"} {
		if err := f.Set(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if secrets["AK2"] != "s2" || cognito["AK2"] != "us-east-1:0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d" || cognito["AK1"] != "" {
		t.Fatalf("secrets %v cognito %v", secrets, cognito)
	}
	policy := filepath.Join(t.TempDir(), "p.json")
	os.WriteFile(policy, []byte(`{"Version":"2012-10-17","Statement":[]}`), 0o600)
	ids, err := credentialIdentities(secrets, cognito, map[string]string{"AK1": policy})
	if err != nil || ids["AK1"].Policy == "" || ids["AK2"].CognitoIdentityID == "" {
		t.Fatalf("identities %+v %v", ids, err)
	}
	if _, err := credentialIdentities(secrets, cognito, map[string]string{"AK9": policy}); err == nil || !strings.Contains(err.Error(), "--credential-policy AK9") {
		t.Fatalf("policy for an unknown key: %v", err)
	}
	if _, err := credentialIdentities(secrets, cognito, map[string]string{"AK1": policy + ".missing"}); err == nil {
		t.Fatal("missing policy file accepted")
	}
}
