package sql

import "testing"

// FuzzParse feeds statements to the parser and evaluates what parses: neither may panic, and
// every refusal is an *Error with a position.
func FuzzParse(f *testing.F) {
	for _, tc := range conformance {
		f.Add("SELECT VALUE "+tc.expr+" FROM 'a/+'", tc.payload)
	}
	f.Fuzz(func(t *testing.T, sql, payload string) {
		for _, v := range []string{Version20151008, Version20160323} {
			st, err := Parse(sql, v)
			if err != nil {
				if _, ok := err.(*Error); !ok {
					t.Fatalf("error %T is not *Error: %v", err, err)
				}
				continue
			}
			ev := st.Evaluate(&Message{Topic: "a/b", Payload: []byte(payload)}, nil)
			_ = ev.Payload()
		}
	})
}
