package bench

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/iotcore-local/iotcore-local/shadow"
)

// The shadow scenario tests run it at a tiny size against the in-process emulator and check
// that every update is accounted for exactly once, and that the versions the emulator's shadow
// service holds afterwards agree with the accepted answers. They never assert a speed.

func TestShadowClosedLoop(t *testing.T) {
	tg := emulatorTarget(t, false)
	before := shadowVersions(t, tg, 1, "")
	var progress bytes.Buffer // written by the progress goroutine, which RunShadow stops before returning
	res, err := RunShadow(testContext(t), ShadowConfig{Target: tg, Devices: 1, QoS: 1, Duration: 1200 * time.Millisecond,
		Progress: &progress, Logger: testLogger(t)})
	must(t, err)
	checkShadow(t, res, before, "")
	if res.Acked != res.Sent {
		t.Errorf("QoS 1: %d PUBACKs for %d updates", res.Acked, res.Sent)
	}
	if res.Inflight != 1 || res.RatePerDevice != 0 {
		t.Errorf("closed loop reported as inflight %d, rate %g", res.Inflight, res.RatePerDevice)
	}
	if !strings.Contains(progress.String(), "bench shadow") {
		t.Errorf("no progress line in a run over a second: %q", progress.String())
	}
	checkTable(t, &Report{Scenario: "shadow", Shadow: res}, "update→accepted", "closed loop", "strictly increasing")
}

func TestShadowRateNamedQoS0(t *testing.T) {
	tg := emulatorTarget(t, true)
	const name = "bench-test"
	before := shadowVersions(t, tg, 3, name)
	res, err := RunShadow(testContext(t), ShadowConfig{Target: tg, Devices: 3, ShadowName: name, QoS: 0,
		Rate: 40, Inflight: 4, Duration: time.Second, Updates: 30, Logger: testLogger(t)})
	must(t, err)
	checkShadow(t, res, before, name)
	if res.Acked != 0 {
		t.Errorf("QoS 0 run counts %d PUBACKs", res.Acked)
	}
	if res.Sent > 3*30 {
		t.Errorf("sent %d, more than 3 devices × 30 updates", res.Sent)
	}
	checkTable(t, &Report{Scenario: "shadow", Shadow: res}, `named shadow "bench-test"`, "40 updates/s each")
}

// checkShadow checks the identities of a run of valid updates against the emulator: each one
// answered exactly once, all accepted in time, versions consecutive per device, and each
// device's shadow version moved by exactly its accepted updates.
func checkShadow(t *testing.T, r *ShadowResult, before []int64, name string) {
	t.Helper()
	if r.Sent == 0 {
		t.Fatal("no update sent")
	}
	if r.Accepted+r.Rejected+r.TimedOut != r.Sent {
		t.Errorf("accepted %d + rejected %d + timed out %d ≠ sent %d", r.Accepted, r.Rejected, r.TimedOut, r.Sent)
	}
	if r.Rejected != 0 || len(r.RejectedByCode) != 0 || r.TimedOut != 0 || r.Late != 0 || r.Duplicates != 0 || r.Unexpected != 0 {
		t.Errorf("valid updates: rejected %d %v %v, timed out %d, late %d, duplicates %d, unexpected %d",
			r.Rejected, r.RejectedByCode, r.RejectedMessages, r.TimedOut, r.Late, r.Duplicates, r.Unexpected)
	}
	if r.VersionRegressions != 0 || r.VersionsNotSeen != 0 {
		t.Errorf("versions: %d regressions, %d not seen", r.VersionRegressions, r.VersionsNotSeen)
	}
	if r.Latency.Count != r.Accepted || r.Latency.MaxMs < r.Latency.P99Ms || r.Latency.P99Ms < r.Latency.P50Ms {
		t.Errorf("latency inconsistent with %d accepted: %+v", r.Accepted, r.Latency)
	}
	if r.RejectedLatency != nil {
		t.Errorf("rejected latency without rejections: %+v", r.RejectedLatency)
	}
	if r.Connect.Succeeded != r.Devices || len(r.Disconnects) > 0 {
		t.Errorf("connections: %+v, disconnects %v", r.Connect, r.Disconnects)
	}
	after := shadowVersions(t, emulatorTarget(t, false), r.Devices, name)
	var moved uint64
	for i := range after {
		if after[i] <= before[i] {
			t.Errorf("device %d: shadow version %d after the run, %d before", i, after[i], before[i])
		}
		moved += uint64(after[i] - before[i])
	}
	if moved != r.Accepted {
		t.Errorf("shadow versions moved by %d in all, %d updates accepted", moved, r.Accepted)
	}
}

