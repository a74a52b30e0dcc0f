package hooks

import (
	"path/filepath"
	"testing"

	mqtt "github.com/mochi-mqtt/server/v2"

	"github.com/iotcore-local/iotcore-local/rules"
)

func openRulesEngine(t testing.TB) *rules.Engine {
	e, err := rules.Open(rules.Options{Path: filepath.Join(t.TempDir(), "rules.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// TestRulesHookProvidesOnlyWhileARuleIsEnabled: with no enabled rule the broker never calls
// the hook.
func TestRulesHookProvidesOnlyWhileARuleIsEnabled(t *testing.T) {
	e := openRulesEngine(t)
	h := NewRules(RulesOptions{Engine: e})
	for _, ev := range []byte{mqtt.OnPublish, mqtt.OnPublished} {
		if h.Provides(ev) {
			t.Fatalf("event %d provided with no rule", ev)
		}
	}
	sql := "SELECT * FROM 'a'"
	if err := e.CreateRule("r", &rules.Payload{SQL: &sql, Actions: nil, RuleDisabled: true}, nil); err == nil {
		t.Fatal("a payload without actions was accepted")
	}
	p, _ := rules.ParsePayload([]byte(`{"sql":"SELECT * FROM 'a'","actions":[],"ruleDisabled":true}`))
	if err := e.CreateRule("r", p, nil); err != nil {
		t.Fatal(err)
	}
	if h.Provides(mqtt.OnPublished) {
		t.Fatal("provided with only a disabled rule")
	}
	if err := e.SetEnabled("r", true); err != nil {
		t.Fatal(err)
	}
	if !h.Provides(mqtt.OnPublish) || !h.Provides(mqtt.OnPublished) || h.Provides(mqtt.OnSubscribe) {
		t.Fatal("events with an enabled rule")
	}
}

// BenchmarkRulesHookIdle is what the broker pays per event for the rules hook when no rule is
// enabled: one atomic load, no allocation.
func BenchmarkRulesHookIdle(b *testing.B) {
	h := NewRules(RulesOptions{Engine: openRulesEngine(b)})
	b.ReportAllocs()
	for b.Loop() {
		if h.Provides(mqtt.OnPublished) {
			b.Fatal("provided")
		}
	}
}
