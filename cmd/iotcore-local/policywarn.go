package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iotcore-local/iotcore-local/auth"
)

// warnTestedPolicies prints, after "policy test"'s answer, a warning for each unknown "iot:"
// action in the policies the answer names: a misspelt "iot:Publsh" is the commonest reason a
// policy does not allow what its author meant. A policy that cannot be read is skipped.
func warnTestedPolicies(ctx context.Context, c *adminClient, results []types.AuthResult, w io.Writer) {
	seen := map[string]bool{}
	for _, r := range results {
		var lists [][]types.Policy
		if r.Allowed != nil {
			lists = append(lists, r.Allowed.Policies)
		}
		if r.Denied != nil && r.Denied.ImplicitDeny != nil {
			lists = append(lists, r.Denied.ImplicitDeny.Policies)
		}
		if r.Denied != nil && r.Denied.ExplicitDeny != nil {
			lists = append(lists, r.Denied.ExplicitDeny.Policies)
		}
		for _, list := range lists {
			for _, p := range list {
				name := aws.ToString(p.PolicyName)
				if name == "" || seen[name] {
					continue
				}
				seen[name] = true
				got, err := c.iot.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: aws.String(name)})
				if err != nil {
					continue
				}
				for _, warn := range auth.DocumentWarnings(aws.ToString(got.PolicyDocument)) {
					fmt.Fprintf(w, "warning: policy %s: %s\n", name, warn)
				}
			}
		}
	}
}

// suggestAction is " (did you mean X?)" for a misspelt --action of "policy test", or "".
func suggestAction(action string) string {
	for _, w := range auth.DocumentWarnings(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":` + strconv.Quote(action) + `,"Resource":"*"}}`) {
		if _, near, ok := strings.Cut(w.Message, "(did you mean "); ok {
			return " (did you mean " + near
		}
	}
	return ""
}
