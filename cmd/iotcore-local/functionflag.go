package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/iotcore-local/iotcore-local/emulator"

	"github.com/iotcore-local/iotcore-local/functions"
)

// functionFlag collects repeatable --function ARN=URL routes.
type functionFlag map[string]string

func (f functionFlag) String() string { return strings.Join(keys(f), ",") }

func (f functionFlag) Set(v string) error {
	arn, u, err := functions.ParseRoute(v)
	if err != nil {
		return err
	}
	f[arn] = u
	return nil
}

// credentialIdentities joins --credentials identity ids and --credential-policy files into the
// emulator's CredentialIdentities; a policy for a key not given with --credentials is an error.
func credentialIdentities(secrets, cognito, policies map[string]string) (map[string]emulator.CredentialIdentity, error) {
	out := map[string]emulator.CredentialIdentity{}
	for key, id := range cognito {
		out[key] = emulator.CredentialIdentity{CognitoIdentityID: id}
	}
	for key, file := range policies {
		if _, ok := secrets[key]; !ok {
			return nil, fmt.Errorf("--credential-policy %s: the key is not given with --credentials", key)
		}
		doc, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("--credential-policy %s: %w", key, err)
		}
		id := out[key]
		id.Policy = string(doc)
		out[key] = id
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}
