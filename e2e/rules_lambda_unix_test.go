//go:build unix

package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iotcore-local/iotcore-local/emulator"
)

const sinkARN = "arn:aws:lambda:us-east-1:123456789012:function:rulesink"

// startSinkFunction runs e2e/lambdas/rulesink behind the Runtime Interface Emulator; the
// events it receives arrive on the returned channel.
func startSinkFunction(t *testing.T) (invokeURL string, events <-chan string) {
	t.Helper()
	needTools(t, "go")
	ch := make(chan string, 16)
	sink := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		ch <- string(b)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go sink.Serve(ln)
	t.Cleanup(func() { sink.Close() })

	return runFunction(t, buildFunction(t, "rulesink"), "rulesink", "SINK_URL=http://"+ln.Addr().String()+"/"), ch
}

// TestRuleLambdaActionThroughRIE: the lambda action delivers the SELECT result as the event of
// a function behind the real Runtime Interface Emulator (--function ARN=URL); an invocation
// that cannot be made (no route, no Lambda endpoint) runs the errorAction with LambdaAction.
func TestRuleLambdaActionThroughRIE(t *testing.T) {
	url, events := startSinkFunction(t)
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_ENDPOINT_URL_LAMBDA", "")
	emu := startEmulator(t, "", func(c *emulator.Config) { c.Functions = map[string]string{sinkARN: url} })
	ctx := context.Background()
	cp := iotClientAt(awsConfig(awsKey(sigv4Key, sigv4Secret), nil), emu.APIURL())
	_, err := cp.CreateTopicRule(ctx, &iot.CreateTopicRuleInput{
		RuleName: aws.String("to_lambda"),
		TopicRulePayload: &iottypes.TopicRulePayload{
			Sql:              aws.String("SELECT *, topic(2) AS device, clientid() AS client FROM 'things/+/events'"),
			AwsIotSqlVersion: aws.String("2016-03-23"),
			Actions: []iottypes.Action{
				{Lambda: &iottypes.LambdaAction{FunctionArn: aws.String(sinkARN)}},
				{Lambda: &iottypes.LambdaAction{FunctionArn: aws.String("arn:aws:lambda:us-east-1:123456789012:function:nowhere")}},
			},
			ErrorAction: &iottypes.Action{Republish: &iottypes.RepublishAction{RoleArn: aws.String(roleArn), Topic: aws.String("things/errors/lambda")}},
		},
	})
	if err != nil {
		t.Fatalf("CreateTopicRule: %v", err)
	}
	d := ruleDevice(t, emu, "l1")
	c, err := connectPaho(t, emu.MQTTAddr(), "l1", tlsConfig(t, d), nil)
	if err != nil {
		t.Fatal(err)
	}
	handler, msgs := msgCollector()
	if err := wait(t, c.Subscribe("things/errors/lambda", 1, handler)); err != nil {
		t.Fatal(err)
	}
	if err := wait(t, c.Publish("things/l1/events", 1, false, `{"door":"open"}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-events:
		if ev != `{"door":"open","device":"l1","client":"l1"}` {
			t.Fatalf("the function received %s", ev)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the function received no event")
	}
	m := nextMessage(t, msgs, "errorAction for the unroutable function")
	var doc struct {
		Failures []struct{ FailedAction, FailedResource, ErrorMessage string }
	}
	if err := json.Unmarshal([]byte(m.payload), &doc); err != nil || len(doc.Failures) != 1 ||
		doc.Failures[0].FailedAction != "LambdaAction" || !strings.HasSuffix(doc.Failures[0].FailedResource, ":nowhere") {
		t.Fatalf("error document %s (%v)", m.payload, err)
	}
}
