package shadow

import (
	"strings"
	"testing"
)

func TestTopic(t *testing.T) {
	tests := []struct {
		key    Key
		suffix string
		want   string
	}{
		{Key{Thing: "T"}, "update/accepted", "$aws/things/T/shadow/update/accepted"},
		{Key{Thing: "T", Name: "N"}, "get/rejected", "$aws/things/T/shadow/name/N/get/rejected"},
		{Key{Thing: "a:b_c-d", Name: "$cfg"}, "update/delta", "$aws/things/a:b_c-d/shadow/name/$cfg/update/delta"},
	}
	for _, tt := range tests {
		if got := Topic(tt.key, tt.suffix); got != tt.want {
			t.Errorf("Topic(%+v, %q) = %q, want %q", tt.key, tt.suffix, got, tt.want)
		}
	}
}

func TestParseTopic(t *testing.T) {
	tests := []struct {
		topic string
		key   Key
		op    string
		ok    bool
	}{
		{"$aws/things/T/shadow/update", Key{Thing: "T"}, OpUpdate, true},
		{"$aws/things/T/shadow/get", Key{Thing: "T"}, OpGet, true},
		{"$aws/things/T/shadow/delete", Key{Thing: "T"}, OpDelete, true},
		{"$aws/things/T/shadow/name/N/update", Key{Thing: "T", Name: "N"}, OpUpdate, true},
		{"$aws/things/T/shadow/name/$x/get", Key{Thing: "T", Name: "$x"}, OpGet, true},
		// A thing called "name" has a classic shadow too.
		{"$aws/things/name/shadow/update", Key{Thing: "name"}, OpUpdate, true},
		// Names are not validated here.
		{"$aws/things/bad!/shadow/update", Key{Thing: "bad!"}, OpUpdate, true},
		// Not requests.
		{"$aws/things/T/shadow/update/accepted", Key{}, "", false},
		{"$aws/things/T/shadow/update/delta", Key{}, "", false},
		{"$aws/things/T/shadow/name/N/update/documents", Key{}, "", false},
		{"$aws/things/T/shadow/list", Key{}, "", false},
		{"$aws/things/T/shadow/name/N/list", Key{}, "", false},
		{"$aws/things/T/shadow/name//update", Key{}, "", false},
		{"$aws/things//shadow/update", Key{}, "", false},
		{"$aws/things/T/shadow", Key{}, "", false},
		{"$aws/things/T/shadow/name/N", Key{}, "", false},
		{"$aws/things/T/jobs/get", Key{}, "", false},
		{"$aws/things/T/shadows/update", Key{}, "", false},
		{"things/T/shadow/update", Key{}, "", false},
		{"$AWS/things/T/shadow/update", Key{}, "", false},
		{"$aws/things/T/shadow/Update", Key{}, "", false},
		{"", Key{}, "", false},
	}
	for _, tt := range tests {
		key, op, ok := ParseTopic(tt.topic)
		if key != tt.key || op != tt.op || ok != tt.ok {
			t.Errorf("ParseTopic(%q) = %+v %q %v, want %+v %q %v", tt.topic, key, op, ok, tt.key, tt.op, tt.ok)
		}
		if ok && Topic(key, op) != tt.topic {
			t.Errorf("Topic(ParseTopic(%q)) = %q", tt.topic, Topic(key, op))
		}
	}
}

func TestKeyValidate(t *testing.T) {
	tests := []struct {
		key Key
		ok  bool
	}{
		{Key{Thing: "a"}, true},
		{Key{Thing: strings.Repeat("a", 128)}, true},
		{Key{Thing: strings.Repeat("a", 129)}, false},
		{Key{Thing: ""}, false},
		{Key{Thing: "Az09:_-"}, true},
		{Key{Thing: "a b"}, false},
		{Key{Thing: "a.b"}, false},
		{Key{Thing: "$a"}, false},
		{Key{Thing: "é"}, false},
		{Key{Thing: "a", Name: "$Az09:_-"}, true},
		{Key{Thing: "a", Name: strings.Repeat("n", 64)}, true},
		{Key{Thing: "a", Name: strings.Repeat("n", 65)}, false},
		{Key{Thing: "a", Name: "n/m"}, false},
		{Key{Thing: "a", Name: "n m"}, false},
	}
	for _, tt := range tests {
		e := tt.key.validate()
		if (e == nil) != tt.ok {
			t.Errorf("%+v: validate = %v, want ok %v", tt.key, e, tt.ok)
		}
		if e != nil && e.Code != 400 {
			t.Errorf("%+v: code %d", tt.key, e.Code)
		}
	}
}
