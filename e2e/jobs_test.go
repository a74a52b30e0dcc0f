package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/iotcore-local/iotcore-local/emulator"
	"github.com/iotcore-local/iotcore-local/listener"
)

// jobsPolicy is what AWS's jobs samples attach to a device: its own jobs topics over MQTT and
// the iot-jobs-data actions on its thing over HTTPS.
func jobsPolicy(thing string) string {
	return fmt.Sprintf(`{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": "iot:Connect", "Resource": "arn:aws:iot:us-east-1:123456789012:client/%[1]s"},
    {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": "arn:aws:iot:us-east-1:123456789012:topic/$aws/things/%[1]s/jobs/*"},
    {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": "arn:aws:iot:us-east-1:123456789012:topicfilter/$aws/things/%[1]s/jobs/*"},
    {"Effect": "Allow", "Action": "iotjobsdata:*", "Resource": "arn:aws:iot:us-east-1:123456789012:thing/%[1]s"}
  ]
}`, thing)
}

// backendPolicy lets a backend client read everything (events included).
const backendPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}`

func jobsDevice(t *testing.T, emu *emulator.Emulator, name string) *emulator.Device {
	t.Helper()
	d, err := emu.CreateDevice(name, jobsPolicy(name))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func thingARN(name string) string { return "arn:aws:iot:us-east-1:123456789012:thing/" + name }

// inbox collects MQTT messages by topic.
type inbox struct {
	mu   sync.Mutex
	msgs []paho.Message
	got  chan struct{}
}

func newInbox() *inbox { return &inbox{got: make(chan struct{}, 1000)} }

func (b *inbox) handler(_ paho.Client, m paho.Message) {
	b.mu.Lock()
	b.msgs = append(b.msgs, m)
	b.mu.Unlock()
	b.got <- struct{}{}
}

// next waits for a message on topic and returns its JSON payload, consuming it.
func (b *inbox) next(t *testing.T, topic string) map[string]any {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		b.mu.Lock()
		for i, m := range b.msgs {
			if m.Topic() == topic {
				b.msgs = append(b.msgs[:i:i], b.msgs[i+1:]...)
				b.mu.Unlock()
				var v map[string]any
				if err := json.Unmarshal(m.Payload(), &v); err != nil {
					t.Fatalf("%s: %v: %s", topic, err, m.Payload())
				}
				return v
			}
		}
		b.mu.Unlock()
		select {
		case <-b.got:
		case <-deadline:
			t.Fatalf("no message on %s", topic)
		}
	}
}

// has reports whether a message on topic arrived.
func (b *inbox) has(topic string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.msgs {
		if m.Topic() == topic {
			return true
		}
	}
	return false
}

// connectJobsClient connects a paho client whose unsubscribed deliveries (direct jobs answers)
// land in the inbox too.
func connectJobsClient(t *testing.T, emu *emulator.Emulator, d *emulator.Device, box *inbox) paho.Client {
	t.Helper()
	opts := paho.NewClientOptions().AddBroker("ssl://" + emu.MQTTAddr()).SetClientID(d.ThingName).
		SetTLSConfig(tlsConfig(t, d)).SetProtocolVersion(4).SetAutoReconnect(false).SetConnectRetry(false).
		SetConnectTimeout(10 * time.Second).SetDefaultPublishHandler(box.handler)
	c := paho.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", d.ThingName, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

func TestJobsOverMQTTWithPaho(t *testing.T) {
	emu := startEmulator(t, "")
	dev := jobsDevice(t, emu, "jobs-dev-1")
	spyDev, err := emu.CreateDevice("jobs-spy", backendPolicy)
	if err != nil {
		t.Fatal(err)
	}
	ctl := iotClientAt(awsConfig(awsKey(sigv4Key, sigv4Secret), nil), emu.APIURL())
	ctx := t.Context()
	if _, err := ctl.UpdateEventConfigurations(ctx, &iot.UpdateEventConfigurationsInput{EventConfigurations: map[string]types.Configuration{
		"JOB": {Enabled: true}, "JOB_EXECUTION": {Enabled: true}}}); err != nil {
		t.Fatal(err)
	}

	box, spy := newInbox(), newInbox()
	c := connectJobsClient(t, emu, dev, box)
	s := connectJobsClient(t, emu, spyDev, spy)
	if err := wait(t, c.Subscribe("$aws/things/jobs-dev-1/jobs/notify-next", 1, box.handler)); err != nil {
		t.Fatal(err)
	}
	// The spy sees requests (ordinary publishes) and events, never the direct answers.
	for _, f := range []string{"$aws/things/jobs-dev-1/jobs/#", "$aws/events/job/#", "$aws/events/jobExecution/#"} {
		if err := wait(t, s.Subscribe(f, 1, spy.handler)); err != nil {
			t.Fatal(err)
		}
	}

	_, err = ctl.CreateJob(ctx, &iot.CreateJobInput{JobId: aws.String("fw-1"), Targets: []string{thingARN("jobs-dev-1")},
		Document: aws.String(`{"operation":"install","version":"2.0"}`)})
	if err != nil {
		t.Fatal(err)
	}
	n := box.next(t, "$aws/things/jobs-dev-1/jobs/notify-next")
	exec := n["execution"].(map[string]any)
	if exec["jobId"] != "fw-1" || exec["status"] != "QUEUED" || exec["jobDocument"].(map[string]any)["version"] != "2.0" {
		t.Fatalf("notify-next: %v", n)
	}

	// start-next without subscribing to its answer: AWS answers the requester all the same.
	if err := wait(t, c.Publish("$aws/things/jobs-dev-1/jobs/start-next", 1, false, `{"clientToken":"ct-1","stepTimeoutInMinutes":5}`)); err != nil {
		t.Fatal(err)
	}
	acc := box.next(t, "$aws/things/jobs-dev-1/jobs/start-next/accepted")
	if acc["clientToken"] != "ct-1" || acc["execution"].(map[string]any)["status"] != "IN_PROGRESS" {
		t.Fatalf("start-next: %v", acc)
	}
	running, err := ctl.DescribeJobExecution(ctx, &iot.DescribeJobExecutionInput{JobId: aws.String("fw-1"), ThingName: aws.String("jobs-dev-1")})
	if err != nil {
		t.Fatal(err)
	}
	if s := aws.ToInt64(running.Execution.ApproximateSecondsBeforeTimedOut); running.Execution.Status != types.JobExecutionStatusInProgress || s <= 0 || s > 300 {
		t.Fatalf("running execution: %s, %d s before timing out", running.Execution.Status, s)
	}
	// update with a version mismatch, then SUCCEEDED.
	if err := wait(t, c.Publish("$aws/things/jobs-dev-1/jobs/fw-1/update", 1, false, `{"status":"SUCCEEDED","expectedVersion":1,"clientToken":"ct-2"}`)); err != nil {
		t.Fatal(err)
	}
	rej := box.next(t, "$aws/things/jobs-dev-1/jobs/fw-1/update/rejected")
	if rej["code"] != "VersionMismatch" || rej["executionState"].(map[string]any)["versionNumber"] != 2.0 {
		t.Fatalf("mismatch: %v", rej)
	}
	if err := wait(t, c.Publish("$aws/things/jobs-dev-1/jobs/fw-1/update", 1, false, `{"status":"SUCCEEDED","expectedVersion":"2","statusDetails":{"result":"ok"}}`+"\x00")); err != nil {
		t.Fatal(err)
	}
	box.next(t, "$aws/things/jobs-dev-1/jobs/fw-1/update/accepted")
	if next := box.next(t, "$aws/things/jobs-dev-1/jobs/notify-next"); next["execution"] != nil {
		t.Fatalf("notify-next after the last job: %v", next)
	}
	ev := spy.next(t, "$aws/events/jobExecution/fw-1/succeeded")
	if ev["eventType"] != "JOB_EXECUTION" || ev["thingArn"] != thingARN("jobs-dev-1") || ev["statusDetails"].(map[string]any)["result"] != "ok" {
		t.Fatalf("execution event: %v", ev)
	}
	if jev := spy.next(t, "$aws/events/job/fw-1/completed"); jev["status"] != "COMPLETED" || jev["jobProcessDetails"] == nil {
		t.Fatalf("job event: %v", jev)
	}
	spy.next(t, "$aws/things/jobs-dev-1/jobs/start-next") // the request itself is an ordinary publish
	for _, topic := range []string{"$aws/things/jobs-dev-1/jobs/start-next/accepted", "$aws/things/jobs-dev-1/jobs/fw-1/update/accepted"} {
		if spy.has(topic) {
			t.Fatalf("another client received the direct answer %s", topic)
		}
	}
	out, err := ctl.DescribeJobExecution(ctx, &iot.DescribeJobExecutionInput{JobId: aws.String("fw-1"), ThingName: aws.String("jobs-dev-1")})
	if err != nil {
		t.Fatal(err)
	}
	if out.Execution.Status != types.JobExecutionStatusSucceeded || out.Execution.VersionNumber != 3 || out.Execution.StatusDetails.DetailsMap["result"] != "ok" {
		t.Fatalf("DescribeJobExecution: %+v", out.Execution)
	}
}

func TestJobsAnswerNeedsReceive(t *testing.T) {
	emu := startEmulator(t, "")
	// Publish on its jobs topics, but Receive only on notify-next.
	policy := `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Action":"iot:Connect","Resource":"*"},
	 {"Effect":"Allow","Action":["iot:Publish","iot:Subscribe"],"Resource":"*"},
	 {"Effect":"Allow","Action":"iot:Receive","Resource":"arn:aws:iot:us-east-1:123456789012:topic/$aws/things/mute/jobs/notify-next"}]}`
	d, err := emu.CreateDevice("mute", policy)
	if err != nil {
		t.Fatal(err)
	}
	box := newInbox()
	c := connectJobsClient(t, emu, d, box)
	if err := wait(t, c.Subscribe("$aws/things/mute/jobs/notify-next", 1, box.handler)); err != nil {
		t.Fatal(err)
	}
	if err := wait(t, c.Publish("$aws/things/mute/jobs/get", 1, false, `{}`)); err != nil {
		t.Fatal(err)
	}
	// notify-next (allowed) shows the connection is served; the get answer (denied) never comes.
	ctl := iotClientAt(awsConfig(awsKey(sigv4Key, sigv4Secret), nil), emu.APIURL())
	if _, err := ctl.CreateJob(t.Context(), &iot.CreateJobInput{JobId: aws.String("m"), Targets: []string{thingARN("mute")}, Document: aws.String(`{}`)}); err != nil {
		t.Fatal(err)
	}
	box.next(t, "$aws/things/mute/jobs/notify-next")
	if box.has("$aws/things/mute/jobs/get/accepted") {
		t.Fatal("the answer was delivered without iot:Receive")
	}
}

// errName is the AWS error code of an SDK error.
func errName(err error) string {
	var ae interface{ ErrorCode() string }
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return fmt.Sprintf("not an API error: %v", err)
}

func TestJobsControlPlaneWithSDK(t *testing.T) {
	emu := startEmulator(t, "")
	ctl := iotClientAt(awsConfig(awsKey(sigv4Key, sigv4Secret), nil), emu.APIURL())
	ctx := t.Context()
	for _, n := range []string{"c1", "c2", "c3"} {
		if _, err := ctl.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(n)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ctl.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("fleet")}); err != nil {
		t.Fatal(err)
	}
	if _, err := ctl.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("fleet-eu"), ParentGroupName: aws.String("fleet")}); err != nil {
		t.Fatal(err)
	}
	if _, err := ctl.AddThingToThingGroup(ctx, &iot.AddThingToThingGroupInput{ThingGroupName: aws.String("fleet-eu"), ThingName: aws.String("c1")}); err != nil {
		t.Fatal(err)
	}
	groupARN := "arn:aws:iot:us-east-1:123456789012:thinggroup/fleet"

	// CreateJob to a nested group, continuous.
	cj, err := ctl.CreateJob(ctx, &iot.CreateJobInput{JobId: aws.String("j1"), Targets: []string{groupARN},
		Document: aws.String(`{"a":"${aws:iot:parameter:p}"}`), DocumentParameters: map[string]string{"p": "v"},
		TargetSelection: types.TargetSelectionContinuous, Description: aws.String("first"),
		TimeoutConfig:              &types.TimeoutConfig{InProgressTimeoutInMinutes: aws.Int64(10)},
		JobExecutionsRolloutConfig: &types.JobExecutionsRolloutConfig{MaximumPerMinute: aws.Int32(100)},
		AbortConfig: &types.AbortConfig{CriteriaList: []types.AbortCriteria{{FailureType: types.JobExecutionFailureTypeFailed,
			Action: types.AbortActionCancel, ThresholdPercentage: aws.Float64(50), MinNumberOfExecutedThings: aws.Int32(1)}}},
		JobExecutionsRetryConfig: &types.JobExecutionsRetryConfig{CriteriaList: []types.RetryCriteria{{FailureType: types.RetryableFailureTypeFailed, NumberOfRetries: aws.Int32(2)}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(cj.JobArn) != "arn:aws:iot:us-east-1:123456789012:job/j1" || aws.ToString(cj.Description) != "first" {
		t.Fatalf("CreateJob: %+v", cj)
	}
	_, err = ctl.CreateJob(ctx, &iot.CreateJobInput{JobId: aws.String("j1"), Targets: []string{groupARN}, Document: aws.String(`{}`)})
	var exists *types.ResourceAlreadyExistsException
	if !errors.As(err, &exists) || aws.ToString(exists.ResourceId) != "j1" {
		t.Fatalf("duplicate CreateJob: %v", err)
	}
	for name, in := range map[string]*iot.CreateJobInput{
		"InvalidRequestException":   {JobId: aws.String("bad"), Targets: []string{groupARN}, Document: aws.String(`not json`)},
		"ResourceNotFoundException": {JobId: aws.String("bad"), Targets: []string{thingARN("nobody")}, Document: aws.String(`{}`)},
	} {
		if _, err := ctl.CreateJob(ctx, in); errName(err) != name {
			t.Errorf("CreateJob: got %s, want %s", errName(err), name)
		}
	}
	dj, err := ctl.DescribeJob(ctx, &iot.DescribeJobInput{JobId: aws.String("j1")})
	if err != nil {
		t.Fatal(err)
	}
	if dj.Job.Status != types.JobStatusInProgress || dj.Job.TargetSelection != types.TargetSelectionContinuous ||
		aws.ToInt32(dj.Job.JobProcessDetails.NumberOfQueuedThings) != 1 || dj.Job.CreatedAt == nil ||
		time.Since(*dj.Job.CreatedAt) > time.Hour || aws.ToInt64(dj.Job.TimeoutConfig.InProgressTimeoutInMinutes) != 10 ||
		dj.Job.DocumentParameters["p"] != "v" {
		t.Fatalf("DescribeJob: %+v", dj.Job)
	}
	if _, err := ctl.DescribeJob(ctx, &iot.DescribeJobInput{JobId: aws.String("nope")}); errName(err) != "ResourceNotFoundException" {
		t.Fatalf("DescribeJob missing: %v", err)
	}
	doc, err := ctl.GetJobDocument(ctx, &iot.GetJobDocumentInput{JobId: aws.String("j1")})
	if err != nil || aws.ToString(doc.Document) != `{"a":"v"}` {
		t.Fatalf("GetJobDocument: %v %v", doc, err)
	}
	raw, err := ctl.GetJobDocument(ctx, &iot.GetJobDocumentInput{JobId: aws.String("j1"), BeforeSubstitution: true})
	if err != nil || !strings.Contains(aws.ToString(raw.Document), "${aws:iot:parameter:p}") {
		t.Fatalf("GetJobDocument before substitution: %v %v", raw, err)
	}
	// The continuous job reaches a thing added later (c2 into the nested group).
	if _, err := ctl.AddThingToThingGroup(ctx, &iot.AddThingToThingGroupInput{ThingGroupName: aws.String("fleet-eu"), ThingName: aws.String("c2")}); err != nil {
		t.Fatal(err)
	}
	lj, err := ctl.ListJobExecutionsForJob(ctx, &iot.ListJobExecutionsForJobInput{JobId: aws.String("j1")})
	if err != nil || len(lj.ExecutionSummaries) != 2 || aws.ToString(lj.ExecutionSummaries[1].ThingArn) != thingARN("c2") ||
		lj.ExecutionSummaries[1].JobExecutionSummary.Status != types.JobExecutionStatusQueued {
		t.Fatalf("ListJobExecutionsForJob: %+v %v", lj, err)
	}
	lt, err := ctl.ListJobExecutionsForThing(ctx, &iot.ListJobExecutionsForThingInput{ThingName: aws.String("c2"), Status: types.JobExecutionStatusQueued})
	if err != nil || len(lt.ExecutionSummaries) != 1 || aws.ToString(lt.ExecutionSummaries[0].JobId) != "j1" {
		t.Fatalf("ListJobExecutionsForThing: %+v %v", lt, err)
	}
	// AssociateTargetsWithJob adds c3 to the continuous job.
	at, err := ctl.AssociateTargetsWithJob(ctx, &iot.AssociateTargetsWithJobInput{JobId: aws.String("j1"), Targets: []string{thingARN("c3")}, Comment: aws.String("one more")})
	if err != nil || aws.ToString(at.JobId) != "j1" {
		t.Fatalf("AssociateTargetsWithJob: %v %v", at, err)
	}
	if e, err := ctl.DescribeJobExecution(ctx, &iot.DescribeJobExecutionInput{JobId: aws.String("j1"), ThingName: aws.String("c3")}); err != nil || e.Execution.Status != types.JobExecutionStatusQueued {
		t.Fatalf("c3 after AssociateTargetsWithJob: %v %v", e, err)
	}
	if _, err := ctl.AssociateTargetsWithJob(ctx, &iot.AssociateTargetsWithJobInput{JobId: aws.String("nope"), Targets: []string{thingARN("c3")}}); errName(err) != "ResourceNotFoundException" {
		t.Fatalf("AssociateTargetsWithJob on a missing job: %v", err)
	}
	// UpdateJob, ListJobs.
	if _, err := ctl.UpdateJob(ctx, &iot.UpdateJobInput{JobId: aws.String("j1"), Description: aws.String("second")}); err != nil {
		t.Fatal(err)
	}
	jobsList, err := ctl.ListJobs(ctx, &iot.ListJobsInput{Status: types.JobStatusInProgress})
	if err != nil || len(jobsList.Jobs) != 1 || aws.ToString(jobsList.Jobs[0].JobId) != "j1" {
		t.Fatalf("ListJobs: %+v %v", jobsList, err)
	}
	// CancelJobExecution: version conflict, then cancel; DeleteJobExecution.
	_, err = ctl.CancelJobExecution(ctx, &iot.CancelJobExecutionInput{JobId: aws.String("j1"), ThingName: aws.String("c1"), ExpectedVersion: aws.Int64(7)})
	if errName(err) != "VersionConflictException" {
		t.Fatalf("CancelJobExecution version: %v", err)
	}
	if _, err := ctl.CancelJobExecution(ctx, &iot.CancelJobExecutionInput{JobId: aws.String("j1"), ThingName: aws.String("c1"),
		StatusDetails: map[string]string{"why": "test"}}); err != nil {
		t.Fatal(err)
	}
	_, err = ctl.CancelJobExecution(ctx, &iot.CancelJobExecutionInput{JobId: aws.String("j1"), ThingName: aws.String("c1")})
	if errName(err) != "InvalidStateTransitionException" {
		t.Fatalf("CancelJobExecution twice: %v", err)
	}
	if _, err := ctl.DeleteJobExecution(ctx, &iot.DeleteJobExecutionInput{JobId: aws.String("j1"), ThingName: aws.String("c2"), ExecutionNumber: aws.Int64(1)}); errName(err) != "InvalidStateTransitionException" {
		t.Fatalf("DeleteJobExecution of a QUEUED one without force: %v", err)
	}
	if _, err := ctl.DeleteJobExecution(ctx, &iot.DeleteJobExecutionInput{JobId: aws.String("j1"), ThingName: aws.String("c1"), ExecutionNumber: aws.Int64(1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := ctl.DescribeJobExecution(ctx, &iot.DescribeJobExecutionInput{JobId: aws.String("j1"), ThingName: aws.String("c1")}); errName(err) != "ResourceNotFoundException" {
		t.Fatalf("deleted execution: %v", err)
	}
	// DeleteJob without force on an IN_PROGRESS job, CancelJob, then DeleteJob.
	if _, err := ctl.DeleteJob(ctx, &iot.DeleteJobInput{JobId: aws.String("j1")}); errName(err) != "InvalidStateTransitionException" {
		t.Fatalf("DeleteJob without force: %v", err)
	}
	cancel, err := ctl.CancelJob(ctx, &iot.CancelJobInput{JobId: aws.String("j1"), ReasonCode: aws.String("NO_LONGER_NEEDED"), Comment: aws.String("done")})
	if err != nil || aws.ToString(cancel.JobId) != "j1" {
		t.Fatalf("CancelJob: %v %v", cancel, err)
	}
	if _, err := ctl.CancelJob(ctx, &iot.CancelJobInput{JobId: aws.String("j1"), ReasonCode: aws.String("lower case")}); errName(err) != "InvalidRequestException" {
		t.Fatalf("CancelJob bad reason: %v", err)
	}
	dj, _ = ctl.DescribeJob(ctx, &iot.DescribeJobInput{JobId: aws.String("j1")})
	if dj.Job.Status != types.JobStatusCanceled || aws.ToString(dj.Job.ReasonCode) != "NO_LONGER_NEEDED" || aws.ToString(dj.Job.Description) != "second" {
		t.Fatalf("after cancel: %+v", dj.Job)
	}
	if _, err := ctl.DeleteJob(ctx, &iot.DeleteJobInput{JobId: aws.String("j1")}); err != nil {
		t.Fatal(err)
	}
	// Templates.
	tpl, err := ctl.CreateJobTemplate(ctx, &iot.CreateJobTemplateInput{JobTemplateId: aws.String("reboot"), Description: aws.String("Reboot"),
		Document: aws.String(`{"operation":"reboot"}`)})
	if err != nil || aws.ToString(tpl.JobTemplateArn) != "arn:aws:iot:us-east-1:123456789012:jobtemplate/reboot" {
		t.Fatalf("CreateJobTemplate: %v %v", tpl, err)
	}
	if _, err := ctl.CreateJobTemplate(ctx, &iot.CreateJobTemplateInput{JobTemplateId: aws.String("reboot"), Description: aws.String("x"), Document: aws.String(`{}`)}); errName(err) != "ConflictException" {
		t.Fatalf("duplicate template: %v", err)
	}
	dt, err := ctl.DescribeJobTemplate(ctx, &iot.DescribeJobTemplateInput{JobTemplateId: aws.String("reboot")})
	if err != nil || aws.ToString(dt.Document) != `{"operation":"reboot"}` || dt.CreatedAt == nil {
		t.Fatalf("DescribeJobTemplate: %v %v", dt, err)
	}
	lt2, err := ctl.ListJobTemplates(ctx, &iot.ListJobTemplatesInput{})
	if err != nil || len(lt2.JobTemplates) != 1 {
		t.Fatalf("ListJobTemplates: %v %v", lt2, err)
	}
	if _, err := ctl.CreateJob(ctx, &iot.CreateJobInput{JobId: aws.String("from-tpl"), Targets: []string{thingARN("c3")}, JobTemplateArn: tpl.JobTemplateArn}); err != nil {
		t.Fatal(err)
	}
	if d, _ := ctl.GetJobDocument(ctx, &iot.GetJobDocumentInput{JobId: aws.String("from-tpl")}); aws.ToString(d.Document) != `{"operation":"reboot"}` {
		t.Fatalf("job from template: %v", d)
	}
	if _, err := ctl.DeleteJobTemplate(ctx, &iot.DeleteJobTemplateInput{JobTemplateId: aws.String("reboot")}); err != nil {
		t.Fatal(err)
	}
	if _, err := ctl.DescribeJobTemplate(ctx, &iot.DescribeJobTemplateInput{JobTemplateId: aws.String("reboot")}); errName(err) != "ResourceNotFoundException" {
		t.Fatalf("deleted template: %v", err)
	}
	// Force-delete an IN_PROGRESS job.
	if _, err := ctl.DeleteJob(ctx, &iot.DeleteJobInput{JobId: aws.String("from-tpl"), Force: true}); err != nil {
		t.Fatal(err)
	}
}

// jobsDataCall is one iot-jobs-data request; the module of the SDK's iotjobsdataplane client is
// not reachable from this project's module proxy, so requests are built by hand and, for SigV4,
// signed by the SDK's signer exactly as that client signs them.
func jobsDataCall(t *testing.T, hc *http.Client, method, url, body string, sign bool) (int, string, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if sign {
		sum := sha256.Sum256([]byte(body))
		err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: sigv4Key, SecretAccessKey: sigv4Secret},
			req, hex.EncodeToString(sum[:]), "iot-jobs-data", "us-east-1", time.Now())
		if err != nil {
			t.Fatal(err)
		}
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(data, &m)
	return resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"), m
}

func TestJobsDataPlaneOverHTTPS(t *testing.T) {
	emu := startEmulator(t, "")
	dev := jobsDevice(t, emu, "http-dev")
	jobsDevice(t, emu, "other-dev")
	ctl := iotClientAt(awsConfig(awsKey(sigv4Key, sigv4Secret), nil), emu.APIURL())
	ctx := t.Context()
	for _, id := range []string{"h1", "h2"} {
		if _, err := ctl.CreateJob(ctx, &iot.CreateJobInput{JobId: aws.String(id), Targets: []string{thingARN("http-dev"), thingARN("other-dev")},
			Document: aws.String(`{"step":"` + id + `"}`)}); err != nil {
			t.Fatal(err)
		}
	}
	on8443 := httpsClientFor(t, tlsConfig(t, dev))
	on443 := httpsClientFor(t, tlsConfig(t, dev, listener.ProtocolHTTPCA))
	base8443, base443 := "https://"+emu.HTTPSAddr(), "https://"+emu.ALPNAddr()

	st, _, m := jobsDataCall(t, on8443, http.MethodGet, base8443+"/things/http-dev/jobs", "", false)
	if st != 200 || len(m["queuedJobs"].([]any)) != 2 || len(m["inProgressJobs"].([]any)) != 0 {
		t.Fatalf("GetPendingJobExecutions: %d %v", st, m)
	}
	st, _, m = jobsDataCall(t, on443, http.MethodPut, base443+"/things/http-dev/jobs/$next", `{"statusDetails":{"p":"1"}}`, false)
	exec, _ := m["execution"].(map[string]any)
	if st != 200 || exec["jobId"] != "h1" || exec["status"] != "IN_PROGRESS" || exec["jobDocument"] != `{"step":"h1"}` || exec["thingName"] != "http-dev" {
		t.Fatalf("StartNextPendingJobExecution on 443: %d %v", st, m)
	}
	if q := exec["queuedAt"].(float64); q < 1e9 || q > 1e10 {
		t.Fatalf("queuedAt %v is not in seconds", q)
	}
	st, _, m = jobsDataCall(t, on8443, http.MethodGet, base8443+"/things/http-dev/jobs/h1?includeJobDocument=false", "", false)
	if st != 200 || m["execution"].(map[string]any)["jobDocument"] != nil || m["execution"].(map[string]any)["versionNumber"] != 2.0 {
		t.Fatalf("DescribeJobExecution: %d %v", st, m)
	}
	st, name, _ := jobsDataCall(t, on8443, http.MethodPost, base8443+"/things/http-dev/jobs/h1", `{"status":"SUCCEEDED","expectedVersion":9}`, false)
	if st != 409 || name != "InvalidStateTransitionException" {
		t.Fatalf("version mismatch: %d %s", st, name)
	}
	st, _, m = jobsDataCall(t, on8443, http.MethodPost, base8443+"/things/http-dev/jobs/h1",
		`{"status":"SUCCEEDED","expectedVersion":2,"includeJobExecutionState":true,"includeJobDocument":true}`, false)
	if st != 200 || m["executionState"].(map[string]any)["status"] != "SUCCEEDED" || m["jobDocument"] != `{"step":"h1"}` {
		t.Fatalf("UpdateJobExecution: %d %v", st, m)
	}
	for _, c := range []struct {
		name, method, path, body string
		status                   int
		err                      string
	}{
		{"terminal", http.MethodPost, "/things/http-dev/jobs/h1", `{"status":"IN_PROGRESS"}`, 409, "InvalidStateTransitionException"},
		{"unknown job", http.MethodGet, "/things/http-dev/jobs/zz", "", 404, "ResourceNotFoundException"},
		{"bad status", http.MethodPost, "/things/http-dev/jobs/h2", `{"status":"CANCELED"}`, 400, "InvalidRequestException"},
		{"bad JSON", http.MethodPost, "/things/http-dev/jobs/h2", `{"status":`, 400, "InvalidRequestException"},
		{"too many details", http.MethodPost, "/things/http-dev/jobs/h2", `{"status":"IN_PROGRESS","statusDetails":{"a":"1","b":"1","c":"1","d":"1","e":"1","f":"1","g":"1","h":"1","i":"1","j":"1","k":"1"}}`, 400, "InvalidRequestException"},
		{"another thing", http.MethodGet, "/things/other-dev/jobs", "", 403, "ForbiddenException"},
	} {
		st, name, m := jobsDataCall(t, on8443, c.method, base8443+c.path, c.body, false)
		if st != c.status || name != c.err || m["message"] == "" {
			t.Errorf("%s: %d %s %v, want %d %s", c.name, st, name, m, c.status, c.err)
		}
	}
	// SigV4 (service iot-jobs-data) on the API address reaches the same device API.
	api := &http.Client{Timeout: 10 * time.Second}
	st, _, m = jobsDataCall(t, api, http.MethodGet, emu.APIURL()+"/things/other-dev/jobs", "", true)
	if st != 200 || len(m["queuedJobs"].([]any)) != 2 {
		t.Fatalf("SigV4 GetPendingJobExecutions: %d %v", st, m)
	}
	st, _, m = jobsDataCall(t, api, http.MethodPost, emu.APIURL()+"/things/other-dev/jobs/h2", `{"status":"REJECTED","statusDetails":{"reason":"no"}}`, true)
	if st != 200 {
		t.Fatalf("SigV4 UpdateJobExecution: %d %v", st, m)
	}
	// Unsigned, the same path is the control plane's ListJobExecutionsForThing.
	st, _, m = jobsDataCall(t, api, http.MethodGet, emu.APIURL()+"/things/other-dev/jobs", "", false)
	if st != 200 || len(m["executionSummaries"].([]any)) != 2 {
		t.Fatalf("unsigned: %d %v", st, m)
	}
}

func TestJobsWithMosquitto(t *testing.T) {
	needTools(t, "mosquitto_rr")
	emu := startEmulator(t, "")
	dev := jobsDevice(t, emu, "mq-dev")
	dir := t.TempDir()
	files := map[string][]byte{"cert.pem": []byte(dev.CertificatePEM), "key.pem": []byte(dev.PrivateKeyPEM), "ca.pem": emu.RootCAPEM()}
	for n, data := range files {
		if err := os.WriteFile(filepath.Join(dir, n), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctl := iotClientAt(awsConfig(awsKey(sigv4Key, sigv4Secret), nil), emu.APIURL())
	if _, err := ctl.CreateJob(t.Context(), &iot.CreateJobInput{JobId: aws.String("mq"), Targets: []string{thingARN("mq-dev")}, Document: aws.String(`{}`)}); err != nil {
		t.Fatal(err)
	}
	port := portOfAddr(emu.MQTTAddr())
	rr := func(topic, answer, payload string) map[string]any {
		t.Helper()
		out, err := run(t, "mosquitto_rr", "-h", "localhost", "-p", port, "-i", "mq-dev", "--cafile", filepath.Join(dir, "ca.pem"),
			"--cert", filepath.Join(dir, "cert.pem"), "--key", filepath.Join(dir, "key.pem"), "-q", "1", "-W", "10",
			"-t", topic, "-e", topic+"/"+answer, "-m", payload)
		if err != nil {
			t.Fatalf("mosquitto_rr %s: %v: %s", topic, err, out)
		}
		var m map[string]any
		if err := json.Unmarshal(bytes.TrimSpace([]byte(out)), &m); err != nil {
			t.Fatalf("answer to %s: %v: %q", topic, err, out)
		}
		return m
	}
	long := strings.Repeat("x", 1025)
	for _, c := range []struct{ name, topic, payload, code string }{
		{"bad JSON", "$aws/things/mq-dev/jobs/mq/update", `{"status":`, "InvalidJson"},
		{"oversized statusDetails", "$aws/things/mq-dev/jobs/mq/update", `{"status":"IN_PROGRESS","statusDetails":{"k":"` + long + `"}}`, "InvalidRequest"},
		{"unknown job", "$aws/things/mq-dev/jobs/none/get", `{}`, "ResourceNotFound"},
		{"unknown topic", "$aws/things/mq-dev/jobs/mq/cancel", `{}`, "InvalidTopic"},
	} {
		if m := rr(c.topic, "rejected", c.payload); m["code"] != c.code {
			t.Errorf("%s: %v, want code %s", c.name, m, c.code)
		}
	}
	if m := rr("$aws/things/mq-dev/jobs/get", "accepted", `{"clientToken":"mq"}`); m["clientToken"] != "mq" || len(m["queuedJobs"].([]any)) != 1 {
		t.Fatalf("get: %v", m)
	}
}

// TestJobsRateLimit: with serve --jobs-rate-limit 1, a device sending five requests back to back
// gets RequestThrottled for some of them (at least two fall in the same second).
func TestJobsRateLimit(t *testing.T) {
	emu := startEmulator(t, "", func(c *emulator.Config) { c.JobsRateLimit = 1 })
	dev := jobsDevice(t, emu, "busy-dev")
	box := newInbox()
	c := connectJobsClient(t, emu, dev, box)
	for i := 0; i < 5; i++ {
		if err := wait(t, c.Publish("$aws/things/busy-dev/jobs/get", 1, false, fmt.Sprintf(`{"clientToken":"%d"}`, i))); err != nil {
			t.Fatal(err)
		}
	}
	rej := box.next(t, "$aws/things/busy-dev/jobs/get/rejected")
	if rej["code"] != "RequestThrottled" || rej["clientToken"] == nil {
		t.Fatalf("throttled: %v", rej)
	}
	box.next(t, "$aws/things/busy-dev/jobs/get/accepted")
}

// TestJobsThingDeleted: deleting a thing ends its pending executions REMOVED, and a snapshot job
// whose last pending execution that was completes.
func TestJobsThingDeleted(t *testing.T) {
	emu := startEmulator(t, "")
	ctl := iotClientAt(awsConfig(awsKey(sigv4Key, sigv4Secret), nil), emu.APIURL())
	ctx := t.Context()
	if _, err := ctl.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("doomed")}); err != nil {
		t.Fatal(err)
	}
	if _, err := ctl.CreateJob(ctx, &iot.CreateJobInput{JobId: aws.String("d"), Targets: []string{thingARN("doomed")}, Document: aws.String(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := ctl.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String("doomed")}); err != nil {
		t.Fatal(err)
	}
	e, err := ctl.DescribeJobExecution(ctx, &iot.DescribeJobExecutionInput{JobId: aws.String("d"), ThingName: aws.String("doomed")})
	if err != nil || e.Execution.Status != types.JobExecutionStatusRemoved || e.Execution.VersionNumber != 2 {
		t.Fatalf("execution of the deleted thing: %+v %v", e, err)
	}
	j, err := ctl.DescribeJob(ctx, &iot.DescribeJobInput{JobId: aws.String("d")})
	if err != nil || j.Job.Status != types.JobStatusCompleted || aws.ToInt32(j.Job.JobProcessDetails.NumberOfRemovedThings) != 1 {
		t.Fatalf("job: %+v %v", j, err)
	}
}
