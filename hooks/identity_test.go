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
