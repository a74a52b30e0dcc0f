package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	kintypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// receiveQuery reads one message from a goaws queue with the SQS query protocol (goaws does
// not speak the JSON protocol the AWS SDK for Go v2 uses for SQS).
func receiveQuery(t *testing.T, queueURL string) string {
	t.Helper()
	var body string
	waitUntil(t, "a message in "+queueURL, func() bool {
		form := url.Values{"Action": {"ReceiveMessage"}, "QueueUrl": {queueURL}, "Version": {"2012-11-05"}}
		resp, err := http.PostForm(queueURL, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		var r struct {
			Messages []struct {
				Body string `xml:"Body"`
			} `xml:"ReceiveMessageResult>Message"`
		}
		if err := xml.Unmarshal(data, &r); err != nil {
			t.Fatalf("ReceiveMessage answer %s: %v", data, err)
		}
		if len(r.Messages) == 0 {
			return false
		}
		body = r.Messages[0].Body
		return true
	})
	return body
}

const roleArn = "arn:aws:iam::123456789012:role/rules"

// TestRuleActionsReachRealServices: one message, one rule, its actions delivered to goaws
// (SQS through the query-protocol fallback, SNS), dynalite (dynamoDB and dynamoDBv2),
// kinesalite (kinesis) and gofakes3 (s3), each configured the standard SDK way
// (AWS_ENDPOINT_URL_<SERVICE>), each checked on the service; and a failing sqs action whose
// errorAction writes AWS's error document to S3.
func TestRuleActionsReachRealServices(t *testing.T) {
	goaws, s3URL, ddbURL, kinURL := startGoaws(t), startGofakes3(t), startDynalite(t), startKinesalite(t)
	t.Setenv("AWS_ENDPOINT_URL_SQS", goaws)
	t.Setenv("AWS_ENDPOINT_URL_SNS", goaws)
	t.Setenv("AWS_ENDPOINT_URL_S3", s3URL)
	t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", ddbURL)
	t.Setenv("AWS_ENDPOINT_URL_KINESIS", kinURL)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	ctx := context.Background()
	svc := awsConfig(awsKey("test", "test"), nil)
	ddb := dynamodb.NewFromConfig(svc, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(ddbURL) })
	kin := kinesis.NewFromConfig(svc, func(o *kinesis.Options) { o.BaseEndpoint = aws.String(kinURL) })
	s3c := s3.NewFromConfig(svc, func(o *s3.Options) { o.BaseEndpoint = aws.String(s3URL); o.UsePathStyle = true })
	for _, table := range []struct{ name, key string }{{"readings", "id"}, {"readings_v1", "plant"}} {
		_, err := ddb.CreateTable(ctx, &dynamodb.CreateTableInput{
			TableName:            aws.String(table.name),
			AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String(table.key), AttributeType: ddbtypes.ScalarAttributeTypeS}},
			KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String(table.key), KeyType: ddbtypes.KeyTypeHash}},
			BillingMode:          ddbtypes.BillingModePayPerRequest,
		})
		if err != nil {
			t.Fatalf("CreateTable %s: %v", table.name, err)
		}
	}
	if _, err := kin.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("readings"), ShardCount: aws.Int32(1)}); err != nil {
		t.Fatalf("CreateStream: %v", err)
	}
	waitUntil(t, "stream ACTIVE", func() bool {
		d, err := kin.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String("readings")})
		return err == nil && d.StreamDescription.StreamStatus == kintypes.StreamStatusActive
	})

	emu := startEmulator(t, "")
	cp := iotClientAt(awsConfig(awsKey(sigv4Key, sigv4Secret), nil), emu.APIURL())
	queueURL := goaws + "/100010001000/rules-queue"
	_, err := cp.CreateTopicRule(ctx, &iot.CreateTopicRuleInput{
		RuleName: aws.String("to_services"),
		TopicRulePayload: &iottypes.TopicRulePayload{
			Sql:              aws.String("SELECT id, temp, ok, topic(2) AS plant FROM 'plant/+/telemetry'"),
			AwsIotSqlVersion: aws.String("2016-03-23"),
			Actions: []iottypes.Action{
				{Sqs: &iottypes.SqsAction{RoleArn: aws.String(roleArn), QueueUrl: aws.String(queueURL)}},
				{Sns: &iottypes.SnsAction{RoleArn: aws.String(roleArn), TargetArn: aws.String("arn:aws:sns:us-east-1:100010001000:rules-topic"), MessageFormat: iottypes.MessageFormatRaw}},
				{DynamoDBv2: &iottypes.DynamoDBv2Action{RoleArn: aws.String(roleArn), PutItem: &iottypes.PutItemInput{TableName: aws.String("readings")}}},
				{DynamoDB: &iottypes.DynamoDBAction{RoleArn: aws.String(roleArn), TableName: aws.String("readings_v1"), HashKeyField: aws.String("plant"), HashKeyValue: aws.String("${topic(2)}"), HashKeyType: iottypes.DynamoKeyTypeString, PayloadField: aws.String("data")}},
				{Kinesis: &iottypes.KinesisAction{RoleArn: aws.String(roleArn), StreamName: aws.String("readings"), PartitionKey: aws.String("${topic(2)}")}},
				{S3: &iottypes.S3Action{RoleArn: aws.String(roleArn), BucketName: aws.String("rules-bucket"), Key: aws.String("${topic(2)}/reading.json")}},
			},
		},
	})
	if err != nil {
		t.Fatalf("CreateTopicRule: %v", err)
	}
	_, err = cp.CreateTopicRule(ctx, &iot.CreateTopicRuleInput{
		RuleName: aws.String("failing"),
		TopicRulePayload: &iottypes.TopicRulePayload{
			Sql: aws.String("SELECT * FROM 'plant/+/telemetry'"),
			Actions: []iottypes.Action{
				{Sqs: &iottypes.SqsAction{RoleArn: aws.String(roleArn), QueueUrl: aws.String(goaws + "/100010001000/no-such-queue")}},
			},
			ErrorAction: &iottypes.Action{S3: &iottypes.S3Action{RoleArn: aws.String(roleArn), BucketName: aws.String("rules-bucket"), Key: aws.String("errors/${topic(2)}.json")}},
		},
	})
	if err != nil {
		t.Fatalf("CreateTopicRule failing: %v", err)
	}

	payload := `{"id": "p1", "temp": 22.5, "ok": true}`
	want := `{"id":"p1","temp":22.5,"ok":true,"plant":"p1"}`
	data := dataClientAt(awsConfig(awsKey(sigv4Key, sigv4Secret), nil), emu.APIURL())
	if _, err := data.Publish(ctx, &iotdataplane.PublishInput{Topic: aws.String("plant/p1/telemetry"), Payload: []byte(payload), Qos: 1}); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	act := waitActivity(t, emu, "to_services", 1).Evaluations[0]
	for _, a := range act.Actions {
		if !a.OK {
			t.Errorf("action %s on %s failed: %s", a.Action, a.Target, a.Error)
		}
	}
	if len(act.Actions) != 6 {
		t.Fatalf("actions: %+v", act.Actions)
	}

	if got := receiveQuery(t, queueURL); got != want {
		t.Errorf("SQS body %q, want %q", got, want)
	}
	if got := receiveQuery(t, goaws+"/100010001000/sns-queue"); got != want {
		t.Errorf("SNS (raw subscription) body %q, want %q", got, want)
	}
	item, err := ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("readings"), Key: map[string]ddbtypes.AttributeValue{"id": &ddbtypes.AttributeValueMemberS{Value: "p1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := item.Item["temp"].(*ddbtypes.AttributeValueMemberN); !ok || n.Value != "22.5" {
		t.Errorf("dynamoDBv2 temp: %#v", item.Item["temp"])
	}
	if b, ok := item.Item["ok"].(*ddbtypes.AttributeValueMemberBOOL); !ok || !b.Value {
		t.Errorf("dynamoDBv2 ok: %#v", item.Item["ok"])
	}
	item, err = ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("readings_v1"), Key: map[string]ddbtypes.AttributeValue{"plant": &ddbtypes.AttributeValueMemberS{Value: "p1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := item.Item["data"].(*ddbtypes.AttributeValueMemberM); !ok || m.Value["id"].(*ddbtypes.AttributeValueMemberS).Value != "p1" {
		t.Errorf("dynamoDB payload column: %#v", item.Item)
	}
	shards, err := kin.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("readings")})
	if err != nil {
		t.Fatal(err)
	}
	it, err := kin.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("readings"), ShardId: shards.Shards[0].ShardId, ShardIteratorType: kintypes.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := kin.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
	if err != nil || len(recs.Records) != 1 || string(recs.Records[0].Data) != want || aws.ToString(recs.Records[0].PartitionKey) != "p1" {
		t.Errorf("kinesis records: %v %+v", err, recs)
	}
	obj, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("rules-bucket"), Key: aws.String("p1/reading.json")})
	if err != nil {
		t.Fatalf("GetObject: %v", err)
	}
	body, _ := io.ReadAll(obj.Body)
	obj.Body.Close()
	if string(body) != want {
		t.Errorf("S3 object %q, want %q", body, want)
	}

	// The failing rule's errorAction wrote AWS's error document.
	var doc map[string]any
	waitUntil(t, "errorAction document in S3", func() bool {
		obj, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("rules-bucket"), Key: aws.String("errors/p1.json")})
		if err != nil {
			return false
		}
		defer obj.Body.Close()
		b, _ := io.ReadAll(obj.Body)
		return json.Unmarshal(b, &doc) == nil
	})
	failures, _ := doc["failures"].([]any)
	orig, _ := base64.StdEncoding.DecodeString(doc["base64OriginalPayload"].(string))
	if doc["ruleName"] != "failing" || doc["topic"] != "plant/p1/telemetry" || doc["clientId"] != "n/a" || string(orig) != payload || len(failures) != 1 {
		t.Fatalf("error document %v", doc)
	}
	f := failures[0].(map[string]any)
	if f["failedAction"] != "SqsAction" || !strings.HasSuffix(f["failedResource"].(string), "no-such-queue") || f["errorMessage"] == "" {
		t.Fatalf("failure %v", f)
	}
	_ = time.Second
}
