package api_test

import (
	"maps"
	"net/http"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

// groupNames lists the names of GroupNameAndArn entries.
func groupNames(gs []types.GroupNameAndArn) []string {
	out := make([]string, 0, len(gs))
	for _, g := range gs {
		out = append(out, aws.ToString(g.GroupName))
	}
	return out
}

func TestThingGroupLifecycle(t *testing.T) {
	e := newEnv(t)
	props := &types.ThingGroupProperties{
		ThingGroupDescription: aws.String("all lights"),
		AttributePayload:      &types.AttributePayload{Attributes: map[string]string{"site": "hq"}},
	}
	root, err := e.iot.CreateThingGroup(e.ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("Lights"), ThingGroupProperties: props,
		Tags: []types.Tag{{Key: aws.String("env"), Value: aws.String("dev")}}})
	must(t, err)
	if aws.ToString(root.ThingGroupArn) != "arn:aws:iot:us-east-1:123456789012:thinggroup/Lights" || len(aws.ToString(root.ThingGroupId)) != 36 {
		t.Fatalf("created %+v", root)
	}
	again, err := e.iot.CreateThingGroup(e.ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("Lights"), ThingGroupProperties: props})
	must(t, err)
	if aws.ToString(again.ThingGroupId) != aws.ToString(root.ThingGroupId) {
		t.Fatal("idempotent CreateThingGroup changed the id")
	}
	_, err = e.iot.CreateThingGroup(e.ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("Lights")})
	wantErr[*types.ResourceAlreadyExistsException](t, err, http.StatusConflict)
	_, err = e.iot.CreateThingGroup(e.ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("Orphan"), ParentGroupName: aws.String("Nope")})
	wantErr[*types.InvalidRequestException](t, err, http.StatusBadRequest)
	red, err := e.iot.CreateThingGroup(e.ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("Red"), ParentGroupName: aws.String("Lights")})
	must(t, err)
	_, err = e.iot.CreateThingGroup(e.ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("RedLED"), ParentGroupName: aws.String("Red")})
	must(t, err)
	_, err = e.iot.CreateThingGroup(e.ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("Other")})
	must(t, err)

	desc, err := e.iot.DescribeThingGroup(e.ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String("RedLED")})
	must(t, err)
	m := desc.ThingGroupMetadata
	if aws.ToString(m.ParentGroupName) != "Red" || !slices.Equal(groupNames(m.RootToParentThingGroups), []string{"Lights", "Red"}) ||
		aws.ToString(m.RootToParentThingGroups[1].GroupArn) != aws.ToString(red.ThingGroupArn) || m.CreationDate == nil || desc.Version != 1 {
		t.Fatalf("described %+v", m)
	}
	rootDesc, err := e.iot.DescribeThingGroup(e.ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String("Lights")})
	must(t, err)
	if aws.ToString(rootDesc.ThingGroupProperties.ThingGroupDescription) != "all lights" ||
		!maps.Equal(rootDesc.ThingGroupProperties.AttributePayload.Attributes, map[string]string{"site": "hq"}) ||
		rootDesc.ThingGroupMetadata.ParentGroupName != nil {
		t.Fatalf("root %+v", rootDesc.ThingGroupProperties)
	}
	_, err = e.iot.DescribeThingGroup(e.ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String("Nope")})
	wantErr[*types.ResourceNotFoundException](t, err, http.StatusNotFound)

	// ListThingGroups: everything, roots, children, descendants, by prefix, paged.
	for _, c := range []struct {
		in   iot.ListThingGroupsInput
		want []string
	}{
		{iot.ListThingGroupsInput{}, []string{"Lights", "Other", "Red", "RedLED"}},
		{iot.ListThingGroupsInput{Recursive: aws.Bool(false)}, []string{"Lights", "Other"}},
		{iot.ListThingGroupsInput{ParentGroup: aws.String("Lights"), Recursive: aws.Bool(false)}, []string{"Red"}},
		{iot.ListThingGroupsInput{ParentGroup: aws.String("Lights")}, []string{"Red", "RedLED"}},
		{iot.ListThingGroupsInput{NamePrefixFilter: aws.String("Red")}, []string{"Red", "RedLED"}},
	} {
		var names []string
		p := iot.NewListThingGroupsPaginator(e.iot, &c.in, func(o *iot.ListThingGroupsPaginatorOptions) { o.Limit = 1 })
		for p.HasMorePages() {
			out, err := p.NextPage(e.ctx)
			must(t, err)
			names = append(names, groupNames(out.ThingGroups)...)
		}
		if !slices.Equal(names, c.want) {
			t.Errorf("ListThingGroups %+v = %v, want %v", c.in, names, c.want)
		}
	}
	_, err = e.iot.ListThingGroups(e.ctx, &iot.ListThingGroupsInput{ParentGroup: aws.String("Nope")})
	wantErr[*types.ResourceNotFoundException](t, err, http.StatusNotFound)

	// UpdateThingGroup.
	up, err := e.iot.UpdateThingGroup(e.ctx, &iot.UpdateThingGroupInput{ThingGroupName: aws.String("Lights"), ExpectedVersion: aws.Int64(1),
		ThingGroupProperties: &types.ThingGroupProperties{AttributePayload: &types.AttributePayload{Attributes: map[string]string{"floor": "2"}, Merge: true}}})
	must(t, err)
	if up.Version != 2 {
		t.Fatalf("version %d", up.Version)
	}
	rootDesc, err = e.iot.DescribeThingGroup(e.ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String("Lights")})
	must(t, err)
	if !maps.Equal(rootDesc.ThingGroupProperties.AttributePayload.Attributes, map[string]string{"site": "hq", "floor": "2"}) || rootDesc.Version != 2 {
		t.Fatalf("after update %+v", rootDesc.ThingGroupProperties.AttributePayload)
	}
	_, err = e.iot.UpdateThingGroup(e.ctx, &iot.UpdateThingGroupInput{ThingGroupName: aws.String("Lights"), ExpectedVersion: aws.Int64(1),
		ThingGroupProperties: &types.ThingGroupProperties{}})
	wantErr[*types.VersionConflictException](t, err, http.StatusConflict)
	_, err = e.iot.UpdateThingGroup(e.ctx, &iot.UpdateThingGroupInput{ThingGroupName: aws.String("Nope"), ThingGroupProperties: &types.ThingGroupProperties{}})
	wantErr[*types.ResourceNotFoundException](t, err, http.StatusNotFound)

	// Membership, by name and by ARN.
	for _, n := range []string{"bulb1", "bulb2"} {
		_, err := e.iot.CreateThing(e.ctx, &iot.CreateThingInput{ThingName: aws.String(n)})
		must(t, err)
	}
	_, err = e.iot.AddThingToThingGroup(e.ctx, &iot.AddThingToThingGroupInput{ThingGroupName: aws.String("RedLED"), ThingName: aws.String("bulb1")})
	must(t, err)
	_, err = e.iot.AddThingToThingGroup(e.ctx, &iot.AddThingToThingGroupInput{ThingGroupArn: red.ThingGroupArn,
		ThingArn: aws.String("arn:aws:iot:us-east-1:123456789012:thing/bulb2")})
	must(t, err)
	_, err = e.iot.AddThingToThingGroup(e.ctx, &iot.AddThingToThingGroupInput{ThingGroupName: aws.String("Lights"), ThingName: aws.String("bulb1")})
	wantErr[*types.InvalidRequestException](t, err, http.StatusBadRequest) // same hierarchy
	_, err = e.iot.AddThingToThingGroup(e.ctx, &iot.AddThingToThingGroupInput{ThingGroupName: aws.String("Nope"), ThingName: aws.String("bulb1")})
	wantErr[*types.ResourceNotFoundException](t, err, http.StatusNotFound)
	_, err = e.iot.AddThingToThingGroup(e.ctx, &iot.AddThingToThingGroupInput{ThingGroupName: aws.String("Other"), ThingName: aws.String("ghost")})
	wantErr[*types.ResourceNotFoundException](t, err, http.StatusNotFound)
	_, err = e.iot.AddThingToThingGroup(e.ctx, &iot.AddThingToThingGroupInput{ThingGroupName: aws.String("Other")})
	wantErr[*types.InvalidRequestException](t, err, http.StatusBadRequest)

	things, err := e.iot.ListThingsInThingGroup(e.ctx, &iot.ListThingsInThingGroupInput{ThingGroupName: aws.String("Lights"), Recursive: true})
	must(t, err)
	if !slices.Equal(things.Things, []string{"bulb1", "bulb2"}) {
		t.Fatalf("recursive things %v", things.Things)
	}
	things, err = e.iot.ListThingsInThingGroup(e.ctx, &iot.ListThingsInThingGroupInput{ThingGroupName: aws.String("Red")})
	must(t, err)
	if !slices.Equal(things.Things, []string{"bulb2"}) {
		t.Fatalf("direct things %v", things.Things)
	}
	_, err = e.iot.ListThingsInThingGroup(e.ctx, &iot.ListThingsInThingGroupInput{ThingGroupName: aws.String("Nope")})
	wantErr[*types.ResourceNotFoundException](t, err, http.StatusNotFound)
	forThing, err := e.iot.ListThingGroupsForThing(e.ctx, &iot.ListThingGroupsForThingInput{ThingName: aws.String("bulb1")})
	must(t, err)
	if !slices.Equal(groupNames(forThing.ThingGroups), []string{"Lights", "Red", "RedLED"}) {
		t.Fatalf("groups of bulb1 %v", groupNames(forThing.ThingGroups))
	}
	_, err = e.iot.ListThingGroupsForThing(e.ctx, &iot.ListThingGroupsForThingInput{ThingName: aws.String("ghost")})
	wantErr[*types.ResourceNotFoundException](t, err, http.StatusNotFound)

	_, err = e.iot.RemoveThingFromThingGroup(e.ctx, &iot.RemoveThingFromThingGroupInput{ThingGroupName: aws.String("RedLED"), ThingName: aws.String("bulb1")})
	must(t, err)
	_, err = e.iot.RemoveThingFromThingGroup(e.ctx, &iot.RemoveThingFromThingGroupInput{ThingGroupName: aws.String("RedLED"), ThingName: aws.String("bulb1")})
	must(t, err)
	_, err = e.iot.RemoveThingFromThingGroup(e.ctx, &iot.RemoveThingFromThingGroupInput{ThingGroupName: aws.String("Nope"), ThingName: aws.String("bulb1")})
	wantErr[*types.ResourceNotFoundException](t, err, http.StatusNotFound)

	// DeleteThingGroup: not with children; a missing group is fine.
	_, err = e.iot.DeleteThingGroup(e.ctx, &iot.DeleteThingGroupInput{ThingGroupName: aws.String("Red")})
	ire := wantErr[*types.InvalidRequestException](t, err, http.StatusBadRequest)
	if ire.ErrorMessage() != "Cannot delete thing group : Red when there are still child groups attached to it" {
		t.Errorf("message %q", ire.ErrorMessage())
	}
	_, err = e.iot.DeleteThingGroup(e.ctx, &iot.DeleteThingGroupInput{ThingGroupName: aws.String("RedLED"), ExpectedVersion: aws.Int64(5)})
	wantErr[*types.VersionConflictException](t, err, http.StatusConflict)
	for _, n := range []string{"RedLED", "Red", "Red"} {
		_, err = e.iot.DeleteThingGroup(e.ctx, &iot.DeleteThingGroupInput{ThingGroupName: aws.String(n)})
		must(t, err)
	}
	forThing, err = e.iot.ListThingGroupsForThing(e.ctx, &iot.ListThingGroupsForThingInput{ThingName: aws.String("bulb2")})
	must(t, err)
	if len(forThing.ThingGroups) != 0 {
		t.Fatalf("bulb2 still in %v", groupNames(forThing.ThingGroups))
	}
}

