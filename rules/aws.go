package rules

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	fhtypes "github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/google/uuid"

	"github.com/iotcore-local/iotcore-local/rules/sql"
)

// awsClients holds the AWS SDK configuration the AWS-service actions share: loaded once, the
// standard way (AWS_REGION, AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE>, credentials chain),
// so the actions reach LocalStack, a one-service emulator, or AWS itself.
type awsClients struct {
	engine *Engine
	mu     sync.Mutex
	cfg    *aws.Config
	// queryEndpoints remembers SQS endpoints that answered only the query protocol.
	queryEndpoints sync.Map
	logStreams     sync.Map
}

func (c *awsClients) config(ctx context.Context) (aws.Config, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cfg != nil {
		return *c.cfg, nil
	}
	cfg, err := config.LoadDefaultConfig(ctx, config.WithEC2IMDSClientEnableState(imds.ClientDisabled))
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS SDK configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = c.engine.opts.Region
	}
	ok := false
	if cfg.Credentials != nil {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := cfg.Credentials.Retrieve(rctx)
		cancel()
		ok = err == nil
	}
	if !ok {
		c.engine.log.Info("no AWS credentials configured; AWS-service rule actions sign with the placeholder key 'test' (local emulators accept it)")
		cfg.Credentials = credentials.NewStaticCredentialsProvider("test", "test", "")
	}
	c.cfg = &cfg
	return cfg, nil
}

// customEndpoint reports whether an endpoint override is configured for a service (its
// AWS_ENDPOINT_URL_<ID> or AWS_ENDPOINT_URL), which is when S3 needs path-style addressing.
func customEndpoint(envID string) bool {
	return os.Getenv("AWS_ENDPOINT_URL_"+envID) != "" || os.Getenv("AWS_ENDPOINT_URL") != ""
}

// awsAction is an AWS-service action: its kind, the resource it names and what it does.
type awsAction struct {
	kind     string
	resource *sql.Template
	do       func(ctx context.Context, cfg aws.Config, x *execution) error
}

func (a *awsAction) name() string               { return a.kind }
func (a *awsAction) shape() string              { return shapeOf(a.kind) }
func (a *awsAction) target(x *execution) string { return x.render(a.resource) }

func (a *awsAction) run(ctx context.Context, x *execution) error {
	cfg, err := x.engine.aws.config(ctx)
	if err != nil {
		return err
	}
	return a.do(ctx, cfg, x)
}