// shadowVersions reads the current version of the first n devices' shadows from the
// emulator's shadow service (0 for a shadow that does not exist yet).
func shadowVersions(t *testing.T, tg Target, n int, name string) []int64 {
	t.Helper()
	emu, _ := testEmulator(t)
	out := make([]int64, n)
	for i := range out {
		res := emu.Shadows().Get(shadow.Key{Thing: tg.Devices[i].ClientID, Name: name}, nil)
		if res.Status == http.StatusNotFound {
			continue
		}
		var doc struct {
			Version int64 `json:"version"`
		}
		if res.Status != http.StatusOK || json.Unmarshal(res.Body, &doc) != nil {
			t.Fatalf("get shadow of %s: %d %s", tg.Devices[i].ClientID, res.Status, res.Body)
		}
		out[i] = doc.Version
	}
	return out
}

// TestShadowAnswerAccounting feeds one device answers of every kind and checks where each is
// counted: in time or late, accepted or rejected by code, duplicate, or not this run's.
func TestShadowAnswerAccounting(t *testing.T) {
	d := newShadowDevice(0, "thing", "", 0xabcdef01)
	if d.updateTopic != "$aws/things/thing/shadow/update" || d.tokenPrefix != "abcdef01-0-" {
		t.Fatalf("topic %q, token prefix %q", d.updateTopic, d.tokenPrefix)
	}
	if n := newShadowDevice(1, "thing", "cfg", 1); n.acceptedTopic != "$aws/things/thing/shadow/name/cfg/update/accepted" {
		t.Fatalf("named shadow topic %q", n.acceptedTopic)
	}
	var req map[string]any
	if err := json.Unmarshal(d.appendUpdate(nil, 7), &req); err != nil || req["clientToken"] != "abcdef01-0-7" {
		t.Fatalf("update request %v (%v)", req, err)
	}
	t0 := now()
	for seq := range uint64(6) {
		d.pending[seq] = t0
	}
	d.next = 6
	answer := func(topic, doc string) {
		d.onAnswer(publishPacket{topic: []byte(topic), qos: 1, payload: []byte(doc)})
	}
	acc, rej := d.acceptedTopic, d.rejectedTopic
	answer(acc, `{"state":{"reported":{"seq":0}},"version":5,"clientToken":"abcdef01-0-0"}`)
	answer(rej, `{"code":409,"message":"Version conflict","clientToken":"abcdef01-0-1"}`)
	answer(rej, `{"code":409,"message":"Version conflict","clientToken":"abcdef01-0-1"}`) // duplicate
	answer(acc, `{"version":9,"clientToken":"abcdef01-0-99"}`)                            // never sent
	answer(acc, `{"version":9,"clientToken":"12345678-0-2"}`)                             // another run
	answer(acc, `{"version":9}`)                                                          // no token
	answer("$aws/things/thing/shadow/update/delta", `{"version":9,"clientToken":"abcdef01-0-2"}`)
	answer(acc, `not json`)

	d.mu.Lock()
	oldest, ok := d.expireLocked(t0+int64(time.Second), int64(time.Second)) // 2, 3, 4, 5 time out
	pending := len(d.pending)
	d.mu.Unlock()
	if ok || oldest != 0 || pending != 0 || d.timedOut != 4 {
		t.Fatalf("after expiry: oldest %d (%v), %d pending, %d timed out", oldest, ok, pending, d.timedOut)
	}
	answer(acc, `{"version":7,"clientToken":"abcdef01-0-2"}`) // late, and version 6 never seen
	answer(acc, `{"version":7,"clientToken":"abcdef01-0-3"}`) // late, version not above 7

	got := map[string]uint64{
		"accepted": d.accepted.Load(), "rejected": d.rejected.Load(), "late": d.late, "dups": d.dups,
		"foreign": d.foreign, "regressions": d.regressions, "notSeen": d.notSeen, "409": uint64(d.byCode[409]),
	}
	want := map[string]uint64{
		"accepted": 1, "rejected": 1, "late": 2, "dups": 1, "foreign": 5, "regressions": 1, "notSeen": 1, "409": 1,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %d, want %d (all: %v)", k, got[k], v, got)
		}
	}
	if d.lat.Count() != 1 || d.rejLat.Count() != 1 || d.messages[409] != "Version conflict" {
		t.Errorf("latencies %d/%d, message %q", d.lat.Count(), d.rejLat.Count(), d.messages[409])
	}
	if d.accepted.Load()+d.rejected.Load()+d.timedOut != d.next {
		t.Errorf("accepted + rejected + timed out ≠ %d sent", d.next)
	}
}