// TestThingGroupPolicies attaches policies to a group and its parent and finds them on the
// group's things: ListAttachedPolicies (recursive), ListTargetsForPolicy and TestAuthorization.
func TestThingGroupPolicies(t *testing.T) {
	e := newEnv(t)
	fleet, err := e.iot.CreateThingGroup(e.ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("fleet")})
	must(t, err)
	eu, err := e.iot.CreateThingGroup(e.ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("eu"), ParentGroupName: aws.String("fleet")})
	must(t, err)
	policies := map[string]string{
		"fleet-telemetry": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:us-east-1:123456789012:topic/telemetry/${iot:Connection.Thing.ThingName}"}]}`,
		"eu-connect":      `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}`,
		"spare":           allowAll,
		"third":           allowAll,
	}
	for name, doc := range policies {
		_, err := e.iot.CreatePolicy(e.ctx, &iot.CreatePolicyInput{PolicyName: aws.String(name), PolicyDocument: aws.String(doc)})
		must(t, err)
	}
	_, err = e.iot.AttachPolicy(e.ctx, &iot.AttachPolicyInput{PolicyName: aws.String("fleet-telemetry"), Target: fleet.ThingGroupArn})
	must(t, err)
	_, err = e.iot.AttachPolicy(e.ctx, &iot.AttachPolicyInput{PolicyName: aws.String("eu-connect"), Target: eu.ThingGroupArn})
	must(t, err)
	_, err = e.iot.AttachPolicy(e.ctx, &iot.AttachPolicyInput{PolicyName: aws.String("spare"), Target: eu.ThingGroupArn})
	must(t, err)
	_, err = e.iot.AttachPolicy(e.ctx, &iot.AttachPolicyInput{PolicyName: aws.String("third"), Target: eu.ThingGroupArn})
	wantErr[*types.LimitExceededException](t, err, http.StatusGone)
	_, err = e.iot.AttachPolicy(e.ctx, &iot.AttachPolicyInput{PolicyName: aws.String("spare"), Target: aws.String("arn:aws:iot:us-east-1:123456789012:thinggroup/nope")})
	wantErr[*types.ResourceNotFoundException](t, err, http.StatusNotFound)
	_, err = e.iot.DetachPolicy(e.ctx, &iot.DetachPolicyInput{PolicyName: aws.String("spare"), Target: eu.ThingGroupArn})
	must(t, err)

	direct, err := e.iot.ListAttachedPolicies(e.ctx, &iot.ListAttachedPoliciesInput{Target: eu.ThingGroupArn})
	must(t, err)
	recursive, err := e.iot.ListAttachedPolicies(e.ctx, &iot.ListAttachedPoliciesInput{Target: eu.ThingGroupArn, Recursive: true})
	must(t, err)
	names := func(ps []types.Policy) []string {
		var out []string
		for _, p := range ps {
			out = append(out, aws.ToString(p.PolicyName))
		}
		return out
	}
	if !slices.Equal(names(direct.Policies), []string{"eu-connect"}) || !slices.Equal(names(recursive.Policies), []string{"eu-connect", "fleet-telemetry"}) {
		t.Fatalf("attached to eu: %v; recursive %v", names(direct.Policies), names(recursive.Policies))
	}
	targets, err := e.iot.ListTargetsForPolicy(e.ctx, &iot.ListTargetsForPolicyInput{PolicyName: aws.String("fleet-telemetry")})
	must(t, err)
	if !slices.Equal(targets.Targets, []string{aws.ToString(fleet.ThingGroupArn)}) {
		t.Fatalf("targets %v", targets.Targets)
	}
	_, err = e.iot.DeletePolicy(e.ctx, &iot.DeletePolicyInput{PolicyName: aws.String("fleet-telemetry")})
	wantErr[*types.DeleteConflictException](t, err, http.StatusConflict)

	// A device bound to a thing of the group gets the group policies.
	_, err = e.iot.CreateThing(e.ctx, &iot.CreateThingInput{ThingName: aws.String("dev-1")})
	must(t, err)
	_, err = e.iot.AddThingToThingGroup(e.ctx, &iot.AddThingToThingGroupInput{ThingGroupName: aws.String("eu"), ThingName: aws.String("dev-1")})
	must(t, err)
	cert, err := e.iot.CreateKeysAndCertificate(e.ctx, &iot.CreateKeysAndCertificateInput{SetAsActive: true})
	must(t, err)
	_, err = e.iot.AttachThingPrincipal(e.ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String("dev-1"), Principal: cert.CertificateArn})
	must(t, err)
	decide := func(clientID, topic string) types.AuthDecision {
		t.Helper()
		out, err := e.iot.TestAuthorization(e.ctx, &iot.TestAuthorizationInput{
			Principal: cert.CertificateArn, ClientId: aws.String(clientID),
			AuthInfos: []types.AuthInfo{{ActionType: types.ActionTypePublish, Resources: []string{"arn:aws:iot:us-east-1:123456789012:topic/" + topic}}},
		})
		must(t, err)
		return out.AuthResults[0].AuthDecision
	}
	if got := decide("dev-1", "telemetry/dev-1"); got != types.AuthDecisionAllowed {
		t.Errorf("bound thing's group policy: %s, want ALLOWED", got)
	}
	if got := decide("someone-else", "telemetry/dev-1"); got != types.AuthDecisionImplicitDeny {
		t.Errorf("unbound connection: %s, want IMPLICIT_DENY (group policies apply to the bound thing only)", got)
	}
	_, err = e.iot.RemoveThingFromThingGroup(e.ctx, &iot.RemoveThingFromThingGroupInput{ThingGroupName: aws.String("eu"), ThingName: aws.String("dev-1")})
	must(t, err)
	if got := decide("dev-1", "telemetry/dev-1"); got != types.AuthDecisionImplicitDeny {
		t.Errorf("after leaving the group: %s, want IMPLICIT_DENY", got)
	}
}