func init() {
	builders["sns"] = func(e *Engine, f *fields) action {
		f.str("roleArn", true)
		target := f.tmpl("targetArn", true)
		format := f.str("messageFormat", false)
		if format != "" && format != "RAW" && format != "JSON" {
			f.fail("%s.messageFormat must be RAW or JSON", f.path)
		}
		return &awsAction{kind: "sns", resource: target, do: func(ctx context.Context, cfg aws.Config, x *execution) error {
			in := &sns.PublishInput{TopicArn: aws.String(x.render(target)), Message: aws.String(string(x.payload))}
			if format == "JSON" {
				in.MessageStructure = aws.String("json")
			}
			_, err := sns.NewFromConfig(cfg).Publish(ctx, in)
			return wrap("publish to SNS topic", err)
		}}
	}
	builders["kinesis"] = func(e *Engine, f *fields) action {
		f.str("roleArn", true)
		stream := f.tmpl("streamName", true)
		key := f.tmpl("partitionKey", false)
		return &awsAction{kind: "kinesis", resource: stream, do: func(ctx context.Context, cfg aws.Config, x *execution) error {
			pk := x.render(key)
			if pk == "" {
				pk = uuid.NewString()
			}
			_, err := kinesis.NewFromConfig(cfg).PutRecord(ctx, &kinesis.PutRecordInput{
				StreamName: aws.String(x.render(stream)), Data: x.payload, PartitionKey: aws.String(pk),
			})
			return wrap("put record to Kinesis stream", err)
		}}
	}
	builders["firehose"] = func(e *Engine, f *fields) action {
		f.str("roleArn", true)
		stream := f.tmpl("deliveryStreamName", true)
		sep := f.str("separator", false)
		switch sep {
		case "", "\n", "\t", "\r\n", ",":
		default:
			f.fail("%s.separator must be one of \\n, \\t, \\r\\n or ,", f.path)
		}
		batch := f.boolean("batchMode")
		return &awsAction{kind: "firehose", resource: stream, do: func(ctx context.Context, cfg aws.Config, x *execution) error {
			client := firehose.NewFromConfig(cfg)
			name := aws.String(x.render(stream))
			if batch {
				var items []json.RawMessage
				if err := json.Unmarshal(x.payload, &items); err != nil {
					return errors.New("batchMode needs the SELECT result to be an array")
				}
				if len(items) > 500 {
					return fmt.Errorf("batchMode result has %d records; the maximum is 500", len(items))
				}
				var recs []fhtypes.Record
				for _, it := range items {
					recs = append(recs, fhtypes.Record{Data: append([]byte(it), sep...)})
				}
				_, err := client.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: name, Records: recs})
				return wrap("put record batch to Firehose stream", err)
			}
			_, err := client.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: name, Record: &fhtypes.Record{Data: append(append([]byte{}, x.payload...), sep...)}})
			return wrap("put record to Firehose stream", err)
		}}
	}
	builders["s3"] = func(e *Engine, f *fields) action {
		f.str("roleArn", true)
		bucket := f.tmpl("bucketName", true)
		key := f.tmpl("key", true)
		acl := f.str("cannedAcl", false)
		return &awsAction{kind: "s3", resource: bucket, do: func(ctx context.Context, cfg aws.Config, x *execution) error {
			client := s3.NewFromConfig(cfg, func(o *s3.Options) {
				o.UsePathStyle = customEndpoint("S3")
				o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			})
			in := &s3.PutObjectInput{Bucket: aws.String(x.render(bucket)), Key: aws.String(x.render(key)), Body: bytesReader(x.payload), ContentLength: aws.Int64(int64(len(x.payload)))}
			if acl != "" {
				in.ACL = s3types.ObjectCannedACL(acl)
			}
			_, err := client.PutObject(ctx, in)
			return wrap("put S3 object", err)
		}}
	}
	builders["dynamoDBv2"] = func(e *Engine, f *fields) action {
		f.str("roleArn", true)
		put := f.object("putItem", true)
		var table *sql.Template
		if put != nil {
			table = put.tmpl("tableName", true)
			if put.err != nil {
				f.fail("%s", put.err.Error())
			}
		}
		return &awsAction{kind: "dynamoDBv2", resource: table, do: func(ctx context.Context, cfg aws.Config, x *execution) error {
			v, err := sql.ParseJSON(x.payload)
			obj, ok := v.(*sql.Object)
			if err != nil || !ok {
				return errors.New("dynamoDBv2 needs the SELECT result to be a JSON object")
			}
			item := map[string]ddbtypes.AttributeValue{}
			for _, k := range obj.Keys() {
				item[k] = attributeValue(obj.Get(k))
			}
			_, err = dynamodb.NewFromConfig(cfg).PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(x.render(table)), Item: item})
			return wrap("put DynamoDB item", err)
		}}
	}
	builders["dynamoDB"] = func(e *Engine, f *fields) action {
		f.str("roleArn", true)
		table := f.tmpl("tableName", true)
		op := f.tmpl("operation", false)
		hashField, hashValue, hashType := f.str("hashKeyField", true), f.tmpl("hashKeyValue", true), f.str("hashKeyType", false)
		rangeField, rangeValue, rangeType := f.str("rangeKeyField", false), f.tmpl("rangeKeyValue", false), f.str("rangeKeyType", false)
		payloadField := f.tmpl("payloadField", false)
		for _, t := range []string{hashType, rangeType} {
			if t != "" && t != "STRING" && t != "NUMBER" {
				f.fail("%s: key type %q must be STRING or NUMBER", f.path, t)
			}
		}
		return &awsAction{kind: "dynamoDB", resource: table, do: func(ctx context.Context, cfg aws.Config, x *execution) error {
			keyAttr := func(t, v string) ddbtypes.AttributeValue {
				if t == "NUMBER" {
					return &ddbtypes.AttributeValueMemberN{Value: v}
				}
				return &ddbtypes.AttributeValueMemberS{Value: v}
			}
			key := map[string]ddbtypes.AttributeValue{hashField: keyAttr(hashType, x.render(hashValue))}
			if rangeField != "" {
				key[rangeField] = keyAttr(rangeType, x.render(rangeValue))
			}
			column := x.render(payloadField)
			if column == "" {
				column = "payload"
			}
			var data ddbtypes.AttributeValue = &ddbtypes.AttributeValueMemberB{Value: x.payload}
			if v, err := sql.ParseJSON(x.payload); err == nil {
				data = attributeValue(v)
			}
			client := dynamodb.NewFromConfig(cfg)
			name := aws.String(x.render(table))
			switch operation := x.render(op); operation {
			case "", "INSERT":
				item := map[string]ddbtypes.AttributeValue{column: data}
				for k, v := range key {
					item[k] = v
				}
				_, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: name, Item: item})
				return wrap("put DynamoDB item", err)
			case "UPDATE":
				_, err := client.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: name, Key: key,
					UpdateExpression:         aws.String("SET #p = :p"),
					ExpressionAttributeNames: map[string]string{"#p": column}, ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":p": data}})
				return wrap("update DynamoDB item", err)
			case "DELETE":
				_, err := client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: name, Key: key})
				return wrap("delete DynamoDB item", err)
			default:
				return fmt.Errorf("operation %q is not INSERT, UPDATE or DELETE", operation)
			}
		}}
	}
	builders["cloudwatchMetric"] = func(e *Engine, f *fields) action {
		f.str("roleArn", true)
		ns, name, value, unit := f.tmpl("metricNamespace", true), f.tmpl("metricName", true), f.tmpl("metricValue", true), f.tmpl("metricUnit", true)
		ts := f.tmpl("metricTimestamp", false)
		return &awsAction{kind: "cloudwatchMetric", resource: name, do: func(ctx context.Context, cfg aws.Config, x *execution) error {
			v, err := strconv.ParseFloat(x.render(value), 64)
			if err != nil {
				return fmt.Errorf("metricValue %q is not a number", x.render(value))
			}
			d := cwtypes.MetricDatum{MetricName: aws.String(x.render(name)), Value: aws.Float64(v), Unit: cwtypes.StandardUnit(x.render(unit))}
			if s := x.render(ts); s != "" {
				sec, err := strconv.ParseInt(s, 10, 64)
				if err != nil {
					return fmt.Errorf("metricTimestamp %q is not epoch seconds", s)
				}
				d.Timestamp = aws.Time(time.Unix(sec, 0))
			}
			_, err = cloudwatch.NewFromConfig(cfg).PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String(x.render(ns)), MetricData: []cwtypes.MetricDatum{d}})
			return wrap("put CloudWatch metric", err)
		}}
	}
	builders["cloudwatchAlarm"] = func(e *Engine, f *fields) action {
		f.str("roleArn", true)
		name, reason, value := f.tmpl("alarmName", true), f.tmpl("stateReason", true), f.tmpl("stateValue", true)
		return &awsAction{kind: "cloudwatchAlarm", resource: name, do: func(ctx context.Context, cfg aws.Config, x *execution) error {
			_, err := cloudwatch.NewFromConfig(cfg).SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{
				AlarmName: aws.String(x.render(name)), StateReason: aws.String(x.render(reason)), StateValue: cwtypes.StateValue(x.render(value))})
			return wrap("set CloudWatch alarm state", err)
		}}
	}
	builders["cloudwatchLogs"] = func(e *Engine, f *fields) action {
		f.str("roleArn", true)
		group := f.tmpl("logGroupName", true)
		batch := f.boolean("batchMode")
		return &awsAction{kind: "cloudwatchLogs", resource: group, do: func(ctx context.Context, cfg aws.Config, x *execution) error {
			client := cloudwatchlogs.NewFromConfig(cfg)
			g := x.render(group)
			stream := "iotcore-local-" + x.rule
			if _, done := x.engine.aws.logStreams.Load(g + "\x00" + stream); !done {
				_, err := client.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String(g), LogStreamName: aws.String(stream)})
				var exists *logtypes.ResourceAlreadyExistsException
				if err != nil && !errors.As(err, &exists) {
					return wrap("create CloudWatch log stream", err)
				}
				x.engine.aws.logStreams.Store(g+"\x00"+stream, true)
			}
			now := time.Now().UnixMilli()
			var events []logtypes.InputLogEvent
			var items []json.RawMessage
			if batch && json.Unmarshal(x.payload, &items) == nil {
				for _, it := range items {
					events = append(events, logtypes.InputLogEvent{Message: aws.String(string(it)), Timestamp: aws.Int64(now)})
				}
			} else {
				events = []logtypes.InputLogEvent{{Message: aws.String(string(x.payload)), Timestamp: aws.Int64(now)}}
			}
			_, err := client.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String(g), LogStreamName: aws.String(stream), LogEvents: events})
			return wrap("put CloudWatch log events", err)
		}}
	}
	builders["stepFunctions"] = func(e *Engine, f *fields) action {
		f.str("roleArn", true)
		machine := f.tmpl("stateMachineName", true)
		prefix := f.tmpl("executionNamePrefix", false)
		return &awsAction{kind: "stepFunctions", resource: machine, do: func(ctx context.Context, cfg aws.Config, x *execution) error {
			arn := fmt.Sprintf("arn:aws:states:%s:%s:stateMachine:%s", cfg.Region, e.opts.Account, x.render(machine))
			_, err := sfn.NewFromConfig(cfg).StartExecution(ctx, &sfn.StartExecutionInput{
				StateMachineArn: aws.String(arn), Name: aws.String(x.render(prefix) + uuid.NewString()), Input: aws.String(string(x.payload))})
			return wrap("start Step Functions execution", err)
		}}
	}
}

// attributeValue converts a SQL value to a DynamoDB attribute value.
func attributeValue(v sql.Value) ddbtypes.AttributeValue {
	switch x := v.(type) {
	case nil:
		return &ddbtypes.AttributeValueMemberNULL{Value: true}
	case bool:
		return &ddbtypes.AttributeValueMemberBOOL{Value: x}
	case int64, float64:
		return &ddbtypes.AttributeValueMemberN{Value: string(sql.ToJSON(x))}
	case string:
		return &ddbtypes.AttributeValueMemberS{Value: x}
	case []any:
		l := make([]ddbtypes.AttributeValue, 0, len(x))
		for _, e := range x {
			l = append(l, attributeValue(e))
		}
		return &ddbtypes.AttributeValueMemberL{Value: l}
	case *sql.Object:
		m := map[string]ddbtypes.AttributeValue{}
		for _, k := range x.Keys() {
			m[k] = attributeValue(x.Get(k))
		}
		return &ddbtypes.AttributeValueMemberM{Value: m}
	}
	return &ddbtypes.AttributeValueMemberS{Value: string(sql.ToJSON(v))}
}

func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}
