package devicejson_test

import (
	"testing"

	"github.com/iotcore-local/iotcore-local/internal/devicejson"
)

func TestTrimTrailing(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"{}", "{}"},
		{"{}\x00", "{}"},
		{"{}\x00\x00\x00", "{}"},
		{"{}\n", "{}"},
		{"{}\r\n\x00", "{}"},
		{"{}\x00\n\x00 \t", "{}"},
		{"\x00\x00", ""},
		{" {} ", " {}"},
		{"\x00{}", "\x00{}"},
		{"{}\x00x", "{}\x00x"},
		{"{\"a\":\"\x00\"}\x00", "{\"a\":\"\x00\"}"},
	} {
		if got := string(devicejson.TrimTrailing([]byte(tc.in))); got != tc.want {
			t.Errorf("TrimTrailing(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestUnmarshal(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{`{"state":{"reported":{"on":true}}}`, true},
		{"{\"state\":{}}\x00", true},             // Embedded C demo: strlen + 1
		{"{\"state\":{}}\x00\x00\x00\x00", true}, // a fixed-size buffer sent whole
		{"{\"state\":{}}\r\n", true},
		{"{\"state\":{}}\n\x00", true},
		{"{\"state\":{}}\x00{}", false},      // a second document after the NUL
		{"{\"state\":{}}\x00garbage", false}, // garbage after the NUL
		{"{\"state\":{}}garbage\x00", false}, // garbage before it
		{"\x00{\"state\":{}}", false},        // a leading NUL
		{"{\"state\":\x00{}}", false},        // an interior NUL
		{"{\"s\":\"a\x00b\"}", false},        // a raw NUL inside a string is not JSON
		{"\x00", false},
		{"", false},
	} {
		var v map[string]any
		err := devicejson.Unmarshal([]byte(tc.in), &v)
		if (err == nil) != tc.ok {
			t.Errorf("Unmarshal(%q): error %v, want ok=%v", tc.in, err, tc.ok)
		}
	}
}
