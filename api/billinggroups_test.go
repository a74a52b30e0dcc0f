package api_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iotcore-local/iotcore-local/api"
)

func TestBillingGroups(t *testing.T) {
	e := newEnv(t)
	out, err := e.iot.CreateBillingGroup(e.ctx, &iot.CreateBillingGroupInput{BillingGroupName: aws.String("bg1"),
		BillingGroupProperties: &types.BillingGroupProperties{BillingGroupDescription: aws.String("first")},
		Tags:                   []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	must(t, err)
	arn := "arn:aws:iot:us-east-1:123456789012:billinggroup/bg1"
	if aws.ToString(out.BillingGroupArn) != arn || aws.ToString(out.BillingGroupId) == "" {
		t.Fatalf("create: %+v", out)
	}
	_, err = e.iot.CreateBillingGroup(e.ctx, &iot.CreateBillingGroupInput{BillingGroupName: aws.String("bg2")})
	must(t, err)
	d, err := e.iot.DescribeBillingGroup(e.ctx, &iot.DescribeBillingGroupInput{BillingGroupName: aws.String("bg1")})
	must(t, err)
	if d.Version != 1 || aws.ToString(d.BillingGroupProperties.BillingGroupDescription) != "first" || d.BillingGroupMetadata.CreationDate == nil {
		t.Fatalf("describe: %+v", d)
	}
	// A group without a description has empty properties (Terraform reads them as null).
	resp, body := e.do(t, "GET", "/billing-groups/bg2", "", nil)
	if resp.StatusCode != 200 || !containsJSON(body, `"billingGroupProperties":{}`) {
		t.Fatalf("bg2: %d %s", resp.StatusCode, body)
	}
	up, err := e.iot.UpdateBillingGroup(e.ctx, &iot.UpdateBillingGroupInput{BillingGroupName: aws.String("bg1"), ExpectedVersion: aws.Int64(1),
		BillingGroupProperties: &types.BillingGroupProperties{BillingGroupDescription: aws.String("second")}})
	must(t, err)
	if up.Version != 2 {
		t.Fatalf("update version %d", up.Version)
	}
	_, err = e.iot.UpdateBillingGroup(e.ctx, &iot.UpdateBillingGroupInput{BillingGroupName: aws.String("bg1"), ExpectedVersion: aws.Int64(1),
		BillingGroupProperties: &types.BillingGroupProperties{}})
	wantErr[*types.VersionConflictException](t, err, 409)

	for _, n := range []string{"t1", "t2"} {
		_, err := e.iot.CreateThing(e.ctx, &iot.CreateThingInput{ThingName: aws.String(n)})
		must(t, err)
	}
	_, err = e.iot.AddThingToBillingGroup(e.ctx, &iot.AddThingToBillingGroupInput{BillingGroupName: aws.String("bg1"), ThingName: aws.String("t1")})
	must(t, err)
	_, err = e.iot.AddThingToBillingGroup(e.ctx, &iot.AddThingToBillingGroupInput{BillingGroupArn: aws.String(arn), ThingArn: aws.String("arn:aws:iot:us-east-1:123456789012:thing/t2")})
	must(t, err)
	// CreateThing may name a billing group.
	_, err = e.iot.CreateThing(e.ctx, &iot.CreateThingInput{ThingName: aws.String("t3"), BillingGroupName: aws.String("bg2")})
	must(t, err)
	_, err = e.iot.CreateThing(e.ctx, &iot.CreateThingInput{ThingName: aws.String("t4"), BillingGroupName: aws.String("nope")})
	wantErr[*types.ResourceNotFoundException](t, err, 404)
	if _, err := e.iot.DescribeThing(e.ctx, &iot.DescribeThingInput{ThingName: aws.String("t4")}); err == nil {
		t.Fatal("a thing was created for a missing billing group")
	}
	things := func(g string) []string {
		t.Helper()
		var all []string
		var token *string
		for {
			l, err := e.iot.ListThingsInBillingGroup(e.ctx, &iot.ListThingsInBillingGroupInput{BillingGroupName: aws.String(g), MaxResults: aws.Int32(1), NextToken: token})
			must(t, err)
			all = append(all, l.Things...)
			if token = l.NextToken; token == nil {
				return all
			}
		}
	}
	if got := things("bg1"); !slices.Equal(got, []string{"t1", "t2"}) {
		t.Fatalf("bg1 things %v", got)
	}
	dt, err := e.iot.DescribeThing(e.ctx, &iot.DescribeThingInput{ThingName: aws.String("t3")})
	must(t, err)
	if aws.ToString(dt.BillingGroupName) != "bg2" {
		t.Fatalf("t3 billing group %q", aws.ToString(dt.BillingGroupName))
	}
	// A thing is in one billing group: adding it to another moves it.
	_, err = e.iot.AddThingToBillingGroup(e.ctx, &iot.AddThingToBillingGroupInput{BillingGroupName: aws.String("bg2"), ThingName: aws.String("t1")})
	must(t, err)
	if got := things("bg1"); !slices.Equal(got, []string{"t2"}) {
		t.Fatalf("bg1 after move %v", got)
	}
	_, err = e.iot.RemoveThingFromBillingGroup(e.ctx, &iot.RemoveThingFromBillingGroupInput{BillingGroupName: aws.String("bg1"), ThingName: aws.String("t2")})
	must(t, err)
	if got := things("bg1"); len(got) != 0 {
		t.Fatalf("bg1 after remove %v", got)
	}
	// Deleting a thing takes it out of its billing group.
	_, err = e.iot.DeleteThing(e.ctx, &iot.DeleteThingInput{ThingName: aws.String("t3")})
	must(t, err)
	if got := things("bg2"); !slices.Equal(got, []string{"t1"}) {
		t.Fatalf("bg2 after thing delete %v", got)
	}

	l, err := e.iot.ListBillingGroups(e.ctx, &iot.ListBillingGroupsInput{NamePrefixFilter: aws.String("bg")})
	must(t, err)
	if len(l.BillingGroups) != 2 || aws.ToString(l.BillingGroups[0].GroupArn) != arn {
		t.Fatalf("list %+v", l.BillingGroups)
	}
	_, err = e.iot.AddThingToBillingGroup(e.ctx, &iot.AddThingToBillingGroupInput{BillingGroupName: aws.String("missing"), ThingName: aws.String("t1")})
	wantErr[*types.ResourceNotFoundException](t, err, 404)
	_, err = e.iot.AddThingToBillingGroup(e.ctx, &iot.AddThingToBillingGroupInput{BillingGroupName: aws.String("bg1")})
	wantErr[*types.InvalidRequestException](t, err, 400)
	_, err = e.iot.DeleteBillingGroup(e.ctx, &iot.DeleteBillingGroupInput{BillingGroupName: aws.String("bg1"), ExpectedVersion: aws.Int64(7)})
	wantErr[*types.VersionConflictException](t, err, 409)
	_, err = e.iot.DeleteBillingGroup(e.ctx, &iot.DeleteBillingGroupInput{BillingGroupName: aws.String("bg1"), ExpectedVersion: aws.Int64(2)})
	must(t, err)
	_, err = e.iot.DescribeBillingGroup(e.ctx, &iot.DescribeBillingGroupInput{BillingGroupName: aws.String("bg1")})
	wantErr[*types.ResourceNotFoundException](t, err, 404)
	// Deleting a missing group succeeds, as on AWS.
	_, err = e.iot.DeleteBillingGroup(e.ctx, &iot.DeleteBillingGroupInput{BillingGroupName: aws.String("bg1")})
	must(t, err)
}

func TestLoggingOptions(t *testing.T) {
	var levels []string
	e := newEnv(t, func(c *api.Config) { c.LoggingChanged = func(l string) { levels = append(levels, l) } })
	g, err := e.iot.GetV2LoggingOptions(e.ctx, &iot.GetV2LoggingOptionsInput{})
	must(t, err)
	if g.DefaultLogLevel != types.LogLevelError || g.DisableAllLogs {
		t.Fatalf("default options %+v", g)
	}
	_, err = e.iot.SetV2LoggingOptions(e.ctx, &iot.SetV2LoggingOptionsInput{DefaultLogLevel: types.LogLevelDebug,
		RoleArn: aws.String("arn:aws:iam::123456789012:role/logs")})
	must(t, err)
	g, err = e.iot.GetV2LoggingOptions(e.ctx, &iot.GetV2LoggingOptionsInput{})
	must(t, err)
	if g.DefaultLogLevel != types.LogLevelDebug || aws.ToString(g.RoleArn) != "arn:aws:iam::123456789012:role/logs" {
		t.Fatalf("options %+v", g)
	}
	_, err = e.iot.SetV2LoggingOptions(e.ctx, &iot.SetV2LoggingOptionsInput{DefaultLogLevel: types.LogLevelWarn, DisableAllLogs: true})
	must(t, err)
	if !slices.Equal(levels, []string{"DEBUG", "DISABLED"}) {
		t.Fatalf("levels handed to the emulator: %v", levels)
	}
	_, err = e.iot.SetV2LoggingOptions(e.ctx, &iot.SetV2LoggingOptionsInput{DefaultLogLevel: "LOUD"})
	wantErr[*types.InvalidRequestException](t, err, 400)

	_, err = e.iot.CreateThingGroup(e.ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("g1")})
	must(t, err)
	for _, lt := range []types.LogTarget{
		{TargetType: types.LogTargetTypeThingGroup, TargetName: aws.String("g1")},
		{TargetType: types.LogTargetTypeClientId, TargetName: aws.String("dev-1")},
	} {
		_, err := e.iot.SetV2LoggingLevel(e.ctx, &iot.SetV2LoggingLevelInput{LogTarget: &lt, LogLevel: types.LogLevelInfo})
		must(t, err)
	}
	_, err = e.iot.SetV2LoggingLevel(e.ctx, &iot.SetV2LoggingLevelInput{LogTarget: &types.LogTarget{TargetType: types.LogTargetTypeThingGroup, TargetName: aws.String("nope")}, LogLevel: types.LogLevelInfo})
	wantErr[*types.InvalidRequestException](t, err, 400)
	l, err := e.iot.ListV2LoggingLevels(e.ctx, &iot.ListV2LoggingLevelsInput{MaxResults: aws.Int32(1)})
	must(t, err)
	if len(l.LogTargetConfigurations) != 1 || l.NextToken == nil || l.LogTargetConfigurations[0].LogTarget.TargetType != types.LogTargetTypeClientId {
		t.Fatalf("first page %+v", l)
	}
	l, err = e.iot.ListV2LoggingLevels(e.ctx, &iot.ListV2LoggingLevelsInput{MaxResults: aws.Int32(1), NextToken: l.NextToken})
	must(t, err)
	if len(l.LogTargetConfigurations) != 1 || l.NextToken != nil || aws.ToString(l.LogTargetConfigurations[0].LogTarget.TargetName) != "g1" {
		t.Fatalf("second page %+v", l)
	}
	_, err = e.iot.DeleteV2LoggingLevel(e.ctx, &iot.DeleteV2LoggingLevelInput{TargetType: types.LogTargetTypeClientId, TargetName: aws.String("dev-1")})
	must(t, err)
	l, err = e.iot.ListV2LoggingLevels(e.ctx, &iot.ListV2LoggingLevelsInput{TargetType: types.LogTargetTypeClientId})
	must(t, err)
	if len(l.LogTargetConfigurations) != 0 {
		t.Fatalf("after delete %+v", l)
	}

	// Version 1.
	_, err = e.iot.SetLoggingOptions(e.ctx, &iot.SetLoggingOptionsInput{LoggingOptionsPayload: &types.LoggingOptionsPayload{
		RoleArn: aws.String("arn:aws:iam::123456789012:role/logs"), LogLevel: types.LogLevelInfo}})
	must(t, err)
	v1, err := e.iot.GetLoggingOptions(e.ctx, &iot.GetLoggingOptionsInput{})
	must(t, err)
	if v1.LogLevel != types.LogLevelInfo || aws.ToString(v1.RoleArn) == "" {
		t.Fatalf("v1 %+v", v1)
	}
}

func TestThingGroupWithoutAttributesOmitsPayload(t *testing.T) {
	e := newEnv(t)
	_, err := e.iot.CreateThingGroup(e.ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("bare")})
	must(t, err)
	resp, body := e.do(t, "GET", "/thing-groups/bare", "", nil)
	if resp.StatusCode != 200 || containsJSON(body, "attributePayload") {
		t.Fatalf("DescribeThingGroup of a group without attributes: %d %s", resp.StatusCode, body)
	}
	d, err := e.iot.DescribeThingGroup(e.ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String("bare")})
	must(t, err)
	if d.ThingGroupProperties == nil || d.ThingGroupProperties.AttributePayload != nil {
		t.Fatalf("properties %+v", d.ThingGroupProperties)
	}
	// Things keep their empty attributes.
	_, err = e.iot.CreateThing(e.ctx, &iot.CreateThingInput{ThingName: aws.String("bare-thing")})
	must(t, err)
	resp, body = e.do(t, "GET", "/things/bare-thing", "", nil)
	if resp.StatusCode != 200 || !containsJSON(body, `"attributes":{}`) {
		t.Fatalf("DescribeThing: %d %s", resp.StatusCode, body)
	}
}

// containsJSON reports whether a response body holds the text part.
func containsJSON(body []byte, part string) bool { return strings.Contains(string(body), part) }
