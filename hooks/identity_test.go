package hooks

import (
	"testing"

	mqtt "github.com/mochi-mqtt/server/v2"
)

// TestSessionsDropKeepsSuccessor: the late disconnect of a taken-over connection must not erase
// the session of the connection that replaced it.
func TestSessionsDropKeepsSuccessor(t *testing.T) {
	var table sessions
	old := &mqtt.Client{ID: "c"}
	successor := &mqtt.Client{ID: "c"}
	table.put(&session{client: old})
	table.put(&session{client: successor})
	table.drop(old)
	if s := table.get("c"); s == nil || s.client != successor {
		t.Fatal("dropping the old connection removed its successor's session")
	}
	table.drop(successor)
	if table.get("c") != nil {
		t.Fatal("session still present after its own connection dropped it")
	}
}

// TestSessionsByClient: the lookup by connection answers as the lookup by client id does, through
// a takeover, a restored session and a disconnect.
func TestSessionsByClient(t *testing.T) {
	var table sessions
	restored := &mqtt.Client{ID: "c"}
	live := &mqtt.Client{ID: "c"}
	stranger := &mqtt.Client{ID: "d"}

	rs := &session{client: restored}
	if got := table.putIfAbsent(rs); got != rs || table.of(restored) != rs || table.current(restored) != rs {
		t.Fatal("restored session not found by its connection")
	}
	ls := &session{client: live}
	if got := table.putIfAbsent(ls); got != rs || table.of(live) != nil {
		t.Fatal("putIfAbsent replaced the session in force")
	}
	table.put(ls) // the device reconnects: its new connection takes over
	if table.of(restored) != nil {
		t.Fatal("taken-over connection still owns a session")
	}
	if table.current(restored) != ls || table.of(live) != ls || table.current(live) != ls {
		t.Fatal("lookups disagree with the session in force for the client id")
	}
	if table.of(stranger) != nil || table.current(stranger) != nil {
		t.Fatal("a connection without a session found one")
	}
	table.drop(restored)
	if table.of(live) != ls {
		t.Fatal("dropping the taken-over connection removed its successor's session")
	}
	table.drop(live)
	if table.of(live) != nil || table.current(live) != nil || table.get("c") != nil {
		t.Fatal("session still found after its connection dropped it")
	}
}

func TestFilterMatches(t *testing.T) {
	cases := []struct {
		filter, topic string
		want          bool
	}{
		{"a/b", "a/b", true},
		{"a/+", "a/b", true},
		{"a/+", "a/b/c", false},
		{"a/#", "a", true},
		{"a/#", "a/b/c", true},
		{"#", "a/b", true},
		{"$aws/things/+/shadow/#", "$aws/things/t/shadow/update", true},
		{"a/b", "a/c", false},
		{"a/b/c", "a/b", false},
		{"+/+", "a", false},
	}
	for _, tc := range cases {
		if got := filterMatches(tc.filter, tc.topic); got != tc.want {
			t.Errorf("filterMatches(%q, %q) = %v, want %v", tc.filter, tc.topic, got, tc.want)
		}
	}
}