func TestShadowRefusesBadConfig(t *testing.T) {
	tg := emulatorTarget(t, false)
	for _, cfg := range []ShadowConfig{
		{Target: tg, Devices: 1, QoS: 2, Updates: 1},
		{Target: tg, Devices: 1, ShadowName: "a/b", Updates: 1},
		{Target: tg, Devices: 1, ShadowName: strings.Repeat("x", 65), Updates: 1},
		{Target: tg, Devices: 1},
		{Target: tg, Devices: 0, Updates: 1},
		{Target: tg, Devices: 1, Rate: -1, Updates: 1},
		{Target: tg, Devices: fleetSize + 1, Updates: 1},
	} {
		if _, err := RunShadow(testContext(t), cfg); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
	for _, ok := range []string{"a", "config", "$x:y_z-1", strings.Repeat("x", 64)} {
		if !ValidShadowName(ok) {
			t.Errorf("%q refused", ok)
		}
	}
}

// TestBenchPolicyUpgrade: a policy holding the bench policy of an earlier version is given the
// current document as its default version; a policy someone else wrote is left alone.
func TestBenchPolicyUpgrade(t *testing.T) {
	emu, _ := testEmulator(t)
	ctx := testContext(t)
	api := &apiClient{base: emu.APIURL(), http: http.DefaultClient}
	create := func(name, doc string) {
		t.Helper()
		if _, err := api.do(ctx, http.MethodPost, "/policies/"+name, map[string]string{"policyDocument": doc}, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	create("legacy-bench", legacyBenchPolicies[0])
	must(t, api.ensurePolicy(ctx, "legacy-bench"))
	must(t, api.ensurePolicy(ctx, "legacy-bench")) // now current: nothing to do
	var got struct {
		PolicyDocument   string `json:"policyDocument"`
		DefaultVersionID string `json:"defaultVersionId"`
	}
	if _, err := api.do(ctx, http.MethodGet, "/policies/legacy-bench", nil, nil, &got); err != nil {
		t.Fatal(err)
	}
	if !sameJSON(got.PolicyDocument, BenchPolicy) || got.DefaultVersionID != "2" {
		t.Fatalf("after upgrade: default version %q, document %s", got.DefaultVersionID, got.PolicyDocument)
	}
	create("not-bench", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}`)
	if err := api.ensurePolicy(ctx, "not-bench"); err == nil || !strings.Contains(err.Error(), "another document") {
		t.Fatalf("foreign policy: %v", err)
	}
}
