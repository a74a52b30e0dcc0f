package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iotcore-local/iotcore-local/auth"
)

// policyCreate is "policy create NAME --document FILE". It checks the document locally first, so
// a JSON syntax error names the file, line and column, and prints a warning for each "iot:"
// action AWS IoT Core does not define (AWS accepts those, so the policy is still created).
// Creating a policy that exists with the same document succeeds without change, as
// "thing create" does; a different document is refused with the ways forward.
func policyCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("policy create", stderr)
	document := fs.String("document", "", "file holding the policy document (JSON)")
	client := adminFlags(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *document == "" {
		return fmt.Errorf("%w: policy create takes NAME and --document FILE", errUsage)
	}
	name := pos[0]
	doc, err := os.ReadFile(*document)
	if err != nil {
		return fmt.Errorf("read policy document: %w", err)
	}
	var perr *auth.ParseError
	if _, err := auth.ParseDocument(string(doc)); errors.As(err, &perr) && perr.Offset >= 0 {
		return fmt.Errorf("policy document %s: %w", *document, err)
	}
	for _, w := range auth.DocumentWarnings(string(doc)) {
		fmt.Fprintf(stderr, "warning: policy document %s: %s\n", *document, w)
	}
	c := client()
	out, err := c.iot.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String(name), PolicyDocument: aws.String(string(doc))})
	var exists *types.ResourceAlreadyExistsException
	if errors.As(err, &exists) {
		return policyExists(ctx, c, name, *document, doc, stdout, stderr)
	}
	if err != nil {
		return fmt.Errorf("create policy %s: %w", name, err)
	}
	return printJSON(stdout, map[string]string{"policyName": aws.ToString(out.PolicyName), "policyArn": aws.ToString(out.PolicyArn), "policyVersionId": aws.ToString(out.PolicyVersionId)})
}

// policyExists answers "policy create" for a name already taken: success when the default
// version holds the same document (compared as JSON, so layout does not matter), else an error
// that says how to change the policy instead.
func policyExists(ctx context.Context, c *adminClient, name, file string, doc []byte, stdout, stderr io.Writer) error {
	got, err := c.iot.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: aws.String(name)})
	if err != nil {
		return fmt.Errorf("policy %s exists; reading it failed: %w", name, err)
	}
	if !sameJSON(doc, []byte(aws.ToString(got.PolicyDocument))) {
		return fmt.Errorf("policy %s already exists with a different document; to change it, add a version: "+
			"aws iot create-policy-version --policy-name %s --policy-document file://%s --set-as-default (with --endpoint-url), "+
			"or create the policy under a new name", name, name, file)
	}
	fmt.Fprintf(stderr, "policy %s already exists with this document; nothing changed\n", name)
	return printJSON(stdout, map[string]string{"policyName": aws.ToString(got.PolicyName), "policyArn": aws.ToString(got.PolicyArn), "policyVersionId": aws.ToString(got.DefaultVersionId)})
}

// sameJSON reports whether a and b are the same JSON value.
func sameJSON(a, b []byte) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}
