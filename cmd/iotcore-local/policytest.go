package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iotcore-local/iotcore-local/api"
)

// policyActions are the policy actions "policy test" accepts (in any case), with
// TestAuthorization's actionType for each. RETAIN is the emulator's name for iot:RetainPublish
// (AWS's API has no way to ask about it).
var policyActions = []struct {
	name string
	typ  types.ActionType
}{
	{"iot:Connect", types.ActionTypeConnect},
	{"iot:Publish", types.ActionTypePublish},
	{"iot:Subscribe", types.ActionTypeSubscribe},
	{"iot:Receive", types.ActionTypeReceive},
	{"iot:RetainPublish", "RETAIN"},
}

// actionType returns the canonical spelling of a policy action and its actionType.
func actionType(action string) (string, types.ActionType, bool) {
	for _, a := range policyActions {
		if strings.EqualFold(a.name, action) {
			return a.name, a.typ, true
		}
	}
	return "", "", false
}

// resourceTypes are the TYPE parts a short --resource may start with.
var resourceTypes = []string{"client/", "topic/", "topicfilter/", "thing/"}

// maxTestResources is TestAuthorization's limit of authInfos per call; each --resource is one.
const maxTestResources = 10

// policyTest is "policy test": it asks the emulator, through the TestAuthorization API, whether
// a device connecting with certificate --cert and client ID --client-id may do --action on each
// --resource, and prints per resource the decision, the policies that allowed, denied or did not
// match, and the emulator's explanation. A denial is an answer, not a failure: the exit status
// is 0 either way.
func policyTest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("policy test", stderr)
	cert := fs.String("cert", "", "certificate ID or ARN of the device")
	clientID := fs.String("client-id", "", "MQTT client ID the device connects with")
	action := fs.String("action", "", "iot:Connect, iot:Publish, iot:Subscribe, iot:Receive or iot:RetainPublish")
	var resources, add, skip listFlag
	fs.Var(&resources, "resource", "resource as TYPE/NAME (topic/a/b, topicfilter/a/#, client/id) or a full ARN (repeatable)")
	fs.Var(&add, "add-policy", "policy to test as if attached (repeatable)")
	fs.Var(&skip, "skip-policy", "attached policy to test as if detached (repeatable)")
	account := fs.String("account", "123456789012", "account of the resources given as TYPE/NAME")
	newClient := adminFlags(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 || *cert == "" || *action == "" || len(resources) == 0 {
		return fmt.Errorf("%w: policy test takes --cert ID --action ACTION --resource TYPE/NAME [--client-id ID]", errUsage)
	}
	actionName, typ, ok := actionType(*action)
	if !ok {
		return fmt.Errorf("%w: policy test: --action %q is not iot:Connect, iot:Publish, iot:Subscribe, iot:Receive or iot:RetainPublish%s", errUsage, *action, suggestAction(*action))
	}
	if len(resources) > maxTestResources {
		return fmt.Errorf("%w: policy test: at most %d --resource flags", errUsage, maxTestResources)
	}
	region := fs.Lookup("region").Value.String()
	infos := make([]types.AuthInfo, 0, len(resources))
	for _, r := range resources {
		arn, err := resourceARN(r, region, *account)
		if err != nil {
			return fmt.Errorf("%w: policy test: %v", errUsage, err)
		}
		infos = append(infos, types.AuthInfo{ActionType: typ, Resources: []string{arn}})
	}

	in := &iot.TestAuthorizationInput{
		Principal:         cert,
		AuthInfos:         infos,
		PolicyNamesToAdd:  add,
		PolicyNamesToSkip: skip,
	}
	if *clientID != "" {
		in.ClientId = clientID
	}
	var header http.Header
	out, err := newClient().iot.TestAuthorization(ctx, in, func(o *iot.Options) {
		o.HTTPClient = headerRecorder{next: o.HTTPClient, header: &header}
	})
	if err != nil {
		return fmt.Errorf("test authorization of certificate %s: %w", *cert, err)
	}
	printAuthResults(stdout, actionName, out.AuthResults, explanations(header))
	warnTestedPolicies(ctx, newClient(), out.AuthResults, stderr)
	return nil
}

