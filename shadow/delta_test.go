package shadow

import (
	"encoding/json"
	"testing"
)

func mustJSONNumber(s string) json.Number { return json.Number(s) }

func TestNumbersEqual(t *testing.T) {
	tests := []struct {
		a, b string
		eq   bool
	}{
		{"1", "1", true},
		{"1", "1.0", true},
		{"1", "1.000", true},
		{"1", "1e0", true},
		{"100", "1E2", true},
		{"100", "1e+2", true},
		{"0.001", "1e-3", true},
		{"0", "-0", true},
		{"0", "0.0e10", true},
		{"-0.0", "0", true},
		{"12.50", "12.5", true},
		{"-12.5", "12.5", false},
		{"1", "2", false},
		{"1", "1.0000000000000000001", false},
		{"12345678901234567890123", "12345678901234567890123.0", true},
		{"12345678901234567890123", "12345678901234567890124", false},
		{"1e999999999999999999999", "10e999999999999999999998", true},
		{"1e999999999999999999999", "1e999999999999999999998", false},
		{"9223372036854775807", "9223372036854775807.0", true},
		{"-9223372036854775808", "-9223372036854775808", true},
	}
	for _, tt := range tests {
		if got := numbersEqual(json.Number(tt.a), json.Number(tt.b)); got != tt.eq {
			t.Errorf("numbersEqual(%s, %s) = %v, want %v", tt.a, tt.b, got, tt.eq)
		}
		if got := numbersEqual(json.Number(tt.b), json.Number(tt.a)); got != tt.eq {
			t.Errorf("numbersEqual(%s, %s) = %v, want %v", tt.b, tt.a, got, tt.eq)
		}
	}
}

func TestComputeDelta(t *testing.T) {
	tests := []struct {
		name, desired, reported, want string // want "null" = no delta
	}{
		{"equal", `{"a":1}`, `{"a":1}`, `null`},
		{"missing from reported", `{"a":1}`, `{}`, `{"a":1}`},
		{"reported only keys ignored", `{"a":1}`, `{"a":1,"b":2}`, `null`},
		{"scalar differs", `{"a":"x"}`, `{"a":"y"}`, `{"a":"x"}`},
		{"number by value", `{"a":1}`, `{"a":1.0}`, `null`},
		{"number differs", `{"a":1}`, `{"a":1.5}`, `{"a":1}`},
		{"nested path kept", `{"l":{"c":{"r":1,"g":2}}}`, `{"l":{"c":{"r":1,"g":3}}}`, `{"l":{"c":{"g":2}}}`},
		{"nested equal", `{"l":{"c":{"r":1}}}`, `{"l":{"c":{"r":1},"x":1}}`, `null`},
		{"nested missing subtree whole", `{"l":{"c":{"r":1,"e":{}}}}`, `{"l":{}}`, `{"l":{"c":{"e":{},"r":1}}}`},
		{"type mismatch object vs scalar", `{"a":{"b":1}}`, `{"a":5}`, `{"a":{"b":1}}`},
		{"type mismatch scalar vs object", `{"a":5}`, `{"a":{"b":1}}`, `{"a":5}`},
		{"array equal numbers by value", `{"a":[1,2.0]}`, `{"a":[1.0,2]}`, `null`},
		{"array differs whole", `{"a":[1,2,3]}`, `{"a":[1,2]}`, `{"a":[1,2,3]}`},
		{"array order matters", `{"a":[1,2]}`, `{"a":[2,1]}`, `{"a":[1,2]}`},
		{"array of objects", `{"a":[{"x":1}]}`, `{"a":[{"x":1.0}]}`, `null`},
		{"bool vs string", `{"a":true}`, `{"a":"true"}`, `{"a":true}`},
		{"empty desired object", `{"a":{}}`, `{}`, `null`},
		{"empty desired object vs scalar", `{"a":{}}`, `{"a":1}`, `null`},
		{"desired empty array", `{"a":[]}`, `{}`, `{"a":[]}`},
		{"no reported section", `{"a":1,"b":{"c":2}}`, `null`, `{"a":1,"b":{"c":2}}`},
		{"no desired section", `null`, `{"a":1}`, `null`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, _ := mustJSON(t, tt.desired).(map[string]any)
			r, _ := mustJSON(t, tt.reported).(map[string]any)
			got := computeDelta(d, r)
			var gotText string
			if got == nil {
				gotText = "null"
			} else {
				gotText = string(encodeJSON(got))
			}
			if gotText != tt.want {
				t.Fatalf("delta = %s, want %s", gotText, tt.want)
			}
		})
	}
}

func TestMetaAt(t *testing.T) {
	meta := mustJSON(t, `{"a":{"timestamp":1},"b":{"c":{"timestamp":2},"d":[{"timestamp":3}]}}`)
	delta := mustJSON(t, `{"a":5,"b":{"d":[7]}}`)
	got := string(encodeJSON(metaAt(delta, meta)))
	want := `{"a":{"timestamp":1},"b":{"d":[{"timestamp":3}]}}`
	if got != want {
		t.Fatalf("metaAt = %s, want %s", got, want)
	}
}
