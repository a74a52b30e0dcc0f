package jobs

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDeviceFlowOverMQTT(t *testing.T) {
	f := newFixture(t, newFakeDir("t1"))
	f.create(CreateJobInput{JobID: "j1", Targets: []string{f.thingARN("t1")}})
	pubs := f.taken()
	if got := topics(pubs); !slices.Equal(got, []string{"$aws/things/t1/jobs/notify", "$aws/things/t1/jobs/notify-next"}) {
		t.Fatalf("publications after create: %v", got)
	}
	var next map[string]any
	_ = json.Unmarshal(pubs[1].Payload, &next)
	exec := next["execution"].(map[string]any)
	if exec["jobId"] != "j1" || exec["status"] != "QUEUED" || exec["versionNumber"] != 1.0 || exec["executionNumber"] != 1.0 {
		t.Fatalf("notify-next execution: %v", exec)
	}
	if doc, ok := exec["jobDocument"].(map[string]any); !ok || doc["operation"] != "update" {
		t.Fatalf("jobDocument is not the document object: %#v", exec["jobDocument"])
	}
	if ts := next["timestamp"].(float64); ts != float64(f.clk.now().Unix()) {
		t.Fatalf("timestamp %v is not in seconds", ts)
	}

	// get: both arrays, the job queued.
	topic, m, _ := f.mqtt("$aws/things/t1/jobs/get", `{"clientToken":"c1"}`)
	if topic != "$aws/things/t1/jobs/get/accepted" || m["clientToken"] != "c1" {
		t.Fatalf("get: %s %v", topic, m)
	}
	if len(m["inProgressJobs"].([]any)) != 0 || len(m["queuedJobs"].([]any)) != 1 {
		t.Fatalf("get: %v", m)
	}

	// start-next: IN_PROGRESS, version 2, no notify (the head started).
	topic, m, pubs = f.mqtt("$aws/things/t1/jobs/start-next", `{"clientToken":"c2","statusDetails":{"step":"download"}}`)
	exec = m["execution"].(map[string]any)
	if topic != "$aws/things/t1/jobs/start-next/accepted" || exec["status"] != "IN_PROGRESS" || exec["versionNumber"] != 2.0 {
		t.Fatalf("start-next: %s %v", topic, m)
	}
	if len(pubs) != 0 {
		t.Fatalf("start of the head published %v", topics(pubs))
	}

	// update with a wrong expectedVersion (as a string): VersionMismatch with executionState.
	topic, m, _ = f.mqtt("$aws/things/t1/jobs/j1/update", `{"status":"SUCCEEDED","expectedVersion":"1","clientToken":"c3"}`)
	if topic != "$aws/things/t1/jobs/j1/update/rejected" || m["code"] != "VersionMismatch" || m["clientToken"] != "c3" {
		t.Fatalf("version mismatch: %s %v", topic, m)
	}
	if st := m["executionState"].(map[string]any); st["versionNumber"] != 2.0 || st["status"] != "IN_PROGRESS" {
		t.Fatalf("executionState: %v", st)
	}

	// update to SUCCEEDED with expectedVersion as a string, trailing NULs: accepted, notify both.
	topic, m, pubs = f.mqtt("$aws/things/t1/jobs/j1/update", "{\"status\":\"SUCCEEDED\",\"expectedVersion\":\"2\",\"includeJobExecutionState\":true}\x00\x00\n")
	if topic != "$aws/things/t1/jobs/j1/update/accepted" {
		t.Fatalf("update: %s %v", topic, m)
	}
	if _, has := m["clientToken"]; has {
		t.Fatal("a clientToken was invented")
	}
	if st := m["executionState"].(map[string]any); st["status"] != "SUCCEEDED" || st["versionNumber"] != 3.0 {
		t.Fatalf("executionState: %v", st)
	}
	if got := topics(pubs); !slices.Equal(got, []string{"$aws/things/t1/jobs/notify", "$aws/things/t1/jobs/notify-next"}) {
		t.Fatalf("publications after SUCCEEDED: %v", got)
	}
	if string(pubs[0].Payload) != `{"timestamp":`+itoa64(f.clk.now().Unix())+`,"jobs":{}}` {
		t.Fatalf("notify: %s", pubs[0].Payload)
	}
	if strings.Contains(string(pubs[1].Payload), "execution") {
		t.Fatalf("notify-next with nothing pending: %s", pubs[1].Payload)
	}

	// terminal -> anything: InvalidStateTransition.
	_, m, _ = f.mqtt("$aws/things/t1/jobs/j1/update", `{"status":"IN_PROGRESS"}`)
	if m["code"] != "InvalidStateTransition" || m["executionState"] == nil {
		t.Fatalf("terminal update: %v", m)
	}
	// The job completed.
	if j, _ := f.svc.DescribeJob("j1"); j.Status != JobCompleted || j.ProcessDetails().NumberOfSucceededThings != 1 {
		t.Fatalf("job: %+v", j)
	}
	// $next with nothing pending: accepted without execution.
	topic, m, _ = f.mqtt("$aws/things/t1/jobs/$next/get", ``)
	if topic != "$aws/things/t1/jobs/$next/get/accepted" || m["execution"] != nil {
		t.Fatalf("$next: %s %v", topic, m)
	}
	// describe a terminal execution by its jobId works.
	_, m, _ = f.mqtt("$aws/things/t1/jobs/j1/get", `{"includeJobDocument":false}`)
	if e := m["execution"].(map[string]any); e["status"] != "SUCCEEDED" || e["jobDocument"] != nil {
		t.Fatalf("describe: %v", m)
	}
}