// resourceARN expands TYPE/NAME to arn:aws:iot:REGION:ACCOUNT:TYPE/NAME; a full ARN is kept.
func resourceARN(r, region, account string) (string, error) {
	if strings.HasPrefix(r, "arn:") {
		return r, nil
	}
	for _, t := range resourceTypes {
		if strings.HasPrefix(r, t) {
			return "arn:aws:iot:" + region + ":" + account + ":" + r, nil
		}
	}
	return "", fmt.Errorf("--resource %q: give TYPE/NAME (topic/a/b, topicfilter/a/#, client/id, thing/name) or a full ARN", r)
}

// headerRecorder is an HTTP client that keeps the last response's headers, where the emulator
// puts its explanation of a TestAuthorization answer.
type headerRecorder struct {
	next   iot.HTTPClient
	header *http.Header
}

func (h headerRecorder) Do(req *http.Request) (*http.Response, error) {
	resp, err := h.next.Do(req)
	if resp != nil {
		*h.header = resp.Header.Clone()
	}
	return resp, err
}

// explained is the emulator's explanation of one answer: notes on the whole question, and one
// reason per authInfo (each --resource is one authInfo with one resource).
type explained struct {
	notes   []string
	reasons map[int]string
}

// explanations decodes the api.ExplanationHeader values. Lines for a resource start
// "authInfos[N].resources[0]: "; any other line is a note. Values that do not decode are kept
// as they are.
func explanations(h http.Header) explained {
	ex := explained{reasons: map[int]string{}}
	for _, v := range h.Values(api.ExplanationHeader) {
		if u, err := strconv.Unquote(v); err == nil {
			v = u
		}
		var i int
		if _, err := fmt.Sscanf(v, "authInfos[%d].resources[0]:", &i); err == nil {
			if _, reason, ok := strings.Cut(v, "]: "); ok {
				ex.reasons[i] = reason
				continue
			}
		}
		ex.notes = append(ex.notes, v)
	}
	return ex
}

// printAuthResults writes one block per resource:
//
//	ALLOWED  iot:Publish arn:aws:iot:us-east-1:123456789012:topic/things/dev-1/a
//	  allowed by:           things
//	  explicitly denied by: -
//	  no matching statement: deny-secret
//	  why: allowed: policy "things" statement 1 allows ...
func printAuthResults(w io.Writer, action string, results []types.AuthResult, ex explained) {
	for _, n := range ex.notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	for i, r := range results {
		resource := ""
		if r.AuthInfo != nil {
			resource = strings.Join(r.AuthInfo.Resources, " ")
		}
		fmt.Fprintf(w, "%s  %s %s\n", r.AuthDecision, action, resource)
		var allowed, implicit, explicit []types.Policy
		if r.Allowed != nil {
			allowed = r.Allowed.Policies
		}
		if r.Denied != nil && r.Denied.ImplicitDeny != nil {
			implicit = r.Denied.ImplicitDeny.Policies
		}
		if r.Denied != nil && r.Denied.ExplicitDeny != nil {
			explicit = r.Denied.ExplicitDeny.Policies
		}
		fmt.Fprintf(w, "  allowed by:            %s\n", policyNames(allowed))
		fmt.Fprintf(w, "  explicitly denied by:  %s\n", policyNames(explicit))
		fmt.Fprintf(w, "  no matching statement: %s\n", policyNames(implicit))
		if reason, ok := ex.reasons[i]; ok {
			fmt.Fprintf(w, "  why: %s\n", reason)
		}
	}
}

// policyNames lists policy names, "-" for none.
func policyNames(ps []types.Policy) string {
	if len(ps) == 0 {
		return "-"
	}
	names := make([]string, 0, len(ps))
	for _, p := range ps {
		names = append(names, aws.ToString(p.PolicyName))
	}
	return strings.Join(names, ", ")
}
