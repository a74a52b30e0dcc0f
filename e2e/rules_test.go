package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
	smithy "github.com/aws/smithy-go"

	"github.com/iotcore-local/iotcore-local/emulator"
)

// rulesPolicy lets a device publish anywhere under things/ and to Basic Ingest, and subscribe
// and receive under things/.
const rulesPolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"},
    {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": ["arn:aws:iot:us-east-1:123456789012:topic/things/*", "arn:aws:iot:us-east-1:123456789012:topic/$aws/rules/*"]},
    {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": ["arn:aws:iot:us-east-1:123456789012:topicfilter/things/*", "arn:aws:iot:us-east-1:123456789012:topicfilter/$aws/rules/*"]}
  ]
}`

func ruleDevice(t *testing.T, emu *emulator.Emulator, name string) *emulator.Device {
	t.Helper()
	d, err := emu.CreateDevice(name, rulesPolicy)
	if err != nil {
		t.Fatalf("CreateDevice %s: %v", name, err)
	}
	return d
}

// activity reads GET /_iotcore/rules/{name}/activity.
type ruleActivity struct {
	Evaluations []struct {
		Time     time.Time       `json:"time"`
		Topic    string          `json:"topic"`
		ClientID string          `json:"clientId"`
		Matched  bool            `json:"matched"`
		Result   json.RawMessage `json:"result"`
		Actions  []struct {
			Action string `json:"action"`
			Target string `json:"target"`
			OK     bool   `json:"ok"`
			Error  string `json:"error"`
		} `json:"actions"`
	} `json:"evaluations"`
}

func getActivity(t *testing.T, emu *emulator.Emulator, rule string) ruleActivity {
	t.Helper()
	resp, err := http.Get(emu.APIURL() + "/_iotcore/rules/" + rule + "/activity")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("activity of %s: HTTP %d %s", rule, resp.StatusCode, body)
	}
	var a ruleActivity
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatalf("activity JSON: %v: %s", err, body)
	}
	return a
}

// waitActivity waits until a rule's activity has n evaluations.
func waitActivity(t *testing.T, emu *emulator.Emulator, rule string, n int) ruleActivity {
	t.Helper()
	var a ruleActivity
	waitUntil(t, "activity of "+rule, func() bool {
		a = getActivity(t, emu, rule)
		return len(a.Evaluations) >= n
	})
	return a
}

func republishRule(sqlText, topic string) *iottypes.TopicRulePayload {
	return &iottypes.TopicRulePayload{
		Sql:              aws.String(sqlText),
		AwsIotSqlVersion: aws.String("2016-03-23"),
		Actions: []iottypes.Action{{Republish: &iottypes.RepublishAction{
			RoleArn: aws.String("arn:aws:iam::123456789012:role/republish"), Topic: aws.String(topic), Qos: aws.Int32(1),
		}}},
	}
}

// TestRulesRepublishBasicIngestAndControlPlane drives the rules engine as a backend developer
// does: the AWS SDK creates rules, devices publish over MQTT and HTTPS, and results arrive on
// MQTT; Basic Ingest reaches only its rule; bad rules are refused naming the position; rules
// persist across a restart.
func TestRulesRepublishBasicIngestAndControlPlane(t *testing.T) {
	dir := t.TempDir()
	emu := startEmulator(t, dir)
	ctx := context.Background()
	cfg := awsConfig(awsKey(sigv4Key, sigv4Secret), nil)
	cp := iotClientAt(cfg, emu.APIURL())

	_, err := cp.CreateTopicRule(ctx, &iot.CreateTopicRuleInput{
		RuleName: aws.String("hot"),
		TopicRulePayload: republishRule(
			"SELECT temp, topic(2) AS device, temp * 1.8 + 32 AS fahrenheit FROM 'things/+/telemetry' WHERE temp > 30",
			"things/${topic(2)}/alerts"),
	})
	if err != nil {
		t.Fatalf("CreateTopicRule: %v", err)
	}
	got, err := cp.GetTopicRule(ctx, &iot.GetTopicRuleInput{RuleName: aws.String("hot")})
	if err != nil {
		t.Fatalf("GetTopicRule: %v", err)
	}
	if aws.ToString(got.RuleArn) != "arn:aws:iot:us-east-1:123456789012:rule/hot" || aws.ToString(got.Rule.AwsIotSqlVersion) != "2016-03-23" ||
		len(got.Rule.Actions) != 1 || aws.ToString(got.Rule.Actions[0].Republish.Topic) != "things/${topic(2)}/alerts" || got.Rule.CreatedAt == nil {
		t.Fatalf("GetTopicRule echoed %+v", got.Rule)
	}

	d := ruleDevice(t, emu, "d1")
	c, err := connectPaho(t, emu.MQTTAddr(), "d1", tlsConfig(t, d), nil)
	if err != nil {
		t.Fatal(err)
	}
	handler, msgs := msgCollector()
	if err := wait(t, c.Subscribe("things/+/alerts", 1, handler)); err != nil {
		t.Fatal(err)
	}
	// WHERE false: nothing; WHERE true: the SELECT result on the templated topic.
	if err := wait(t, c.Publish("things/d1/telemetry", 1, false, `{"temp": 20}`)); err != nil {
		t.Fatal(err)
	}
	if err := wait(t, c.Publish("things/d1/telemetry", 1, false, `{"temp": 35}`)); err != nil {
		t.Fatal(err)
	}
	m := nextMessage(t, msgs, "republished alert")
	if m.topic != "things/d1/alerts" || m.payload != `{"temp":35,"device":"d1","fahrenheit":95}` {
		t.Fatalf("republished %s %s", m.topic, m.payload)
	}
	// The engine's workers evaluate concurrently, so the two evaluations may be recorded in
	// either order (AWS does not order rule evaluations either): one matched, one did not.
	a := waitActivity(t, emu, "hot", 2)
	hit, miss := a.Evaluations[0], a.Evaluations[1]
	if !hit.Matched {
		hit, miss = miss, hit
	}
	if !hit.Matched || miss.Matched || hit.ClientID != "d1" ||
		len(hit.Actions) != 1 || !hit.Actions[0].OK || hit.Actions[0].Target != "things/d1/alerts" {
		t.Fatalf("activity %+v", a)
	}

	// HTTPS Publish (the data plane) is evaluated too; clientid() is n/a there.
	_, err = cp.CreateTopicRule(ctx, &iot.CreateTopicRuleInput{
		RuleName:         aws.String("via_http"),
		TopicRulePayload: republishRule("SELECT clientid() AS who, v FROM 'things/http/in'", "things/http/out"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := wait(t, c.Subscribe("things/http/out", 1, handler)); err != nil {
		t.Fatal(err)
	}
	data := dataClientAt(cfg, emu.APIURL())
	if _, err := data.Publish(ctx, &iotdataplane.PublishInput{Topic: aws.String("things/http/in"), Payload: []byte(`{"v":1}`), Qos: 1}); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if m := nextMessage(t, msgs, "HTTP publish evaluated"); m.topic != "things/http/out" || m.payload != `{"who":"n/a","v":1}` {
		t.Fatalf("republished %s %s", m.topic, m.payload)
	}

	// Basic Ingest: only the named rule sees it, topic() is what follows the prefix, and no
	// subscriber gets the message.
	_, err = cp.CreateTopicRule(ctx, &iot.CreateTopicRuleInput{
		RuleName:         aws.String("ingest"),
		TopicRulePayload: republishRule("SELECT topic() AS t, topic(3) AS floor, n FROM 'ignored/by/ingest'", "things/ingest/out"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := wait(t, c.Subscribe("things/ingest/out", 1, handler)); err != nil {
		t.Fatal(err)
	}
	if err := wait(t, c.Publish("$aws/rules/ingest/building/5/floor2", 1, false, `{"n":7}`)); err != nil {
		t.Fatal(err)
	}
	if m := nextMessage(t, msgs, "Basic Ingest result"); m.topic != "things/ingest/out" || m.payload != `{"t":"building/5/floor2","floor":"floor2","n":7}` {
		t.Fatalf("Basic Ingest republished %s %s", m.topic, m.payload)
	}
	if err := wait(t, c.Publish("$aws/rules/nosuchrule/x", 1, false, `{"n":8}`)); err != nil {
		t.Fatalf("Basic Ingest to an unknown rule must still be acknowledged: %v", err)
	}
	// No subscriber can see Basic Ingest messages: subscriptions to $aws/rules/... are refused
	// (conformance TestBasicIngestSubscribeRefused).
	if n := len(getActivity(t, emu, "hot").Evaluations); n != 2 {
		t.Fatalf("rule hot saw Basic Ingest or other messages: %d evaluations", n)
	}

	// Bad rules: clear errors naming the position, the function, the field.
	for _, tc := range []struct {
		name, sql, code, want string
		actions               []iottypes.Action
	}{
		{"bad_sql", "SELECT temp FROM 'a' WHERE", "SqlParseException", "1:27", nil},
		{"bad_fn", "SELECT nosuch(temp) FROM 'a'", "SqlParseException", "unknown function nosuch", nil},
		{"external_fn", "SELECT get_dynamodb('t', 'k', 1, 'arn:aws:iam::1:role/r') FROM 'a'", "SqlParseException", "get_dynamodb", nil},
		{"bad_template", "SELECT * FROM 'a'", "InvalidRequestException", "actions[0].republish.topic", []iottypes.Action{{Republish: &iottypes.RepublishAction{RoleArn: aws.String("arn:aws:iam::1:role/r"), Topic: aws.String("x/${topic(}")}}}},
		{"bad-name", "SELECT * FROM 'a'", "InvalidRequestException", "ruleName", nil},
	} {
		p := republishRule(tc.sql, "things/x")
		if tc.actions != nil {
			p.Actions = tc.actions
		}
		_, err := cp.CreateTopicRule(ctx, &iot.CreateTopicRuleInput{RuleName: aws.String(tc.name), TopicRulePayload: p})
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != tc.code || !strings.Contains(ae.ErrorMessage(), tc.want) {
			t.Errorf("%s: got %v, want %s naming %q", tc.name, err, tc.code, tc.want)
		}
	}
	_, err = cp.GetTopicRule(ctx, &iot.GetTopicRuleInput{RuleName: aws.String("missing")})
	wantAWSError(t, err, "UnauthorizedException", 401)
	_, err = cp.CreateTopicRule(ctx, &iot.CreateTopicRuleInput{RuleName: aws.String("hot"), TopicRulePayload: republishRule("SELECT * FROM 'a'", "things/x")})
	wantAWSError(t, err, "ResourceAlreadyExistsException", 409)

	// List, disable, replace.
	list, err := cp.ListTopicRules(ctx, &iot.ListTopicRulesInput{Topic: aws.String("things/+/telemetry")})
	if err != nil || len(list.Rules) != 1 || aws.ToString(list.Rules[0].RuleName) != "hot" || aws.ToString(list.Rules[0].TopicPattern) != "things/+/telemetry" {
		t.Fatalf("ListTopicRules: %v %+v", err, list)
	}
	if _, err := cp.DisableTopicRule(ctx, &iot.DisableTopicRuleInput{RuleName: aws.String("hot")}); err != nil {
		t.Fatal(err)
	}
	list, err = cp.ListTopicRules(ctx, &iot.ListTopicRulesInput{RuleDisabled: aws.Bool(true)})
	if err != nil || len(list.Rules) != 1 || !aws.ToBool(list.Rules[0].RuleDisabled) {
		t.Fatalf("ListTopicRules disabled: %v %+v", err, list)
	}
	if _, err := cp.ReplaceTopicRule(ctx, &iot.ReplaceTopicRuleInput{RuleName: aws.String("via_http"),
		TopicRulePayload: republishRule("SELECT 'replaced' AS v FROM 'things/http/in'", "things/http/out")}); err != nil {
		t.Fatal(err)
	}

	// Tags: x-amz-tagging at create, and the tagging operations on the rule's ARN (Terraform
	// reads a rule's tags this way).
	_, err = cp.CreateTopicRule(ctx, &iot.CreateTopicRuleInput{RuleName: aws.String("tagged"), Tags: aws.String("team=iot&env=dev"),
		TopicRulePayload: republishRule("SELECT * FROM 'things/tagged'", "things/x")})
	if err != nil {
		t.Fatal(err)
	}
	taggedARN := aws.String("arn:aws:iot:us-east-1:123456789012:rule/tagged")
	if _, err := cp.TagResource(ctx, &iot.TagResourceInput{ResourceArn: taggedARN, Tags: []iottypes.Tag{{Key: aws.String("owner"), Value: aws.String("me")}}}); err != nil {
		t.Fatalf("TagResource: %v", err)
	}
	if _, err := cp.UntagResource(ctx, &iot.UntagResourceInput{ResourceArn: taggedARN, TagKeys: []string{"env"}}); err != nil {
		t.Fatalf("UntagResource: %v", err)
	}
	tags, err := cp.ListTagsForResource(ctx, &iot.ListTagsForResourceInput{ResourceArn: taggedARN})
	if err != nil || len(tags.Tags) != 2 || aws.ToString(tags.Tags[0].Key) != "owner" || aws.ToString(tags.Tags[1].Value) != "iot" {
		t.Fatalf("ListTagsForResource: %v %+v", err, tags)
	}

	// Rules persist across a restart.
	closeWithin(t, emu, 15*time.Second)
	emu2 := startEmulator(t, dir)
	cp2 := iotClientAt(cfg, emu2.APIURL())
	got, err = cp2.GetTopicRule(ctx, &iot.GetTopicRuleInput{RuleName: aws.String("hot")})
	if err != nil || !aws.ToBool(got.Rule.RuleDisabled) || !strings.Contains(aws.ToString(got.Rule.Sql), "temp > 30") {
		t.Fatalf("after restart: %v %+v", err, got)
	}
	got, err = cp2.GetTopicRule(ctx, &iot.GetTopicRuleInput{RuleName: aws.String("via_http")})
	if err != nil || !strings.Contains(aws.ToString(got.Rule.Sql), "replaced") {
		t.Fatalf("replaced rule after restart: %v %+v", err, got)
	}
	if _, err := cp2.DeleteTopicRule(ctx, &iot.DeleteTopicRuleInput{RuleName: aws.String("hot")}); err != nil {
		t.Fatal(err)
	}
	_, err = cp2.GetTopicRule(ctx, &iot.GetTopicRuleInput{RuleName: aws.String("hot")})
	wantAWSError(t, err, "UnauthorizedException", 401)
}

// TestRulesShadowAndHTTPActionAndErrorAction: a rule on a shadow service topic, the http action
// to loopback, and a failing action whose errorAction gets AWS's error document.
func TestRulesShadowAndHTTPActionAndErrorAction(t *testing.T) {
	emu := startEmulator(t, "")
	ctx := context.Background()
	cfg := awsConfig(awsKey(sigv4Key, sigv4Secret), nil)
	cp := iotClientAt(cfg, emu.APIURL())

	// An HTTP endpoint on loopback that records what it receives.
	var mu sync.Mutex
	var bodies []string
	var contentTypes []string
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		contentTypes = append(contentTypes, r.Header.Get("Content-Type")+"|"+r.Header.Get("x-device"))
		mu.Unlock()
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	// A closed port: the http action there fails.
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + dead.Addr().String() + "/x"
	dead.Close()

	_, err = cp.CreateTopicRule(ctx, &iot.CreateTopicRuleInput{
		RuleName: aws.String("shadow_to_http"),
		TopicRulePayload: &iottypes.TopicRulePayload{
			Sql:              aws.String("SELECT state.reported.temp AS temp, topic(3) AS thing FROM '$aws/things/+/shadow/update/accepted'"),
			AwsIotSqlVersion: aws.String("2016-03-23"),
			Actions: []iottypes.Action{
				{Http: &iottypes.HttpAction{Url: aws.String("http://" + ln.Addr().String() + "/in"), Headers: []iottypes.HttpActionHeader{{Key: aws.String("x-device"), Value: aws.String("${topic(3)}")}}}},
				{Http: &iottypes.HttpAction{Url: aws.String(deadURL)}},
			},
			ErrorAction: &iottypes.Action{Republish: &iottypes.RepublishAction{RoleArn: aws.String("arn:aws:iam::123456789012:role/r"), Topic: aws.String("things/errors")}},
		},
	})
	if err != nil {
		t.Fatalf("CreateTopicRule: %v", err)
	}
	d := ruleDevice(t, emu, "s1")
	c, err := connectPaho(t, emu.MQTTAddr(), "s1", tlsConfig(t, d), nil)
	if err != nil {
		t.Fatal(err)
	}
	handler, msgs := msgCollector()
	if err := wait(t, c.Subscribe("things/errors", 1, handler)); err != nil {
		t.Fatal(err)
	}
	data := dataClientAt(cfg, emu.APIURL())
	if _, err := data.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{ThingName: aws.String("s1"), Payload: []byte(`{"state":{"reported":{"temp":21}}}`)}); err != nil {
		t.Fatalf("UpdateThingShadow: %v", err)
	}
	m := nextMessage(t, msgs, "errorAction message")
	var doc struct {
		RuleName, Topic, ClientID, CloudwatchTraceID, Base64OriginalPayload string
		Failures                                                            []struct{ FailedAction, FailedResource, ErrorMessage string }
	}
	if err := json.Unmarshal([]byte(m.payload), &doc); err != nil {
		t.Fatalf("error payload %s: %v", m.payload, err)
	}
	if doc.RuleName != "shadow_to_http" || doc.Topic != "$aws/things/s1/shadow/update/accepted" || doc.ClientID != "n/a" || doc.CloudwatchTraceID == "" ||
		doc.Base64OriginalPayload == "" || len(doc.Failures) != 1 || doc.Failures[0].FailedAction != "HttpAction" || doc.Failures[0].FailedResource != deadURL ||
		!strings.Contains(doc.Failures[0].ErrorMessage, "connect") {
		t.Fatalf("error payload %s", m.payload)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 1 || bodies[0] != `{"temp":21,"thing":"s1"}` || contentTypes[0] != "application/json|s1" {
		t.Fatalf("http endpoint received %q %q", bodies, contentTypes)
	}
}

// TestRuleRepublishIntoShadow: a republish to $$aws/things/<thing>/shadow/update reaches the
// shadow service, with MQTT 5 headers and the ${} template resolved.
func TestRuleRepublishIntoShadow(t *testing.T) {
	emu := startEmulator(t, "")
	ctx := context.Background()
	cfg := awsConfig(awsKey(sigv4Key, sigv4Secret), nil)
	cp := iotClientAt(cfg, emu.APIURL())
	_, err := cp.CreateTopicRule(ctx, &iot.CreateTopicRuleInput{
		RuleName: aws.String("to_shadow"),
		TopicRulePayload: &iottypes.TopicRulePayload{
			Sql:              aws.String("SELECT {'desired': {'on': on}} AS state FROM 'things/+/switch'"),
			AwsIotSqlVersion: aws.String("2016-03-23"),
			Actions: []iottypes.Action{{Republish: &iottypes.RepublishAction{
				RoleArn: aws.String(roleArn), Topic: aws.String("$$aws/things/${topic(2)}/shadow/update"), Qos: aws.Int32(1),
				Headers: &iottypes.MqttHeaders{ContentType: aws.String("application/json"), UserProperties: []iottypes.UserProperty{{Key: aws.String("via"), Value: aws.String("${clientid()}")}}},
			}}},
		},
	})
	if err != nil {
		t.Fatalf("CreateTopicRule: %v", err)
	}
	d := ruleDevice(t, emu, "lamp")
	c, err := connectPaho(t, emu.MQTTAddr(), "lamp", tlsConfig(t, d), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := wait(t, c.Publish("things/lamp/switch", 1, false, `{"on": true}`)); err != nil {
		t.Fatal(err)
	}
	data := dataClientAt(cfg, emu.APIURL())
	waitUntil(t, "the shadow updated by the rule", func() bool {
		out, err := data.GetThingShadow(ctx, &iotdataplane.GetThingShadowInput{ThingName: aws.String("lamp")})
		return err == nil && strings.Contains(string(out.Payload), `"desired":{"on":true}`)
	})
}
