package shadow

import (
	"testing"
)

func TestMergeSection(t *testing.T) {
	const t1 = 200 // the stored timestamps are 100
	tests := []struct {
		name              string
		state, meta       string // stored section and metadata ("null" = absent)
		patch             string // request section
		wantState, wantMd string // "null" = section removed
	}{
		{"create", `null`, `null`, `{"a":1}`, `{"a":1}`, `{"a":{"timestamp":200}}`},
		{"add key keeps others", `{"a":1}`, `{"a":{"timestamp":100}}`, `{"b":2}`,
			`{"a":1,"b":2}`, `{"a":{"timestamp":100},"b":{"timestamp":200}}`},
		{"replace scalar", `{"a":1}`, `{"a":{"timestamp":100}}`, `{"a":"x"}`, `{"a":"x"}`, `{"a":{"timestamp":200}}`},
		{"null deletes", `{"a":1,"b":2}`, `{"a":{"timestamp":100},"b":{"timestamp":100}}`, `{"a":null}`,
			`{"b":2}`, `{"b":{"timestamp":100}}`},
		{"null of missing key", `{"a":1}`, `{"a":{"timestamp":100}}`, `{"z":null}`, `{"a":1}`, `{"a":{"timestamp":100}}`},
		{"last key deleted removes section", `{"a":1}`, `{"a":{"timestamp":100}}`, `{"a":null}`, `null`, `null`},
		{"empty patch changes nothing", `{"a":1}`, `{"a":{"timestamp":100}}`, `{}`, `{"a":1}`, `{"a":{"timestamp":100}}`},
		{"empty patch on absent section", `null`, `null`, `{}`, `null`, `null`},
		{"null section removes it", `{"a":1}`, `{"a":{"timestamp":100}}`, `null`, `null`, `null`},
		{"recursive merge", `{"o":{"x":1,"y":2}}`, `{"o":{"x":{"timestamp":100},"y":{"timestamp":100}}}`, `{"o":{"y":3,"z":4}}`,
			`{"o":{"x":1,"y":3,"z":4}}`, `{"o":{"x":{"timestamp":100},"y":{"timestamp":200},"z":{"timestamp":200}}}`},
		{"nested delete keeps empty parent", `{"o":{"x":1}}`, `{"o":{"x":{"timestamp":100}}}`, `{"o":{"x":null}}`,
			`{"o":{}}`, `{"o":{}}`},
		{"empty object value stored", `null`, `null`, `{"o":{}}`, `{"o":{}}`, `{"o":{}}`},
		{"empty object merges into object", `{"o":{"x":1}}`, `{"o":{"x":{"timestamp":100}}}`, `{"o":{}}`,
			`{"o":{"x":1}}`, `{"o":{"x":{"timestamp":100}}}`},
		{"new object drops nulls", `null`, `null`, `{"o":{"x":null,"y":1}}`, `{"o":{"y":1}}`, `{"o":{"y":{"timestamp":200}}}`},
		{"array replaced whole", `{"a":[1,2,3]}`, `{"a":[{"timestamp":100},{"timestamp":100},{"timestamp":100}]}`, `{"a":[9]}`,
			`{"a":[9]}`, `{"a":[{"timestamp":200}]}`},
		{"object to scalar", `{"o":{"x":1}}`, `{"o":{"x":{"timestamp":100}}}`, `{"o":5}`, `{"o":5}`, `{"o":{"timestamp":200}}`},
		{"scalar to object", `{"o":5}`, `{"o":{"timestamp":100}}`, `{"o":{"x":1}}`, `{"o":{"x":1}}`, `{"o":{"x":{"timestamp":200}}}`},
		{"scalar to object of nulls", `{"o":5}`, `{"o":{"timestamp":100}}`, `{"o":{"timestamp":null}}`, `{"o":{}}`, `{"o":{}}`},
		{"array to object", `{"o":[1]}`, `{"o":[{"timestamp":100}]}`, `{"o":{"x":1}}`, `{"o":{"x":1}}`, `{"o":{"x":{"timestamp":200}}}`},
		{"object to array", `{"o":{"x":1}}`, `{"o":{"x":{"timestamp":100}}}`, `{"o":[{"x":1}]}`,
			`{"o":[{"x":1}]}`, `{"o":[{"x":{"timestamp":200}}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			state, _ := mustJSON(t, tt.state).(map[string]any)
			meta, _ := mustJSON(t, tt.meta).(map[string]any)
			patch := mustJSON(t, tt.patch)
			gotState, gotMeta := mergeSection(state, meta, patch, t1)
			if s := encodeOrNull(gotState); s != tt.wantState {
				t.Errorf("state = %s, want %s", s, tt.wantState)
			}
			if s := encodeOrNull(gotMeta); s != tt.wantMd {
				t.Errorf("metadata = %s, want %s", s, tt.wantMd)
			}
		})
	}
}

func encodeOrNull(m map[string]any) string {
	if m == nil {
		return "null"
	}
	return string(encodeJSON(m))
}

// FuzzMerge merges random JSON objects and checks the invariants of the result: no nulls remain,
// the metadata mirrors the state, the patch's values are present, and untouched keys keep their
// values and timestamps.
func FuzzMerge(f *testing.F) {
	seeds := [][2]string{
		{`{"a":1}`, `{"a":null}`},
		{`{"o":{"x":1,"y":[1,2]}}`, `{"o":{"x":null,"z":{"k":"v"}}}`},
		{`{"o":5}`, `{"o":{"p":{"q":null}}}`},
		{`{}`, `{"a":[{"b":1}],"c":{}}`},
		{`{"a":{"b":{"c":1}}}`, `{"a":{"b":{}}}`},
		{`{"timestamp":1}`, `{"timestamp":{"timestamp":2}}`},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	// The sections of the requests of testdata/shadow, each merged into the one before it.
	prev := `{}`
	for _, p := range fixturePayloads(f) {
		req, e := parseUpdate([]byte(p))
		if e != nil {
			continue
		}
		for _, section := range []any{req.desired, req.reported} {
			if m, ok := section.(map[string]any); ok {
				cur := string(encodeJSON(m))
				f.Add(prev, cur)
				prev = cur
			}
		}
	}
	f.Fuzz(func(t *testing.T, stored, patch string) {
		sv, err := decodeJSON([]byte(stored))
		if err != nil {
			return
		}
		pv, err := decodeJSON([]byte(patch))
		if err != nil {
			return
		}
		s, ok := sv.(map[string]any)
		if !ok || containsNull(s) {
			return
		}
		p, ok := pv.(map[string]any)
		if !ok {
			return
		}
		const t0, t1 = 1, 2
		state, meta := mergeSection(s, metaFor(s, t0).(map[string]any), p, t1)
		if state == nil {
			if meta != nil {
				t.Fatal("metadata without state")
			}
			return
		}
		if len(state) == 0 {
			t.Fatal("empty section kept")
		}
		if containsNull(state) {
			t.Fatalf("null stored: %s", encodeJSON(state))
		}
		checkMirror(t, state, meta)
		checkApplied(t, state, meta, p, t1)
		// Decoding the stored text gives the same document (the store round trip).
		again, err := decodeJSON(encodeJSON(state))
		if err != nil || !valuesEqual(again, state) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func containsNull(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case map[string]any:
		for _, c := range x {
			if containsNull(c) {
				return true
			}
		}
	case []any:
		for _, c := range x {
			if containsNull(c) {
				return true
			}
		}
	}
	return false
}

// checkMirror checks that meta has the shape of state with {"timestamp":N} at every leaf.
func checkMirror(t *testing.T, state, meta any) {
	t.Helper()
	switch s := state.(type) {
	case map[string]any:
		m, ok := meta.(map[string]any)
		if !ok || len(m) != len(s) {
			t.Fatalf("metadata %s does not mirror %s", encodeJSON(meta), encodeJSON(state))
		}
		for k, c := range s {
			checkMirror(t, c, m[k])
		}
	case []any:
		m, ok := meta.([]any)
		if !ok || len(m) != len(s) {
			t.Fatalf("metadata %s does not mirror %s", encodeJSON(meta), encodeJSON(state))
		}
		for i, c := range s {
			checkMirror(t, c, m[i])
		}
	default:
		m, ok := meta.(map[string]any)
		if !ok || len(m) != 1 || m["timestamp"] == nil {
			t.Fatalf("leaf metadata %s", encodeJSON(meta))
		}
	}
}

// checkApplied checks that every non-null value of the patch is in state, with metadata t1 on
// its leaves, and every null key is gone.
func checkApplied(t *testing.T, state, meta, patch map[string]any, t1 int64) {
	t.Helper()
	for k, pv := range patch {
		sv, present := state[k]
		switch p := pv.(type) {
		case nil:
			if present {
				t.Fatalf("key %q not deleted", k)
			}
		case map[string]any:
			so, ok := sv.(map[string]any)
			if !ok {
				t.Fatalf("key %q: object not stored", k)
			}
			checkApplied(t, so, meta[k].(map[string]any), p, t1)
		default:
			if !present || !valuesEqual(sv, pv) {
				t.Fatalf("key %q = %v, want %v", k, sv, pv)
			}
			if string(encodeJSON(meta[k])) != string(encodeJSON(metaFor(pv, t1))) {
				t.Fatalf("key %q metadata %s", k, encodeJSON(meta[k]))
			}
		}
	}
}

func TestAppendString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", `"plain"`},
		{`q"b\`, `"q\"b\\"`},
		{"<&>", `"<&>"`},
		{"\n\r\t\b\f\x01\x1f", `"\n\r\t\b\f\u0001\u001f"`},
		{"é☃😀", `"é☃😀"`},
		{"bad\xffutf8", "\"bad\ufffdutf8\""},
		{"\u2028", "\"\u2028\""},
	}
	for _, tt := range tests {
		if got := string(appendString(nil, tt.in)); got != tt.want {
			t.Errorf("appendString(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
