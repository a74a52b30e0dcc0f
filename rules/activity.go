package rules

import (
	"encoding/base64"
	"encoding/json"
	"time"
	"unicode/utf8"
)

// Evaluation is one entry of a rule's activity: a message the rule's FROM matched (or that
// Basic Ingest sent to it), whether WHERE let it through, the SELECT result and what each
// action did.
type Evaluation struct {
	Time     time.Time       `json:"time"`
	Topic    string          `json:"topic"`
	ClientID string          `json:"clientId"`
	Matched  bool            `json:"matched"`
	Result   json.RawMessage `json:"result,omitempty"`
	Actions  []ActionOutcome `json:"actions"`
}

// ActionOutcome is what one action did.
type ActionOutcome struct {
	Action string `json:"action"`
	Target string `json:"target"`
	OK     bool   `json:"ok"`
	Error  string `json:"error,omitempty"`
}

// ring keeps the newest evaluations of one rule.
type ring struct {
	items []Evaluation
	next  int
	full  bool
}

func (e *Engine) record(rule string, ev Evaluation) {
	e.amu.Lock()
	defer e.amu.Unlock()
	r := e.activity[rule]
	if r == nil {
		r = &ring{items: make([]Evaluation, e.opts.ActivitySize)}
		e.activity[rule] = r
	}
	r.items[r.next] = ev
	r.next = (r.next + 1) % len(r.items)
	if r.next == 0 {
		r.full = true
	}
}

// Activity returns a rule's recent evaluations, newest first; ok is false for an unknown rule.
func (e *Engine) Activity(rule string) ([]Evaluation, bool) {
	if _, ok := e.rules.Load().byName[rule]; !ok {
		return nil, false
	}
	e.amu.Lock()
	defer e.amu.Unlock()
	out := []Evaluation{}
	r := e.activity[rule]
	if r == nil {
		return out, true
	}
	n := r.next
	if r.full {
		n = len(r.items)
	}
	for i := 1; i <= n; i++ {
		out = append(out, r.items[(r.next-i+len(r.items))%len(r.items)])
	}
	return out, true
}

// resultJSON is the activity's view of an action payload: the JSON itself, or a string (the
// text, or base64 for bytes that are not UTF-8).
func resultJSON(payload []byte) json.RawMessage {
	if json.Valid(payload) {
		return json.RawMessage(payload)
	}
	s := string(payload)
	if !utf8.Valid(payload) {
		s = "base64:" + b64(payload)
	}
	b, _ := json.Marshal(s)
	return b
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
