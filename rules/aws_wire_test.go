package rules

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestAWSActionsRequestShapes checks what the firehose, cloudwatchLogs, cloudwatchMetric and
// stepFunctions actions send, on a loopback endpoint standing in for the services (no local
// emulator of them is installable here; sqs, sns, kinesis, dynamoDB and s3 are tested against
// real emulators in e2e). It checks the operation, the target and the payload, and that
// AWS_ENDPOINT_URL (the standard SDK configuration) is what routes them.
func TestAWSActionsRequestShapes(t *testing.T) {
	type req struct{ op, path, body string }
	var mu sync.Mutex
	var got []req
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, req{op: r.Header.Get("X-Amz-Target"), path: r.URL.Path, body: string(b)})
		mu.Unlock()
		if strings.Contains(r.URL.Path, "GraniteServiceVersion20100801") { // CloudWatch: RPC v2 CBOR
			w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
			w.Header().Set("Content-Type", "application/cbor")
			w.Write([]byte{0xa0})
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		switch r.Header.Get("X-Amz-Target") {
		case "Firehose_20150804.PutRecord":
			w.Write([]byte(`{"RecordId":"1"}`))
		case "AWSStepFunctions.StartExecution":
			w.Write([]byte(`{"executionArn":"arn:aws:states:us-east-1:1:execution:m:x","startDate":1}`))
		default:
			w.Write([]byte(`{}`))
		}
	}))
	defer srv.Close()
	t.Setenv("AWS_ENDPOINT_URL", srv.URL)
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	e := openTest(t, Options{Account: "111122223333"})
	err := e.CreateRule("wire", payload(t, `{"sql":"SELECT v, topic(2) AS d FROM 'w/+'","awsIotSqlVersion":"2016-03-23","actions":[
		{"firehose":{"roleArn":"r","deliveryStreamName":"fs-${topic(2)}","separator":"\n"}},
		{"cloudwatchLogs":{"roleArn":"r","logGroupName":"/iot/${topic(2)}"}},
		{"cloudwatchMetric":{"roleArn":"r","metricNamespace":"IoT","metricName":"v","metricValue":"${v}","metricUnit":"Count"}},
		{"stepFunctions":{"roleArn":"r","stateMachineName":"machine","executionNamePrefix":"iot-"}}]}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	e.Submit(msg("w/dev1", `{"v":7}`))
	waitFor(t, "the evaluation", func() bool { a, _ := e.Activity("wire"); return len(a) == 1 })
	a, _ := e.Activity("wire")
	for _, o := range a[0].Actions {
		if !o.OK {
			t.Errorf("%s failed: %s", o.Action, o.Error)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	byOp := map[string]map[string]any{}
	sawMetric := false
	for _, r := range got {
		if strings.HasSuffix(r.path, "/PutMetricData") {
			sawMetric = strings.Contains(r.body, "IoT") && strings.Contains(r.body, "Count")
			continue
		}
		var m map[string]any
		json.Unmarshal([]byte(r.body), &m)
		byOp[r.op] = m
	}
	fh := byOp["Firehose_20150804.PutRecord"]
	if fh == nil || fh["DeliveryStreamName"] != "fs-dev1" {
		t.Errorf("firehose request %v", fh)
	} else if rec := fh["Record"].(map[string]any); rec["Data"] != "eyJ2Ijo3LCJkIjoiZGV2MSJ9Cg==" { // {"v":7,"d":"dev1"}\n
		t.Errorf("firehose data %v", rec["Data"])
	}
	if ls := byOp["Logs_20140328.CreateLogStream"]; ls == nil || ls["logGroupName"] != "/iot/dev1" || ls["logStreamName"] != "iotcore-local-wire" {
		t.Errorf("CreateLogStream %v", ls)
	}
	if pe := byOp["Logs_20140328.PutLogEvents"]; pe == nil || !strings.Contains(mustJSON(pe["logEvents"]), `{\"v\":7,\"d\":\"dev1\"}`) {
		t.Errorf("PutLogEvents %v", pe)
	}
	if sf := byOp["AWSStepFunctions.StartExecution"]; sf == nil || sf["stateMachineArn"] != "arn:aws:states:eu-west-1:111122223333:stateMachine:machine" ||
		!strings.HasPrefix(sf["name"].(string), "iot-") || sf["input"] != `{"v":7,"d":"dev1"}` {
		t.Errorf("StartExecution %v", sf)
	}
	if !sawMetric {
		t.Errorf("no PutMetricData with the namespace and unit: %+v", got)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
