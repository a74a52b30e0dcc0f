package listener

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// TestTranscriptsAnonRing: records without a client id are kept in a ring of the store's
// capacity, oldest first, and handed out as copies.
func TestTranscriptsAnonRing(t *testing.T) {
	cases := []struct {
		capacity, added int
		want            []string
	}{
		{3, 0, nil},
		{3, 2, []string{"r1", "r2"}},
		{3, 3, []string{"r1", "r2", "r3"}},
		{3, 5, []string{"r3", "r4", "r5"}},
		{3, 7, []string{"r5", "r6", "r7"}},
		{0, 2, []string{"r2"}}, // capacity is at least one
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("cap%d_add%d", tc.capacity, tc.added), func(t *testing.T) {
			r := NewTranscripts(tc.capacity)
			for i := 1; i <= tc.added; i++ {
				finishedTranscript(r, fmt.Sprintf("r%d", i), "", OutcomeAlert)
			}
			var got []string
			for _, rec := range r.Records() {
				got = append(got, rec.ID)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Records IDs = %v, want %v", got, tc.want)
			}
		})
	}
	r := NewTranscripts(2)
	finishedTranscript(r, "x", "", OutcomeAlert)
	r.Records()[0].ALPNOffered[0] = "changed"
	if r.Records()[0].ALPNOffered[0] != "a" {
		t.Error("Records does not return copies")
	}
}

// finishedTranscript stores a finished transcript with the given id and client id.
func finishedTranscript(store *Transcripts, id, clientID, outcome string) *Transcript {
	tr := newTranscript("l", "127.0.0.1:1", nil, store)
	tr.rec.ID = id
	tr.setHello("", []string{"a"})
	if clientID != "" {
		tr.SetClient(clientID)
	}
	tr.Finish(outcome, "")
	return tr
}

// TestTranscriptFinish: the first Finish wins, logs one "tls connection" record carrying every
// field (Info for ok, Warn otherwise) and adds it to the ring.
func TestTranscriptFinish(t *testing.T) {
	for _, tc := range []struct {
		outcome, level string
	}{{OutcomeOK, "INFO"}, {"refused", "WARN"}, {OutcomeTimeout, "WARN"}} {
		t.Run(tc.outcome, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(slog.NewJSONHandler(&buf, nil))
			ring := NewTranscripts(4)
			tr := newTranscript("alpn", "127.0.0.1:5555", log, ring)
			tr.setHello("iot.test", []string{ProtocolMQTTCA})
			tr.setPersonality(PersonalityMQTT, true)
			tr.setHandshake(ProtocolMQTTCA, "abc", "ACTIVE", true)
			tr.SetClient("dev-1")
			tr.Finish(tc.outcome, "first")
			tr.Finish(OutcomeClosed, "second")

			recs := ring.Records()
			if len(recs) != 1 || recs[0].Outcome != tc.outcome || recs[0].Detail != "first" {
				t.Fatalf("ring = %+v", recs)
			}
			got := tr.Record()
			got.DurationMS, recs[0].DurationMS = 0, 0 // an open record's duration keeps growing
			if !reflect.DeepEqual(got, recs[0]) {
				t.Errorf("Record() = %+v, ring has %+v", got, recs[0])
			}
			lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
			if len(lines) != 1 {
				t.Fatalf("%d log lines, want 1: %s", len(lines), buf.String())
			}
			var logged map[string]any
			if err := json.Unmarshal([]byte(lines[0]), &logged); err != nil {
				t.Fatal(err)
			}
			if logged["msg"] != "tls connection" || logged["level"] != tc.level {
				t.Errorf("log msg %v level %v", logged["msg"], logged["level"])
			}
			encoded, err := json.Marshal(recs[0])
			if err != nil {
				t.Fatal(err)
			}
			var fields map[string]any
			if err := json.Unmarshal(encoded, &fields); err != nil {
				t.Fatal(err)
			}
			for key, want := range fields {
				if key == "started" || key == "steps" || key == "durationMs" {
					continue // time formats differ between slog and encoding/json
				}
				if got, ok := logged[key]; !ok || !reflect.DeepEqual(got, want) {
					t.Errorf("log attr %s = %v, JSON record has %v", key, got, want)
				}
			}
			if _, ok := logged["started"]; !ok {
				t.Error("log lacks started")
			}
		})
	}
}

// TestRecordJSONKeys pins the lowerCamel JSON names other packages and the console rely on.
func TestRecordJSONKeys(t *testing.T) {
	encoded, err := json.Marshal(Record{})
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(encoded, &fields); err != nil {
		t.Fatal(err)
	}
	want := []string{"id", "listener", "remote", "sni", "alpnOffered", "alpnSelected", "tlsVersion", "cipherSuite",
		"personality", "clientCertRequested", "certificateId", "certificateKnown", "certificateStatus", "clientId",
		"tlsFaults", "open", "outcome", "detail", "started", "durationMs", "steps"}
	if len(fields) != len(want) {
		t.Errorf("JSON has %d keys, want %d: %s", len(fields), len(want), encoded)
	}
	for _, k := range want {
		if _, ok := fields[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, encoded)
		}
	}
}

// TestFinishUnlessClient: once the hooks set the client id, the listener's own verdicts give way.
func TestFinishUnlessClient(t *testing.T) {
	tr := newTranscript("l", "r", nil, nil)
	tr.SetClient("dev")
	if tr.finishUnlessClient(OutcomeTimeout, "x") {
		t.Error("finished after SetClient")
	}
	tr2 := newTranscript("l", "r", nil, nil)
	if !tr2.finishUnlessClient(OutcomeTimeout, "x") || tr2.Record().Outcome != OutcomeTimeout {
		t.Error("did not finish without a client")
	}
}

// TestTranscriptConcurrent exercises the lock under -race.
func TestTranscriptConcurrent(t *testing.T) {
	ring := NewTranscripts(8)
	tr := newTranscript("l", "r", slog.New(slog.DiscardHandler), ring)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			tr.SetClient(fmt.Sprint(i))
			_ = tr.Record()
			tr.Finish(OutcomeOK, fmt.Sprint(i))
			_ = ring.Records()
		})
	}
	wg.Wait()
	if n := len(ring.Records()); n != 1 {
		t.Errorf("%d records, want 1", n)
	}
}
