package listener

import (
	"fmt"
	"testing"
)

// TestStoreKeepsClientHistoryUnderBurst: a burst of one-off client ids (a bench run) does not
// evict the records of client ids seen before it, nor a client id with an open connection; the
// number of client ids stays bounded.
func TestStoreKeepsClientHistoryUnderBurst(t *testing.T) {
	store := NewTranscripts(20)
	mine := finishedTranscript(store, "mine-1", "mine", OutcomeOK)
	mine.Disconnected("CLIENT_INITIATED_DISCONNECT", "")
	finishedTranscript(store, "once-1", "once", OutcomeOK).Disconnected("CONNECTION_LOST", "")
	live := finishedTranscript(store, "live-1", "live", OutcomeOK) // still open
	for i := range 5000 {
		tr := finishedTranscript(store, fmt.Sprintf("bench-%d", i), fmt.Sprintf("bench-%d", i), OutcomeOK)
		tr.Disconnected("CLIENT_INITIATED_DISCONNECT", "")
	}
	for _, id := range []string{"mine", "once", "live"} {
		if got := store.Query(Filter{ClientID: id}); len(got) != 1 {
			t.Errorf("client %s: %d records after the burst, want 1", id, len(got))
		}
	}
	if n := len(store.clients); n > 20 {
		t.Errorf("%d client ids kept, want at most 20", n)
	}
	if rec := live.Record(); !rec.Open || rec.Outcome != OutcomeOK {
		t.Errorf("live record %+v", rec)
	}
	// One client's own history is bounded too.
	for i := range 3 * DefaultPerClient {
		finishedTranscript(store, fmt.Sprintf("mine-%d", i+2), "mine", OutcomeOK).Disconnected("CLIENT_INITIATED_DISCONNECT", "")
	}
	if got := store.Query(Filter{ClientID: "mine"}); len(got) != DefaultPerClient {
		t.Errorf("client mine: %d records, want %d", len(got), DefaultPerClient)
	}
}

// TestDisconnectedOutcome: ok stays ok after a clean DISCONNECT and while open, becomes the
// lifecycle reason otherwise, and a refusal is never replaced.
func TestDisconnectedOutcome(t *testing.T) {
	for _, tc := range []struct {
		outcome, reason, want string
	}{
		{OutcomeOK, "CLIENT_INITIATED_DISCONNECT", OutcomeOK},
		{OutcomeOK, "AUTH_ERROR", "AUTH_ERROR"},
		{OutcomeOK, "DUPLICATE_CLIENTID", "DUPLICATE_CLIENTID"},
		{"refused", "CONNECTION_LOST", "refused"},
	} {
		store := NewTranscripts(4)
		tr := finishedTranscript(store, "x", "c", tc.outcome)
		if tc.outcome == OutcomeOK && !tr.Record().Open {
			t.Errorf("%s: not open before the disconnect", tc.outcome)
		}
		updates, stop := store.Subscribe()
		tr.Disconnected(tc.reason, "why")
		rec := store.Query(Filter{ClientID: "c"})[0]
		if rec.Outcome != tc.want || rec.Open {
			t.Errorf("%s then %s: outcome %q open %t, want %q and closed", tc.outcome, tc.reason, rec.Outcome, rec.Open, tc.want)
		}
		if last := rec.Steps[len(rec.Steps)-1]; last.Step != StepDisconnect || last.Detail != tc.reason+": why" {
			t.Errorf("last step %+v", last)
		}
		select {
		case got := <-updates:
			if got.Outcome != tc.want {
				t.Errorf("streamed outcome %q", got.Outcome)
			}
		default:
			t.Error("the change was not streamed")
		}
		stop()
	}
}

// TestStepAPI: other code records steps through TranscriptOf with one call; nil transcripts and
// transcripts that are not kept take the call and record nothing; steps are bounded.
func TestStepAPI(t *testing.T) {
	var none *Transcript
	none.Step("custom", "ignored") // must not panic
	TranscriptOf(nil).Step("custom", "ignored")
	unkept := newTranscript("l", "r", nil, nil)
	unkept.Step("custom", "x")
	if n := len(unkept.Record().Steps); n != 0 {
		t.Errorf("an unkept transcript recorded %d steps", n)
	}
	kept := newTranscript("l", "r", nil, NewTranscripts(1))
	for i := range 2 * maxSteps {
		kept.Step("custom", fmt.Sprint(i))
	}
	steps := kept.Record().Steps
	if len(steps) != maxSteps+1 || steps[maxSteps].Step != "truncated" {
		t.Errorf("%d steps, last %+v; want %d ending with truncated", len(steps), steps[len(steps)-1], maxSteps+1)
	}
}
