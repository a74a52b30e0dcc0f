package jobs

import (
	"testing"
	"time"
)

func TestDeviceTransitions(t *testing.T) {
	for _, tc := range []struct {
		from, to ExecStatus
		ok       bool
	}{
		{Queued, InProgress, true},
		{Queued, Succeeded, true},
		{Queued, Failed, true},
		{Queued, Rejected, true},
		{InProgress, InProgress, true},
		{InProgress, Succeeded, true},
		{InProgress, Failed, true},
		{InProgress, Rejected, true},
		{Queued, TimedOut, false},
		{InProgress, Canceled, false},
		{InProgress, Removed, false},
		{Queued, Queued, false},
		{Succeeded, InProgress, false},
		{Failed, Succeeded, false},
		{Canceled, InProgress, false},
		{TimedOut, Succeeded, false},
		{Rejected, Rejected, false},
		{Removed, InProgress, false},
	} {
		if got := deviceTransition(tc.from, tc.to); got != tc.ok {
			t.Errorf("device %s -> %s: got %v, want %v", tc.from, tc.to, got, tc.ok)
		}
	}
}

func TestCancelTransitions(t *testing.T) {
	for _, tc := range []struct {
		from  ExecStatus
		force bool
		ok    bool
	}{
		{Queued, false, true}, {Queued, true, true},
		{InProgress, false, false}, {InProgress, true, true},
		{Succeeded, true, false}, {Failed, true, false}, {Canceled, true, false}, {TimedOut, false, false},
	} {
		if got := cancelTransition(tc.from, tc.force); got != tc.ok {
			t.Errorf("cancel %s force=%v: got %v, want %v", tc.from, tc.force, got, tc.ok)
		}
	}
}

func TestTerminal(t *testing.T) {
	for _, s := range ExecStatuses {
		want := s != Queued && s != InProgress
		if s.Terminal() != want {
			t.Errorf("%s.Terminal() = %v", s, s.Terminal())
		}
	}
}

func TestRetriesAllowed(t *testing.T) {
	cfg := &RetryConfig{CriteriaList: []RetryCriteria{{FailureType: "FAILED", NumberOfRetries: 2}, {FailureType: "ALL", NumberOfRetries: 1}}}
	for _, tc := range []struct {
		cfg    *RetryConfig
		status ExecStatus
		want   int64
	}{
		{nil, Failed, 0},
		{cfg, Failed, 2},
		{cfg, TimedOut, 1},
		{cfg, Rejected, 0},
		{cfg, Succeeded, 0},
		{&RetryConfig{CriteriaList: []RetryCriteria{{FailureType: "TIMED_OUT", NumberOfRetries: 3}}}, Failed, 0},
	} {
		if got := retriesAllowed(tc.cfg, tc.status); got != tc.want {
			t.Errorf("retriesAllowed(%v, %s) = %d, want %d", tc.cfg, tc.status, got, tc.want)
		}
	}
}

func TestFailureCounts(t *testing.T) {
	for _, tc := range []struct {
		status ExecStatus
		typ    string
		want   bool
	}{
		{Failed, "ALL", true}, {Rejected, "ALL", true}, {TimedOut, "ALL", true}, {Succeeded, "ALL", false},
		{Failed, "FAILED", true}, {Rejected, "FAILED", false}, {Rejected, "REJECTED", true}, {TimedOut, "TIMED_OUT", true},
		{Canceled, "ALL", false},
	} {
		if got := failureCounts(tc.status, tc.typ); got != tc.want {
			t.Errorf("failureCounts(%s, %s) = %v", tc.status, tc.typ, got)
		}
	}
}

func TestCheckStatusDetails(t *testing.T) {
	big := make(map[string]string)
	for i := 0; i < 11; i++ {
		big[string(rune('a'+i))] = "v"
	}
	long := make([]byte, 1025)
	for i := range long {
		long[i] = 'x'
	}
	for _, tc := range []struct {
		name string
		in   map[string]string
		ok   bool
	}{
		{"nil", nil, true},
		{"ten pairs", map[string]string{"a": "1", "b": "2", "c": "3", "d": "4", "e": "5", "f": "6", "g": "7", "h": "8", "i": "9", "j": "10"}, true},
		{"eleven pairs", big, false},
		{"bad key", map[string]string{"a b": "1"}, false},
		{"empty value", map[string]string{"a": ""}, false},
		{"1024 chars", map[string]string{"a": string(long[:1024])}, true},
		{"1025 chars", map[string]string{"a": string(long)}, false},
		{"control char", map[string]string{"a": "x\x01"}, false},
	} {
		if got := CheckStatusDetails(tc.in) == ""; got != tc.ok {
			t.Errorf("%s: ok=%v, want %v (%s)", tc.name, got, tc.ok, CheckStatusDetails(tc.in))
		}
	}
}

