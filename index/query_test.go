package index

import (
	"strings"
	"testing"
)

// testFields is a thing document as flatten makes it.
func testFields() fields {
	return fields{
		"thingName":              {stringValue("Lamp-42")},
		"thingTypeName":          {stringValue("lamp")},
		"thingGroupNames":        {stringValue("kitchen"), stringValue("floor1")},
		"attributes.serial":      {stringValue("abcd")},
		"attributes.weight":      {stringValue("75")},
		"shadow.reported.temp":   {numberValue(21.5)},
		"shadow.reported.on":     {boolValue(true)},
		"shadow.reported.values": {numberValue(1), numberValue(2), numberValue(3)},
		"connectivity.connected": {boolValue(false)},
		"connectivity.timestamp": {numberValue(1557651600000)},
	}
}

func TestQueryMatches(t *testing.T) {
	tests := []struct {
		query string
		want  bool
	}{
		{"thingName:Lamp-42", true},
		{"thingName:lamp-42", true}, // values match without case
		{"thingName:lamp*", true},
		{"thingName:lamp-4?", true},
		{"thingName:lamp-4", false},
		{"thingName:*42", true},
		{"thingname:lamp-42", false}, // field names are case-sensitive
		{"*", true},
		{"kitchen", true}, // a bare term: any field
		{"pantry", false},
		{"attributes.serial:*", true},
		{"attributes.missing:*", false},
		{`attributes.serial:["abcc" TO "abce"]`, true},
		{`attributes.serial:{"abcd" TO "abce"]`, false},
		{"shadow.reported.temp:[20 TO 22]", true},
		{"shadow.reported.temp:{21.5 TO 22]", false},
		{"shadow.reported.temp:[21.5 TO 22}", true},
		{"shadow.reported.temp>21", true},
		{"shadow.reported.temp<21", false},
		{"shadow.reported.temp >= 21.5", true},
		{"shadow.reported.temp<=21.5", true},
		{"shadow.reported.temp:21.5", true},
		{"shadow.reported.on:true", true},
		{"shadow.reported.values:2", true},
		{"shadow.reported.values:4", false},
		{"connectivity.connected:false", true},
		{"connectivity.timestamp : [1557651500000 TO 1557651700000]", true},
		{"connectivity.timestamp > 1557651600000", false},
		{"thingGroupNames:(pantry OR floor1)", true},
		{"thingGroupNames:(pantry OR cellar)", false},
		{"thingName:lamp* AND thingTypeName:lamp", true},
		{"thingName:lamp* thingTypeName:bulb", false}, // AND by default
		{"thingName:lamp* OR thingTypeName:bulb", true},
		{"thingName:lamp* AND NOT thingTypeName:lamp", false},
		{"thingName:lamp* NOT thingTypeName:bulb", true}, // A NOT B = A AND NOT B
		{"thingName:lamp* -thingTypeName:lamp", false},
		{"NOT thingName:x*", true},
		{"(thingName:x OR thingName:lamp*) AND (attributes.weight:75)", true},
		{"attributes.weight:[70 TO 80]", true}, // registry attributes are strings: compared as text
		{`thingName:lamp\-42`, true},
	}
	f := testFields()
	for _, tc := range tests {
		n, err := Parse(tc.query)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.query, err)
			continue
		}
		if got := matches(n, f); got != tc.want {
			t.Errorf("%q matches = %v, want %v", tc.query, got, tc.want)
		}
	}
}

func TestQueryErrors(t *testing.T) {
	tests := []struct {
		query string
		pos   int
		msg   string
	}{
		{"", 1, "empty"},
		{"thingName:", 11, "expected a value"},
		{"(thingName:a", 13, "expected ')'"},
		{"thingName:a)", 12, "unexpected"},
		{"a:[1 TO", 8, "upper bound"},
		{"a:[1 2]", 6, "expected TO"},
		{"a:[1 TO 2", 10, "close the range"},
		{`a:"open`, 3, "unterminated"},
		{"a..b:1", 1, "empty part"},
		{"AND a:1", 1, "expected a term"},
		{"a:1 OR", 7, "ends where a term is expected"},
		{"a:*x OR b:*y", 11, "only one term"},
		{"a:1 a:2 a:3 a:4 a:5 a:6 a:7 a:8 a:9 a:10 a:11 a:12 a:13", 1, "at most 12"},
		{"a:(b:c)", 4, "inside a:( )"},
		{`a:b\`, 4, "backslash"},
		{strings.Repeat("(", 40) + "a:1" + strings.Repeat(")", 40), 33, "too deep"},
	}
	for _, tc := range tests {
		_, err := Parse(tc.query)
		qe, ok := err.(*QueryError)
		if !ok {
			t.Errorf("Parse(%q) = %v, want a *QueryError", tc.query, err)
			continue
		}
		if qe.Pos != tc.pos || !strings.Contains(qe.Message, tc.msg) {
			t.Errorf("Parse(%q) = %q at %d, want %q at %d", tc.query, qe.Message, qe.Pos, tc.msg, tc.pos)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"thingName:a*", "a:[1 TO 2}", "x:(a OR -b) NOT c", `a:"q\"x"`, "a>=3 b<4", "*", "((a))"} {
		f.Add(s)
	}
	fl := testFields()
	f.Fuzz(func(t *testing.T, q string) {
		n, err := Parse(q)
		if err != nil {
			qe, ok := err.(*QueryError)
			if !ok || qe.Pos < 1 || qe.Pos > len([]rune(q))+2 && qe.Pos != maxQueryLen+1 {
				t.Fatalf("Parse(%q) error %v has no position within the query", q, err)
			}
			return
		}
		matches(n, fl) // must not panic
	})
}
