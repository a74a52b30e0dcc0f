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

// FuzzTemplate feeds substitution templates to the template parser and renders what parses.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"${topic()}/out", "$$aws/things/${topic(2)}/shadow/update", "${get({'a':'}'}, 'a')}", "a${", "${x + 1}-${clientid()}"} {
		f.Add(s, `{"x":1}`)
	}
	f.Fuzz(func(t *testing.T, tmpl, payload string) {
		tp, err := ParseTemplate(tmpl, Version20160323)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %T is not *Error: %v", err, err)
			}
			return
		}
		st, _ := Parse("SELECT * FROM 'a/#'", Version20160323)
		_ = st.Evaluate(&Message{Topic: "a/b", Payload: []byte(payload)}, nil).Render(tp)
	})
}
