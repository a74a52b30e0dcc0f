package api_test

import (
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

// tagMap turns a tag list into a map, for comparisons.
func tagMap(tags []types.Tag) map[string]string {
	m := map[string]string{}
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

func TestTagging(t *testing.T) {
	e := newEnv(t)
	pol, err := e.iot.CreatePolicy(e.ctx, &iot.CreatePolicyInput{PolicyName: aws.String("p"), PolicyDocument: aws.String(allowAll),
		Tags: []types.Tag{{Key: aws.String("owner"), Value: aws.String("ops")}}})
	must(t, err)
	typ, err := e.iot.CreateThingType(e.ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String("ty")})
	must(t, err)
	thing, err := e.iot.CreateThing(e.ctx, &iot.CreateThingInput{ThingName: aws.String("th")})
	must(t, err)

	list := func(arn *string) map[string]string {
		t.Helper()
		out, err := e.iot.ListTagsForResource(e.ctx, &iot.ListTagsForResourceInput{ResourceArn: arn})
		must(t, err)
		if out.NextToken != nil {
			t.Fatalf("nextToken %q", aws.ToString(out.NextToken))
		}
		return tagMap(out.Tags)
	}
	if got := list(pol.PolicyArn); len(got) != 1 || got["owner"] != "ops" {
		t.Fatalf("policy tags from CreatePolicy: %v", got)
	}

	_, err = e.iot.TagResource(e.ctx, &iot.TagResourceInput{ResourceArn: typ.ThingTypeArn, Tags: []types.Tag{
		{Key: aws.String("a"), Value: aws.String("1")}, {Key: aws.String("b"), Value: aws.String("2")},
	}})
	must(t, err)
	_, err = e.iot.TagResource(e.ctx, &iot.TagResourceInput{ResourceArn: typ.ThingTypeArn, Tags: []types.Tag{{Key: aws.String("a"), Value: aws.String("10")}}})
	must(t, err)
	if got := list(typ.ThingTypeArn); len(got) != 2 || got["a"] != "10" || got["b"] != "2" {
		t.Fatalf("type tags %v", got)
	}
	_, err = e.iot.UntagResource(e.ctx, &iot.UntagResourceInput{ResourceArn: typ.ThingTypeArn, TagKeys: []string{"a", "never"}})
	must(t, err)
	if got := list(typ.ThingTypeArn); len(got) != 1 || got["b"] != "2" {
		t.Fatalf("after untag %v", got)
	}

	// Things are not taggable; missing resources are not found; bad keys are refused.
	_, err = e.iot.TagResource(e.ctx, &iot.TagResourceInput{ResourceArn: thing.ThingArn, Tags: []types.Tag{{Key: aws.String("a")}}})
	wantErr[*types.InvalidRequestException](t, err, http.StatusBadRequest)
	_, err = e.iot.ListTagsForResource(e.ctx, &iot.ListTagsForResourceInput{ResourceArn: thing.ThingArn})
	wantErr[*types.InvalidRequestException](t, err, http.StatusBadRequest)
	_, err = e.iot.TagResource(e.ctx, &iot.TagResourceInput{ResourceArn: aws.String("arn:aws:iot:us-east-1:123456789012:thinggroup/nope"), Tags: []types.Tag{{Key: aws.String("a")}}})
	wantErr[*types.ResourceNotFoundException](t, err, http.StatusNotFound)
	_, err = e.iot.UntagResource(e.ctx, &iot.UntagResourceInput{ResourceArn: aws.String("arn:aws:iot:us-east-1:123456789012:policy/nope"), TagKeys: []string{"a"}})
	wantErr[*types.ResourceNotFoundException](t, err, http.StatusNotFound)
	_, err = e.iot.TagResource(e.ctx, &iot.TagResourceInput{ResourceArn: typ.ThingTypeArn, Tags: []types.Tag{{Key: aws.String("aws:reserved")}}})
	wantErr[*types.InvalidRequestException](t, err, http.StatusBadRequest)
	many := make([]types.Tag, 0, 51)
	for i := range 51 {
		many = append(many, types.Tag{Key: aws.String(string(rune('A'+i%26)) + string(rune('a'+i/26)))})
	}
	_, err = e.iot.TagResource(e.ctx, &iot.TagResourceInput{ResourceArn: typ.ThingTypeArn, Tags: many})
	wantErr[*types.LimitExceededException](t, err, http.StatusGone)

	// Members the model requires, checked by the server too.
	resp, body := e.do(t, http.MethodPost, "/tags", `{"tags":[]}`, nil)
	errorShape(t, resp, body, http.StatusBadRequest, "InvalidRequestException", "resourceArn: required")
	resp, body = e.do(t, http.MethodGet, "/tags", "", nil)
	errorShape(t, resp, body, http.StatusBadRequest, "InvalidRequestException", "resourceArn: required")
	resp, body = e.do(t, http.MethodPost, "/untag", `{"resourceArn":"`+aws.ToString(typ.ThingTypeArn)+`"}`, nil)
	errorShape(t, resp, body, http.StatusBadRequest, "InvalidRequestException", "tagKeys: required")
	resp, body = e.do(t, http.MethodGet, "/tags?resourceArn="+aws.ToString(typ.ThingTypeArn), "", nil)
	if resp.StatusCode != http.StatusOK || string(body) != `{"tags":[{"Key":"b","Value":"2"}]}` {
		t.Fatalf("raw ListTagsForResource %d %s", resp.StatusCode, body)
	}
}
