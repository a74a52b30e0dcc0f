package api_test

import (
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iotcore-local/iotcore-local/index"
)

func TestDynamicThingGroups(t *testing.T) {
	e, x, svc := indexEnv(t)
	create := func() error {
		_, err := e.iot.CreateDynamicThingGroup(e.ctx, &iot.CreateDynamicThingGroupInput{ThingGroupName: aws.String("kitchen"),
			QueryString: aws.String("attributes.room:kitchen")})
		return err
	}
	// Fleet indexing must be on first.
	wantErr[*types.InvalidRequestException](t, create(), 400)
	_, err := e.iot.UpdateIndexingConfiguration(e.ctx, &iot.UpdateIndexingConfigurationInput{
		ThingIndexingConfiguration: &types.ThingIndexingConfiguration{ThingIndexingMode: types.ThingIndexingModeRegistryAndShadow,
			ThingConnectivityIndexingMode: types.ThingConnectivityIndexingModeStatus}})
	must(t, err)
	for i, n := range []string{"a", "b", "c"} {
		_, err := e.iot.CreateThing(e.ctx, &iot.CreateThingInput{ThingName: aws.String(n),
			AttributePayload: &types.AttributePayload{Attributes: map[string]string{"room": []string{"kitchen", "kitchen", "hall"}[i]}}})
		must(t, err)
	}
	out, err := e.iot.CreateDynamicThingGroup(e.ctx, &iot.CreateDynamicThingGroupInput{ThingGroupName: aws.String("kitchen"),
		QueryString: aws.String("attributes.room:kitchen")})
	must(t, err)
	if aws.ToString(out.IndexName) != "AWS_Things" || aws.ToString(out.QueryVersion) != "2017-09-30" || aws.ToString(out.ThingGroupArn) == "" {
		t.Fatalf("create %+v", out)
	}
	_, err = e.iot.CreateDynamicThingGroup(e.ctx, &iot.CreateDynamicThingGroupInput{ThingGroupName: aws.String("bad"), QueryString: aws.String("room:(")})
	wantErr[*types.InvalidQueryException](t, err, 400)

	// members waits, within a bound, for the group's members to be want.
	members := func(group string, want ...string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			l, err := e.iot.ListThingsInThingGroup(e.ctx, &iot.ListThingsInThingGroupInput{ThingGroupName: aws.String(group)})
			must(t, err)
			if slices.Equal(l.Things, want) || (len(want) == 0 && len(l.Things) == 0) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s members %v, want %v", group, l.Things, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	members("kitchen", "a", "b")
	d, err := e.iot.DescribeThingGroup(e.ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String("kitchen")})
	must(t, err)
	if d.Status != types.DynamicGroupStatusActive || aws.ToString(d.QueryString) != "attributes.room:kitchen" || aws.ToString(d.IndexName) != "AWS_Things" {
		t.Fatalf("describe %+v", d)
	}
	// A thing that changes moves in or out.
	_, err = e.iot.UpdateThing(e.ctx, &iot.UpdateThingInput{ThingName: aws.String("c"),
		AttributePayload: &types.AttributePayload{Attributes: map[string]string{"room": "kitchen"}}})
	must(t, err)
	_, err = e.iot.UpdateThing(e.ctx, &iot.UpdateThingInput{ThingName: aws.String("a"),
		AttributePayload: &types.AttributePayload{Attributes: map[string]string{"room": "attic"}}})
	must(t, err)
	members("kitchen", "b", "c")
	// Shadows and connectivity count too.
	_, err = e.iot.CreateDynamicThingGroup(e.ctx, &iot.CreateDynamicThingGroupInput{ThingGroupName: aws.String("hot"),
		QueryString: aws.String("shadow.reported.temp>30 OR connectivity.connected:true")})
	must(t, err)
	members("hot")
	must(t, shadowUpdate(svc, "a", "", `{"state":{"reported":{"temp":35}}}`))
	x.PresenceChanged(index.Presence{ClientID: "c", Connected: true, Timestamp: 1})
	members("hot", "a", "c")
	g, err := e.iot.ListThingGroupsForThing(e.ctx, &iot.ListThingGroupsForThingInput{ThingName: aws.String("c")})
	must(t, err)
	if len(g.ThingGroups) != 2 {
		t.Fatalf("groups of c: %+v", g.ThingGroups)
	}
	// A new query is evaluated at once.
	up, err := e.iot.UpdateDynamicThingGroup(e.ctx, &iot.UpdateDynamicThingGroupInput{ThingGroupName: aws.String("kitchen"),
		ThingGroupProperties: &types.ThingGroupProperties{ThingGroupDescription: aws.String("now the hall")},
		QueryString:          aws.String("attributes.room:hall OR attributes.room:attic"), ExpectedVersion: aws.Int64(1)})
	must(t, err)
	if up.Version != 2 {
		t.Fatalf("update version %d", up.Version)
	}
	members("kitchen", "a")

	// Static operations refuse dynamic groups, and the reverse.
	_, err = e.iot.AddThingToThingGroup(e.ctx, &iot.AddThingToThingGroupInput{ThingGroupName: aws.String("kitchen"), ThingName: aws.String("b")})
	wantErr[*types.InvalidRequestException](t, err, 400)
	_, err = e.iot.CreateThingGroup(e.ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("child"), ParentGroupName: aws.String("kitchen")})
	wantErr[*types.InvalidRequestException](t, err, 400)
	_, err = e.iot.CreatePolicy(e.ctx, &iot.CreatePolicyInput{PolicyName: aws.String("p"), PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}`)})
	must(t, err)
	_, err = e.iot.AttachPolicy(e.ctx, &iot.AttachPolicyInput{PolicyName: aws.String("p"), Target: d.ThingGroupArn})
	wantErr[*types.InvalidRequestException](t, err, 400)
	_, err = e.iot.CreateThingGroup(e.ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("static")})
	must(t, err)
	_, err = e.iot.DeleteDynamicThingGroup(e.ctx, &iot.DeleteDynamicThingGroupInput{ThingGroupName: aws.String("static")})
	wantErr[*types.InvalidRequestException](t, err, 400)
	// Indexing cannot be turned off while dynamic groups exist.
	_, err = e.iot.UpdateIndexingConfiguration(e.ctx, &iot.UpdateIndexingConfigurationInput{
		ThingIndexingConfiguration: &types.ThingIndexingConfiguration{ThingIndexingMode: types.ThingIndexingModeOff}})
	wantErr[*types.InvalidRequestException](t, err, 400)

	for _, n := range []string{"kitchen", "hot"} {
		_, err = e.iot.DeleteDynamicThingGroup(e.ctx, &iot.DeleteDynamicThingGroupInput{ThingGroupName: aws.String(n)})
		must(t, err)
	}
	_, err = e.iot.DescribeThingGroup(e.ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String("kitchen")})
	wantErr[*types.ResourceNotFoundException](t, err, 404)
	g, err = e.iot.ListThingGroupsForThing(e.ctx, &iot.ListThingGroupsForThingInput{ThingName: aws.String("a")})
	must(t, err)
	if len(g.ThingGroups) != 0 {
		t.Fatalf("groups of a after the deletes: %+v", g.ThingGroups)
	}
	_, err = e.iot.UpdateIndexingConfiguration(e.ctx, &iot.UpdateIndexingConfigurationInput{
		ThingIndexingConfiguration: &types.ThingIndexingConfiguration{ThingIndexingMode: types.ThingIndexingModeOff}})
	must(t, err)
}