func TestIsRequestTopic(t *testing.T) {
	for _, tc := range []struct {
		topic string
		want  bool
	}{
		{"$aws/things/t1/jobs/get", true},
		{"$aws/things/t1/jobs/start-next", true},
		{"$aws/things/t1/jobs/j1/get", true},
		{"$aws/things/t1/jobs/j1/update", true},
		{"$aws/things/t1/jobs/$next/get", true},
		{"$aws/things/t1/jobs/bogus", true}, // answered InvalidTopic
		{"$aws/things/t1/jobs/notify", false},
		{"$aws/things/t1/jobs/notify-next", false},
		{"$aws/things/t1/jobs/get/accepted", false},
		{"$aws/things/t1/jobs/j1/update/rejected", false},
		{"$aws/things/t1/shadow/get", false},
		{"a/b", false},
	} {
		if got := IsRequestTopic(tc.topic); got != tc.want {
			t.Errorf("IsRequestTopic(%q) = %v", tc.topic, got)
		}
	}
}

func TestSubstituteParameters(t *testing.T) {
	out, e := substituteParameters(`{"user":"${aws:iot:parameter:runAsUser}","q":"${aws:iot:parameter:q}"}`, map[string]string{"runAsUser": "root", "q": `a"b`})
	if e != nil || out != `{"user":"root","q":"a\"b"}` {
		t.Fatalf("got %s, %v", out, e)
	}
	if _, e := substituteParameters(`{"u":"${aws:iot:parameter:missing}"}`, nil); e == nil {
		t.Fatal("a placeholder without a value was accepted")
	}
}

func TestBucketAndKey(t *testing.T) {
	for _, tc := range []struct{ url, bucket, key string }{
		{"https://s3.us-east-1.amazonaws.com/b1/path/to/k", "b1", "path/to/k"},
		{"https://b2.s3.amazonaws.com/k2", "b2", "k2"},
		{"https://b3.s3.eu-west-1.amazonaws.com/a/b", "b3", "a/b"},
		{"s3://b4/k4", "b4", "k4"},
	} {
		b, k, ok := bucketAndKey(tc.url)
		if !ok || b != tc.bucket || k != tc.key {
			t.Errorf("%s: got %q %q %v", tc.url, b, k, ok)
		}
	}
	if _, _, ok := bucketAndKey("https://example.com/x"); ok {
		t.Error("a non-S3 URL was taken for an S3 object")
	}
}

func TestTimerSetKeepsOneTimerPerExecution(t *testing.T) {
	var ts timerSet
	base := time.Unix(1000, 0)
	for i := 0; i < 1000; i++ { // a device renewing its step timer again and again
		ts.arm(deadline{at: base.Add(time.Duration(i) * time.Second), job: "j", thing: "t", number: 1})
	}
	if ts.h.Len() != 1 || !ts.next().Equal(base) {
		t.Fatalf("%d timers armed, next %v", ts.h.Len(), ts.next())
	}
	if !ts.arm(deadline{at: base.Add(-time.Second), job: "j", thing: "t", number: 1}) {
		t.Fatal("an earlier timer was not armed")
	}
	ts.arm(deadline{at: base.Add(5 * time.Second), job: "k", thing: "t", number: 1})
	if got := ts.due(base); len(got) != 2 {
		t.Fatalf("due: %v", got)
	}
	if got := ts.due(base.Add(10 * time.Second)); len(got) != 1 || got[0].job != "k" {
		t.Fatalf("due later: %v", got)
	}
	if !ts.next().IsZero() || len(ts.armed) != 0 {
		t.Fatalf("left: %v %v", ts.next(), ts.armed)
	}
}