func itoa64(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestRejections(t *testing.T) {
	f := newFixture(t, newFakeDir("t1"))
	f.create(CreateJobInput{JobID: "j1", Targets: []string{f.thingARN("t1")}})
	long := strings.Repeat("x", 1025)
	for _, tc := range []struct {
		name, topic, payload, code string
	}{
		{"bad JSON", "$aws/things/t1/jobs/j1/update", `{"status":`, CodeInvalidJSON},
		{"not UTF-8", "$aws/things/t1/jobs/get", "{\"clientToken\":\"\xff\"}", CodeInvalidJSON},
		{"missing status", "$aws/things/t1/jobs/j1/update", `{"clientToken":"x"}`, CodeInvalidRequest},
		{"status a device may not set", "$aws/things/t1/jobs/j1/update", `{"status":"TIMED_OUT"}`, CodeInvalidRequest},
		{"unknown status", "$aws/things/t1/jobs/j1/update", `{"status":"DONE"}`, CodeInvalidRequest},
		{"nested statusDetails", "$aws/things/t1/jobs/j1/update", `{"status":"IN_PROGRESS","statusDetails":{"a":{"b":1}}}`, CodeInvalidRequest},
		{"oversized statusDetails", "$aws/things/t1/jobs/j1/update", `{"status":"IN_PROGRESS","statusDetails":{"a":"` + long + `"}}`, CodeInvalidRequest},
		{"step timeout out of range", "$aws/things/t1/jobs/start-next", `{"stepTimeoutInMinutes":0}`, CodeInvalidRequest},
		{"unknown job", "$aws/things/t1/jobs/nope/update", `{"status":"IN_PROGRESS"}`, CodeResourceNotFound},
		{"no execution on thing", "$aws/things/t2/jobs/j1/get", ``, CodeResourceNotFound},
		{"unknown execution number", "$aws/things/t1/jobs/j1/get", `{"executionNumber":7}`, CodeResourceNotFound},
		{"invalid topic", "$aws/things/t1/jobs/j1/delete", ``, CodeInvalidTopic},
		{"$next update", "$aws/things/t1/jobs/$next/update", `{"status":"IN_PROGRESS"}`, CodeInvalidTopic},
		{"not an object", "$aws/things/t1/jobs/get", `[1,2]`, CodeInvalidRequest},
		{"status not a string", "$aws/things/t1/jobs/j1/update", `{"status":3}`, CodeInvalidRequest},
		{"expectedVersion not a number", "$aws/things/t1/jobs/j1/update", `{"status":"IN_PROGRESS","expectedVersion":"two"}`, CodeInvalidRequest},
	} {
		topic, m, pubs := f.mqtt(tc.topic, tc.payload)
		if topic != tc.topic+"/rejected" || m["code"] != tc.code {
			t.Errorf("%s: %s %v, want code %s", tc.name, topic, m, tc.code)
		}
		if _, ok := m["timestamp"].(float64); !ok || m["message"] == "" {
			t.Errorf("%s: rejection without timestamp or message: %v", tc.name, m)
		}
		if len(pubs) != 0 {
			t.Errorf("%s: a rejection caused publications %v", tc.name, topics(pubs))
		}
	}
	// The clientToken is echoed in rejections.
	_, m, _ := f.mqtt("$aws/things/t1/jobs/j1/update", `{"status":"TIMED_OUT","clientToken":"tok"}`)
	if m["clientToken"] != "tok" {
		t.Fatalf("clientToken not echoed: %v", m)
	}
}

func TestThrottle(t *testing.T) {
	f := newFixture(t, newFakeDir("t1"))
	_ = f.svc.Close()
	svc, err := Open(f.path, Options{Directory: f.dir, Now: f.clk.now, DeviceRequestsPerSecond: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	var codes []string
	for i := 0; i < 3; i++ {
		r, _ := svc.HandleMQTT("$aws/things/t1/jobs/get", nil)
		codes = append(codes, r.Code)
	}
	if !slices.Equal(codes, []string{"", "", CodeRequestThrottled}) {
		t.Fatalf("codes %v", codes)
	}
	f.clk.add(time.Second)
	if r, _ := svc.HandleMQTT("$aws/things/t1/jobs/get", nil); r.Code != "" {
		t.Fatalf("next second still throttled: %s", r.Code)
	}
}

func TestNotifyOrderAndNonHeadStart(t *testing.T) {
	f := newFixture(t, newFakeDir("t1"))
	f.create(CreateJobInput{JobID: "a", Targets: []string{f.thingARN("t1")}})
	f.clk.add(time.Second)
	f.create(CreateJobInput{JobID: "b", Targets: []string{f.thingARN("t1")}})
	pubs := f.taken()
	// b's creation changes the pending set (notify) but not its head (no notify-next).
	if got := topics(pubs[2:]); !slices.Equal(got, []string{"$aws/things/t1/jobs/notify"}) {
		t.Fatalf("second job: %v", got)
	}
	var n struct {
		Jobs map[string][]map[string]any `json:"jobs"`
	}
	_ = json.Unmarshal(pubs[2].Payload, &n)
	if len(n.Jobs["QUEUED"]) != 2 || n.Jobs["QUEUED"][0]["jobId"] != "a" || n.Jobs["QUEUED"][0]["status"] != nil {
		t.Fatalf("notify: %s", pubs[2].Payload)
	}
	// Starting b (not the head) makes it the head: notify-next only.
	_, m, pubs := f.mqtt("$aws/things/t1/jobs/b/update", `{"status":"IN_PROGRESS"}`)
	if m["code"] != nil || !slices.Equal(topics(pubs), []string{"$aws/things/t1/jobs/notify-next"}) {
		t.Fatalf("start of b: %v %v", m, topics(pubs))
	}
	// start-next returns the IN_PROGRESS one unchanged.
	_, m, _ = f.mqtt("$aws/things/t1/jobs/start-next", `{}`)
	if e := m["execution"].(map[string]any); e["jobId"] != "b" || e["versionNumber"] != 2.0 {
		t.Fatalf("start-next: %v", m)
	}
}

func TestStepTimeoutRetryAndResume(t *testing.T) {
	f := newFixture(t, newFakeDir("t1"))
	f.create(CreateJobInput{JobID: "j", Targets: []string{f.thingARN("t1")},
		Retry: &RetryConfig{CriteriaList: []RetryCriteria{{FailureType: "TIMED_OUT", NumberOfRetries: 1}}}})
	_, m, _ := f.mqtt("$aws/things/t1/jobs/start-next", `{"stepTimeoutInMinutes":1}`)
	if m["execution"] == nil {
		t.Fatalf("start-next: %v", m)
	}
	// The timer survives a restart.
	_ = f.svc.Close()
	f.open()
	f.clk.add(59 * time.Second)
	f.svc.Tick()
	if e, _, _ := f.svc.DescribeExecution("j", "t1", 1); e.Status != InProgress {
		t.Fatalf("timed out early: %s", e.Status)
	}
	f.clk.add(2 * time.Second)
	f.svc.Tick()
	e, _, _ := f.svc.DescribeExecution("j", "t1", 1)
	if e.Status != TimedOut || e.VersionNumber != 3 {
		t.Fatalf("attempt 1: %+v", e)
	}
	// One retry: attempt 2 QUEUED.
	e2, _, _ := f.svc.DescribeExecution("j", "t1", 0)
	if e2.ExecutionNumber != 2 || e2.Status != Queued || e2.RetryAttempt != 1 {
		t.Fatalf("retry: %+v", e2)
	}
	// The device's old attempt cannot be updated.
	_, m, _ = f.mqtt("$aws/things/t1/jobs/j/update", `{"status":"SUCCEEDED","executionNumber":1}`)
	if m["code"] != "InvalidStateTransition" {
		t.Fatalf("update of the timed-out attempt: %v", m)
	}
	// In-progress timeout, step timer cancelled with -1.
	j := f.create(CreateJobInput{JobID: "k", Targets: []string{f.thingARN("t1")}, Timeout: &TimeoutConfig{InProgressTimeoutInMinutes: ptr[int64](2)}})
	_ = j
	_, m, _ = f.mqtt("$aws/things/t1/jobs/k/update", `{"status":"IN_PROGRESS","stepTimeoutInMinutes":1}`)
	_, m, _ = f.mqtt("$aws/things/t1/jobs/k/update", `{"status":"IN_PROGRESS","stepTimeoutInMinutes":-1}`)
	if m["code"] != nil {
		t.Fatalf("cancel step timer: %v", m)
	}
	f.clk.add(90 * time.Second)
	f.svc.Tick()
	if e, _, _ := f.svc.DescribeExecution("k", "t1", 0); e.Status != InProgress {
		t.Fatalf("the cancelled step timer fired: %s", e.Status)
	}
	f.clk.add(31 * time.Second)
	f.svc.Tick()
	if e, _, _ := f.svc.DescribeExecution("k", "t1", 0); e.Status != TimedOut {
		t.Fatalf("in-progress timeout: %s", e.Status)
	}
}

func TestRolloutRates(t *testing.T) {
	dir := newFakeDir()
	var things []string
	for i := 0; i < 25; i++ {
		things = append(things, "t"+itoa64(int64(100+i)))
	}
	dir.group("fleet", "", things...)
	f := newFixture(t, dir)
	j := f.create(CreateJobInput{JobID: "r", Targets: []string{f.groupARN("fleet")}, Rollout: &RolloutConfig{MaximumPerMinute: ptr[int64](10)}})
	queued := func(id string) int64 {
		j, err := f.svc.DescribeJob(id)
		if err != nil {
			t.Fatal(err)
		}
		return j.Counts[Queued]
	}
	if n := queued("r"); n != 10 || j.PendingCount != 15 {
		t.Fatalf("after create: %d queued", n)
	}
	f.clk.add(30 * time.Second)
	f.svc.Tick()
	if n := queued("r"); n != 10 {
		t.Fatalf("after 30 s: %d queued", n)
	}
	f.clk.add(30 * time.Second)
	f.svc.Tick()
	if n := queued("r"); n != 20 {
		t.Fatalf("after 60 s: %d queued", n)
	}
	f.clk.add(time.Minute)
	if next := f.svc.Tick(); !next.IsZero() {
		t.Fatalf("nothing pending, yet next due %v", next)
	}
	if n := queued("r"); n != 25 {
		t.Fatalf("after 120 s: %d queued", n)
	}
	// Exponential: 2/min, x2 after every 2 notified -> 2, 4, 8.
	f.create(CreateJobInput{JobID: "x", Targets: []string{f.groupARN("fleet")}, Rollout: &RolloutConfig{ExponentialRate: &ExponentialRate{
		BaseRatePerMinute: 2, IncrementFactor: 2, RateIncreaseCriteria: RateIncreaseCriteria{NumberOfNotifiedThings: ptr[int64](2)}}}})
	var got []int64
	got = append(got, queued("x"))
	for i := 0; i < 3; i++ {
		f.clk.add(time.Minute)
		f.svc.Tick()
		got = append(got, queued("x"))
	}
	if !slices.Equal(got, []int64{2, 6, 14, 25}) {
		t.Fatalf("exponential rollout: %v", got)
	}
	// By things succeeded: the rate doubles only once 2 executions succeeded.
	f.create(CreateJobInput{JobID: "s", Targets: []string{f.groupARN("fleet")}, Rollout: &RolloutConfig{ExponentialRate: &ExponentialRate{
		BaseRatePerMinute: 2, IncrementFactor: 2, RateIncreaseCriteria: RateIncreaseCriteria{NumberOfSucceededThings: ptr[int64](2)}}}})
	notified := func() int64 {
		j, _ := f.svc.DescribeJob("s")
		return j.Counts[Queued] + j.Counts[Succeeded]
	}
	f.clk.add(time.Minute)
	f.svc.Tick()
	if n := notified(); n != 4 {
		t.Fatalf("nothing succeeded, yet %d notified after a minute", n)
	}
	list, _, _ := f.svc.ListExecutionsForJob("s", "QUEUED", "", 2)
	for _, e := range list {
		if _, m, _ := f.mqtt("$aws/things/"+e.ThingName+"/jobs/s/update", `{"status":"SUCCEEDED"}`); m["code"] != nil {
			t.Fatal(m)
		}
	}
	f.clk.add(time.Minute)
	f.svc.Tick()
	if n := notified(); n != 8 {
		t.Fatalf("after 2 succeeded: %d notified, want 4 + 4", n)
	}
}

func TestContinuousJobFollowsGroups(t *testing.T) {
	dir := newFakeDir()
	dir.group("root", "", "a")
	dir.group("child", "root")
	f := newFixture(t, dir)
	f.create(CreateJobInput{JobID: "c", Targets: []string{f.groupARN("root")}, TargetSelection: Continuous})
	f.taken()
	dir.group("child", "root", "b") // b joins a group below the target
	f.svc.OnMembership("b", "child", true)
	if got := topics(f.taken()); !slices.Equal(got, []string{"$aws/things/b/jobs/notify", "$aws/things/b/jobs/notify-next"}) {
		t.Fatalf("b joined: %v", got)
	}
	if e, _, err := f.svc.DescribeExecution("c", "b", 0); err != nil || e.Status != Queued {
		t.Fatalf("b's execution: %+v %v", e, err)
	}
	dir.mu.Lock()
	dir.members["child"] = nil
	dir.mu.Unlock()
	f.svc.OnMembership("b", "child", false)
	if e, _, _ := f.svc.DescribeExecution("c", "b", 0); e.Status != Removed {
		t.Fatalf("b left: %s", e.Status)
	}
	if j, _ := f.svc.DescribeJob("c"); j.Status != JobInProgress {
		t.Fatalf("a continuous job completed: %s", j.Status)
	}
}

func TestCancelDeleteAbort(t *testing.T) {
	dir := newFakeDir("t1", "t2", "t3")
	dir.events["JOB"], dir.events["JOB_EXECUTION"] = true, true
	f := newFixture(t, dir)
	all := []string{f.thingARN("t1"), f.thingARN("t2"), f.thingARN("t3")}
	f.create(CreateJobInput{JobID: "c", Targets: all})
	f.mqtt("$aws/things/t1/jobs/c/update", `{"status":"IN_PROGRESS"}`)
	if _, err := f.svc.CancelJob("c", false, "bad code", ""); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("bad reasonCode: %v", err)
	}
	f.taken()
	if _, err := f.svc.CancelJob("c", false, "OOPS", "because"); err != nil {
		t.Fatal(err)
	}
	if e, _, _ := f.svc.DescribeExecution("c", "t1", 0); e.Status != InProgress {
		t.Fatalf("cancel without force ended IN_PROGRESS: %s", e.Status)
	}
	if e, _, _ := f.svc.DescribeExecution("c", "t2", 0); e.Status != Canceled {
		t.Fatalf("queued: %s", e.Status)
	}
	pubs := topics(f.taken())
	if !slices.Contains(pubs, "$aws/events/job/c/canceled") || !slices.Contains(pubs, "$aws/events/jobExecution/c/canceled") {
		t.Fatalf("events: %v", pubs)
	}
	if _, err := f.svc.CancelJob("c", true, "", ""); err != nil {
		t.Fatal(err)
	}
	if e, _, _ := f.svc.DescribeExecution("c", "t1", 0); e.Status != Canceled || !e.ForceCanceled {
		t.Fatalf("force: %+v", e)
	}
	_, m, _ := f.mqtt("$aws/things/t1/jobs/c/update", `{"status":"SUCCEEDED"}`)
	if m["code"] != "InvalidStateTransition" {
		t.Fatalf("update after force cancel: %v", m)
	}
	// Delete: non-terminal jobs need force.
	f.create(CreateJobInput{JobID: "d", Targets: all})
	if err := f.svc.DeleteJob("d", false); !errors.Is(err, ErrInvalidStateTransition) {
		t.Fatalf("delete without force: %v", err)
	}
	if err := f.svc.DeleteJob("d", true); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.DescribeJob("d"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted job: %v", err)
	}
	if _, err := f.svc.CreateJob(CreateJobInput{JobID: "c", Targets: all, Document: `{}`}); !errors.Is(err, ErrAlreadyExists) {
		t.Fatalf("duplicate: %v", err)
	}
	// Abort: 2 of 2 executed failed (100% >= 50%) cancels the rest.
	f.create(CreateJobInput{JobID: "a", Targets: all, Abort: &AbortConfig{CriteriaList: []AbortCriteria{{FailureType: "FAILED", Action: "CANCEL", ThresholdPercentage: 50, MinNumberOfExecutedThings: 2}}}})
	f.mqtt("$aws/things/t1/jobs/a/update", `{"status":"FAILED"}`)
	if j, _ := f.svc.DescribeJob("a"); j.Status != JobInProgress {
		t.Fatalf("aborted after one: %s", j.Status)
	}
	f.mqtt("$aws/things/t2/jobs/a/update", `{"status":"FAILED"}`)
	if j, _ := f.svc.DescribeJob("a"); j.Status != JobCanceled || j.ProcessDetails().NumberOfCanceledThings != 1 {
		t.Fatalf("abort: %+v", j)
	}
	// CancelJobExecution: version conflict, force rule.
	f.create(CreateJobInput{JobID: "e", Targets: all})
	f.mqtt("$aws/things/t1/jobs/e/update", `{"status":"IN_PROGRESS"}`)
	if err := f.svc.CancelExecution(CancelExecutionInput{JobID: "e", Thing: "t1", ExpectedVersion: ptr[int64](1)}); !errors.Is(err, ErrVersionConflict) {
		t.Fatalf("version: %v", err)
	}
	if err := f.svc.CancelExecution(CancelExecutionInput{JobID: "e", Thing: "t1"}); !errors.Is(err, ErrInvalidStateTransition) {
		t.Fatalf("no force: %v", err)
	}
	if err := f.svc.CancelExecution(CancelExecutionInput{JobID: "e", Thing: "t1", Force: true}); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.DeleteExecution("e", "t2", 1, false); !errors.Is(err, ErrInvalidStateTransition) {
		t.Fatalf("delete queued without force: %v", err)
	}
	if err := f.svc.DeleteExecution("e", "t1", 1, false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.DescribeExecution("e", "t1", 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted execution: %v", err)
	}
}

func TestSchedulingAndTemplates(t *testing.T) {
	f := newFixture(t, newFakeDir("t1"))
	start := f.clk.now().Add(40 * time.Minute).Format("2006-01-02T15:04")
	end := f.clk.now().Add(100 * time.Minute).Format("2006-01-02T15:04")
	j := f.create(CreateJobInput{JobID: "s", Targets: []string{f.thingARN("t1")}, Scheduling: &SchedulingConfig{StartTime: start, EndTime: end, EndBehavior: "CANCEL"}})
	if j.Status != JobScheduled {
		t.Fatalf("status %s", j.Status)
	}
	f.clk.add(41 * time.Minute)
	f.svc.Tick()
	if e, _, err := f.svc.DescribeExecution("s", "t1", 0); err != nil || e.Status != Queued {
		t.Fatalf("after start: %+v %v", e, err)
	}
	f.clk.add(time.Hour)
	f.svc.Tick()
	if j, _ := f.svc.DescribeJob("s"); j.Status != JobCanceled {
		t.Fatalf("after end: %s", j.Status)
	}
	// Templates, with parameters.
	if _, err := f.svc.CreateTemplate(CreateTemplateInput{JobTemplateID: "tpl", Description: "d", Document: `{"user":"${aws:iot:parameter:runAsUser}"}`,
		Timeout: &TimeoutConfig{InProgressTimeoutInMinutes: ptr[int64](5)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CreateTemplate(CreateTemplateInput{JobTemplateID: "tpl", Description: "d", Document: `{}`}); !errors.Is(err, ErrConflict) {
		t.Fatalf("duplicate template: %v", err)
	}
	j = f.create(CreateJobInput{JobID: "fromtpl", Targets: []string{f.thingARN("t1")}, JobTemplateARN: f.svc.TemplateARN("tpl"), DocumentParameters: map[string]string{"runAsUser": "root"}})
	if j.Document != `{"user":"root"}` || j.RawDocument != `{"user":"${aws:iot:parameter:runAsUser}"}` || j.Timeout == nil {
		t.Fatalf("job from template: %+v", j)
	}
	if list, _, _ := f.svc.ListTemplates("", 0); len(list) != 1 {
		t.Fatalf("templates: %d", len(list))
	}
	if err := f.svc.DeleteTemplate("tpl"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.DescribeTemplate("tpl"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted template: %v", err)
	}
}

func TestCreateJobValidation(t *testing.T) {
	f := newFixture(t, newFakeDir("t1"))
	good := []string{f.thingARN("t1")}
	for _, tc := range []struct {
		name string
		in   CreateJobInput
		kind error
	}{
		{"bad id", CreateJobInput{JobID: "a b", Targets: good, Document: `{}`}, ErrInvalidRequest},
		{"no targets", CreateJobInput{JobID: "a", Document: `{}`}, ErrInvalidRequest},
		{"unknown thing", CreateJobInput{JobID: "a", Targets: []string{f.thingARN("zz")}, Document: `{}`}, ErrNotFound},
		{"foreign ARN", CreateJobInput{JobID: "a", Targets: []string{"arn:aws:iot:eu-west-1:1:thing/t1"}, Document: `{}`}, ErrInvalidRequest},
		{"no document", CreateJobInput{JobID: "a", Targets: good}, ErrInvalidRequest},
		{"document not JSON", CreateJobInput{JobID: "a", Targets: good, Document: `{`}, ErrInvalidRequest},
		{"document too long", CreateJobInput{JobID: "a", Targets: good, Document: `{"a":"` + strings.Repeat("x", 32768) + `"}`}, ErrInvalidRequest},
		{"bad selection", CreateJobInput{JobID: "a", Targets: good, Document: `{}`, TargetSelection: "SOMETIMES"}, ErrInvalidRequest},
		{"bad rate", CreateJobInput{JobID: "a", Targets: good, Document: `{}`, Rollout: &RolloutConfig{MaximumPerMinute: ptr[int64](0)}}, ErrInvalidRequest},
		{"bad timeout", CreateJobInput{JobID: "a", Targets: good, Document: `{}`, Timeout: &TimeoutConfig{InProgressTimeoutInMinutes: ptr[int64](10081)}}, ErrInvalidRequest},
		{"bad retry", CreateJobInput{JobID: "a", Targets: good, Document: `{}`, Retry: &RetryConfig{CriteriaList: []RetryCriteria{{FailureType: "REJECTED", NumberOfRetries: 1}}}}, ErrInvalidRequest},
		{"bad abort", CreateJobInput{JobID: "a", Targets: good, Document: `{}`, Abort: &AbortConfig{CriteriaList: []AbortCriteria{{FailureType: "ALL", Action: "STOP", ThresholdPercentage: 10, MinNumberOfExecutedThings: 1}}}}, ErrInvalidRequest},
		{"bad schedule", CreateJobInput{JobID: "a", Targets: good, Document: `{}`, Scheduling: &SchedulingConfig{StartTime: "tomorrow"}}, ErrInvalidRequest},
		{"missing parameter", CreateJobInput{JobID: "a", Targets: good, Document: `{"u":"${aws:iot:parameter:x}"}`}, ErrInvalidRequest},
		{"documentSource without S3", CreateJobInput{JobID: "a", Targets: good, DocumentSource: "https://s3.amazonaws.com/b/k"}, ErrInvalidRequest},
	} {
		_, err := f.svc.CreateJob(tc.in)
		if !errors.Is(err, tc.kind) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.kind)
		}
	}
	if list, _, _ := f.svc.ListJobs(ListJobsInput{}); len(list) != 0 {
		t.Fatalf("refused creations left %d jobs", len(list))
	}
}

type fakePresigner struct{}

func (fakePresigner) Presign(u string, exp time.Duration, now time.Time) (string, bool) {
	return "http://127.0.0.1:9/signed?src=" + u + "&exp=" + exp.String(), true
}

func TestPresignedPlaceholder(t *testing.T) {
	f := newFixture(t, newFakeDir("t1"))
	f.svc.pre = fakePresigner{}
	f.create(CreateJobInput{JobID: "p", Targets: []string{f.thingARN("t1")}, Document: `{"url":"${aws:iot:s3-presigned-url:https://s3.amazonaws.com/b/k}"}`,
		PresignedURLConfig: &PresignedURLConfig{RoleARN: "arn:aws:iam::123456789012:role/r", ExpiresInSec: ptr[int64](120)}})
	_, m, _ := f.mqtt("$aws/things/t1/jobs/p/get", ``)
	doc := m["execution"].(map[string]any)["jobDocument"].(map[string]any)
	if doc["url"] != "http://127.0.0.1:9/signed?src=https://s3.amazonaws.com/b/k&exp=2m0s" {
		t.Fatalf("presigned: %v", doc)
	}
	// Without an endpoint the placeholder stays as text.
	f.svc.pre = NewEnvPresigner(f.svc.log)
	if p, ok := f.svc.pre.(*envPresigner); ok && p.endpoint == "" {
		_, m, _ = f.mqtt("$aws/things/t1/jobs/p/get", ``)
		doc = m["execution"].(map[string]any)["jobDocument"].(map[string]any)
		if doc["url"] != "${aws:iot:s3-presigned-url:https://s3.amazonaws.com/b/k}" {
			t.Fatalf("placeholder: %v", doc)
		}
	}
}

func TestInternalError(t *testing.T) {
	f := newFixture(t, newFakeDir("t1"))
	f.create(CreateJobInput{JobID: "j", Targets: []string{f.thingARN("t1")}})
	_ = f.svc.db.Close() // the store fails from now on
	for _, topic := range []string{"$aws/things/t1/jobs/get", "$aws/things/t1/jobs/start-next", "$aws/things/t1/jobs/j/get"} {
		if _, m, _ := f.mqtt(topic, `{"clientToken":"x"}`); m["code"] != CodeInternalError || m["clientToken"] != "x" {
			t.Errorf("%s: %v", topic, m)
		}
	}
	if _, m, _ := f.mqtt("$aws/things/t1/jobs/j/update", `{"status":"SUCCEEDED"}`); m["code"] != CodeInternalError {
		t.Errorf("update: %v", m)
	}
}

func TestAssociateTargets(t *testing.T) {
	dir := newFakeDir("a", "b")
	dir.group("g", "", "c")
	f := newFixture(t, dir)
	f.create(CreateJobInput{JobID: "snap", Targets: []string{f.thingARN("a")}})
	if _, err := f.svc.AssociateTargets("snap", []string{f.thingARN("b")}, ""); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("snapshot job: %v", err)
	}
	f.create(CreateJobInput{JobID: "c", Targets: []string{f.thingARN("a")}, TargetSelection: Continuous})
	if _, err := f.svc.AssociateTargets("c", []string{f.thingARN("zz")}, ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown target: %v", err)
	}
	j, err := f.svc.AssociateTargets("c", []string{f.thingARN("a"), f.groupARN("g")}, "more")
	if err != nil || len(j.Targets) != 2 || j.Comment != "more" {
		t.Fatalf("associate: %+v %v", j, err)
	}
	for _, thing := range []string{"a", "c"} {
		if e, _, err := f.svc.DescribeExecution("c", thing, 0); err != nil || e.Status != Queued || e.ExecutionNumber != 1 {
			t.Fatalf("%s: %+v %v", thing, e, err)
		}
	}
	var many []string
	for i := 0; i < 100; i++ {
		many = append(many, f.thingARN("b"))
	}
	many = append(many, f.groupARN("g"))
	for i := 0; i < 99; i++ {
		dir.group(fmt.Sprintf("x%d", i), "")
		many = append(many, f.groupARN(fmt.Sprintf("x%d", i)))
	}
	if _, err := f.svc.AssociateTargets("c", many, ""); !errors.Is(err, ErrLimitExceeded) {
		t.Fatalf("over 100 targets: %v", err)
	}
}

// TestTimersResumeOnStart: a step timer that fell due while the service was closed fires as soon
// as the reopened service's timers start, without anyone calling Tick.
func TestTimersResumeOnStart(t *testing.T) {
	f := newFixture(t, newFakeDir("t1"))
	f.create(CreateJobInput{JobID: "j", Targets: []string{f.thingARN("t1")}})
	f.mqtt("$aws/things/t1/jobs/start-next", `{"stepTimeoutInMinutes":1}`)
	_ = f.svc.Close()
	f.taken()
	f.clk.add(2 * time.Minute)
	f.open()
	f.svc.Start()
	deadline := time.Now().Add(10 * time.Second)
	for {
		e, _, err := f.svc.DescribeExecution("j", "t1", 0)
		if err != nil {
			t.Fatal(err)
		}
		if e.Status == TimedOut {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %s after the timers started", e.Status)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := topics(f.taken()); !slices.Contains(got, "$aws/things/t1/jobs/notify-next") {
		t.Fatalf("the timeout published %v", got)
	}
}

func TestThingDeletedRemovesPendingExecutions(t *testing.T) {
	f := newFixture(t, newFakeDir("t1", "t2"))
	f.create(CreateJobInput{JobID: "a", Targets: []string{f.thingARN("t1"), f.thingARN("t2")}})
	f.create(CreateJobInput{JobID: "b", Targets: []string{f.thingARN("t1")}})
	f.mqtt("$aws/things/t1/jobs/a/update", `{"status":"IN_PROGRESS"}`)
	f.mqtt("$aws/things/t2/jobs/a/update", `{"status":"SUCCEEDED"}`)
	f.taken()
	f.svc.OnThingDeleted("t1")
	for _, id := range []string{"a", "b"} {
		if e, _, _ := f.svc.DescribeExecution(id, "t1", 0); e.Status != Removed {
			t.Fatalf("%s on t1: %s", id, e.Status)
		}
	}
	if j, _ := f.svc.DescribeJob("a"); j.Status != JobCompleted || j.ProcessDetails().NumberOfRemovedThings != 1 {
		t.Fatalf("job a: %+v", j.ProcessDetails())
	}
	if got := topics(f.taken()); !slices.Equal(got, []string{"$aws/things/t1/jobs/notify", "$aws/things/t1/jobs/notify-next"}) {
		t.Fatalf("publications: %v", got)
	}
	f.svc.OnThingDeleted("t2") // nothing pending: nothing changes
	if e, _, _ := f.svc.DescribeExecution("a", "t2", 0); e.Status != Succeeded {
		t.Fatalf("t2: %s", e.Status)
	}
}
