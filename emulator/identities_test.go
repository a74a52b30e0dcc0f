package emulator

import (
	"strings"
	"testing"
)

// TestSeedCredentialIdentities checks the seed's credentials with policy and Cognito identity,
// and the errors naming the entry.
func TestSeedCredentialIdentities(t *testing.T) {
	s, err := ParseSeed([]byte(`
credentials:
  - accessKeyId: AK1
    secretAccessKey: s1
    policy: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "iot:Connect", Resource: "*"}]}
    cognitoIdentityId: us-east-1:0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d
  - {accessKeyId: AK2, secretAccessKey: s2, policy: '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iot:*","Resource":"*"}]}'}
  - {accessKeyId: AK3, secretAccessKey: s3}
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.validate(func(string, string) bool { return false }); err != nil {
		t.Fatal(err)
	}
	e := &Emulator{}
	e.addCredentials(s.Credentials)
	ids := e.cfg.CredentialIdentities
	if !strings.Contains(ids["AK1"].Policy, "iot:Connect") || ids["AK1"].CognitoIdentityID == "" || ids["AK2"].Policy == "" {
		t.Fatalf("identities %+v", ids)
	}
	if _, ok := ids["AK3"]; ok {
		t.Fatal("a key with neither policy nor identity got an identity")
	}
	bad, err := ParseSeed([]byte("credentials:\n  - {accessKeyId: AK, secretAccessKey: s, policy: {Statement: 5}, cognitoIdentityId: nope}\n"))
	if err != nil {
		t.Fatal(err)
	}
	err = bad.validate(func(string, string) bool { return false })
	if err == nil || !strings.Contains(err.Error(), "credentials[0]") || !strings.Contains(err.Error(), "policy") || !strings.Contains(err.Error(), "cognitoIdentityId") {
		t.Fatalf("bad credential identity: %v", err)
	}
	if _, err := New(Config{CredentialIdentities: map[string]CredentialIdentity{"AK": {Policy: "{"}}}); err == nil {
		t.Fatal("a bad policy in Config accepted")
	}
}
