package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"
)

// TestTopicRuleDestinationsWithSDK drives the HTTP destination operations with the AWS SDK:
// create (the confirmation request reaches the endpoint), confirm with the token it carried,
// get, list, update, delete.
func TestTopicRuleDestinationsWithSDK(t *testing.T) {
	type confirmation struct {
		header string
		body   map[string]string
	}
	got := make(chan confirmation, 4)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var c confirmation
		c.header = r.Header.Get("x-amz-rules-engine-message-type")
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &c.body)
		got <- c
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	emu := startEmulator(t, "")
	ctx := context.Background()
	cp := iotClientAt(awsConfig(awsKey(sigv4Key, sigv4Secret), nil), emu.APIURL())
	confURL := "http://" + ln.Addr().String() + "/hooks"
	out, err := cp.CreateTopicRuleDestination(ctx, &iot.CreateTopicRuleDestinationInput{
		DestinationConfiguration: &iottypes.TopicRuleDestinationConfiguration{HttpUrlConfiguration: &iottypes.HttpUrlDestinationConfiguration{ConfirmationUrl: aws.String(confURL)}},
	})
	if err != nil {
		t.Fatalf("CreateTopicRuleDestination: %v", err)
	}
	arn := aws.ToString(out.TopicRuleDestination.Arn)
	if out.TopicRuleDestination.Status != iottypes.TopicRuleDestinationStatusInProgress || aws.ToString(out.TopicRuleDestination.HttpUrlProperties.ConfirmationUrl) != confURL {
		t.Fatalf("created %+v", out.TopicRuleDestination)
	}
	var c confirmation
	select {
	case c = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("no confirmation request")
	}
	if c.header != "DestinationConfirmation" || c.body["arn"] != arn || c.body["confirmationToken"] == "" {
		t.Fatalf("confirmation %+v", c)
	}
	_, err = cp.UpdateTopicRuleDestination(ctx, &iot.UpdateTopicRuleDestinationInput{Arn: aws.String(arn), Status: iottypes.TopicRuleDestinationStatusEnabled})
	wantAWSError(t, err, "InvalidRequestException", 400)
	if _, err := cp.ConfirmTopicRuleDestination(ctx, &iot.ConfirmTopicRuleDestinationInput{ConfirmationToken: aws.String(c.body["confirmationToken"])}); err != nil {
		t.Fatalf("ConfirmTopicRuleDestination: %v", err)
	}
	g, err := cp.GetTopicRuleDestination(ctx, &iot.GetTopicRuleDestinationInput{Arn: aws.String(arn)})
	if err != nil || g.TopicRuleDestination.Status != iottypes.TopicRuleDestinationStatusEnabled {
		t.Fatalf("GetTopicRuleDestination: %v %+v", err, g)
	}
	l, err := cp.ListTopicRuleDestinations(ctx, &iot.ListTopicRuleDestinationsInput{})
	if err != nil || len(l.DestinationSummaries) != 1 || aws.ToString(l.DestinationSummaries[0].HttpUrlSummary.ConfirmationUrl) != confURL {
		t.Fatalf("ListTopicRuleDestinations: %v %+v", err, l)
	}
	if _, err := cp.UpdateTopicRuleDestination(ctx, &iot.UpdateTopicRuleDestinationInput{Arn: aws.String(arn), Status: iottypes.TopicRuleDestinationStatusDisabled}); err != nil {
		t.Fatal(err)
	}
	if _, err := cp.DeleteTopicRuleDestination(ctx, &iot.DeleteTopicRuleDestinationInput{Arn: aws.String(arn)}); err != nil {
		t.Fatalf("DeleteTopicRuleDestination: %v", err)
	}
	_, err = cp.GetTopicRuleDestination(ctx, &iot.GetTopicRuleDestinationInput{Arn: aws.String(arn)})
	wantAWSError(t, err, "ResourceNotFoundException", 404)
	_, err = cp.CreateTopicRuleDestination(ctx, &iot.CreateTopicRuleDestinationInput{
		DestinationConfiguration: &iottypes.TopicRuleDestinationConfiguration{HttpUrlConfiguration: &iottypes.HttpUrlDestinationConfiguration{ConfirmationUrl: aws.String("http://example.com/x")}},
	})
	wantAWSError(t, err, "InvalidRequestException", 400)
}
