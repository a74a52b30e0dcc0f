package auth

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, text string
		want          bool
	}{
		{"", "", true},
		{"", "a", false},
		{"*", "", true},
		{"*", "anything/at/all", true},
		{"a", "a", true},
		{"a", "A", false},
		{"a", "ab", false},
		{"ab", "a", false},
		{"a*", "a", true},
		{"a*", "a/b/c", true},
		{"*c", "a/b/c", true},
		{"*c", "a/b/cd", false},
		{"a/*/c", "a/b/c", true},
		{"a/*/c", "a/b/x/c", true}, // `*` crosses `/`
		{"a/*/c", "a//c", true},
		{"a/*/c", "a/c", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"a?c", "abbc", false},
		{"a?c", "a/c", true}, // `?` matches `/` too
		{"a?c", "aéc", true}, // one character, two bytes
		{"a??c", "aéc", false},
		{"*??", "€", false}, // three bytes are still one character
		{"*?", "€", true},
		{"a+b", "a+b", true}, // MQTT wildcards are literal
		{"a+b", "axb", false},
		{"a/#", "a/#", true},
		{"a/#", "a/b", false},
		{"**a**", "xax", true},
		{"*a*a*a*b", strings.Repeat("a", 200), false},
		{"*a*a*a*b", strings.Repeat("a", 200) + "b", true},
		{"*ab*ab*", "xxabyyab", true},
		{"*ab*ab*", "xxabyya", false},
		{"?*?", "ab", true},
		{"?*?", "a", false},
	}
	for _, tt := range tests {
		g := parseGlob(tt.pattern, false)
		if got := g.matchString(tt.text); got != tt.want {
			t.Errorf("glob %q on %q = %v, want %v", tt.pattern, tt.text, got, tt.want)
		}
	}
}

func TestGlobFold(t *testing.T) {
	g := parseGlob("iot:Pub*", true)
	for _, s := range []string{"iot:Publish", "IOT:PUBLISH", "iot:publish", "Iot:PubX"} {
		if !g.matchString(s) {
			t.Errorf("%q should match iot:Pub* without case", s)
		}
	}
	if g.matchString("iot:Receive") {
		t.Error("iot:Receive matched iot:Pub*")
	}
	if cs := parseGlob("iot:Publish", false); cs.matchString("iot:publish") {
		t.Error("case-sensitive glob matched another case")
	}
}

// TestGlobPieces checks that a subject given in pieces matches like its concatenation, wherever
// a literal or a wildcard straddles a boundary.
func TestGlobPieces(t *testing.T) {
	patterns := []string{"topic/a/b", "top*", "*c/a*", "topic?a/b", "*/*/*", "t*?/?/b", "topic/a/b*", "*b", "to?ic/*", ""}
	texts := [][3]string{{"topic", "/", "a/b"}, {"topic", "/", ""}, {"", "/", "a/b"}, {"", "", ""}, {"topicfilter", "/", "a/+/b"}}
	for _, p := range patterns {
		g := parseGlob(p, false)
		for _, parts := range texts {
			s := subject{p: parts}
			whole := parts[0] + parts[1] + parts[2]
			if got, want := g.match(&s), g.matchString(whole); got != want {
				t.Errorf("glob %q on pieces %q = %v, on %q = %v", p, parts, got, whole, want)
			}
		}
	}
}

// globRegexp is a reference implementation: the pattern as a regular expression.
func globRegexp(pattern string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`^(?s:`)
	for _, r := range pattern {
		switch r {
		case '*':
			b.WriteString(`.*`)
		case '?':
			b.WriteString(`.`)
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString(`)$`)
	return regexp.MustCompile(b.String())
}

// FuzzGlob compares the glob matcher with the regular-expression reference, in one piece and
// split into three pieces at arbitrary points.
func FuzzGlob(f *testing.F) {
	f.Add("a*b?c", "axxbyc", 1, 3)
	f.Add("*a*a*a*b", "aaaaaaaaab", 2, 5)
	f.Add("topic/*/x", "topic/a/b/x", 5, 6)
	f.Add("?é*", "xé€", 0, 2)
	f.Fuzz(func(t *testing.T, pattern, text string, i, j int) {
		if !utf8.ValidString(pattern) || !utf8.ValidString(text) || len(pattern) > 64 || len(text) > 256 {
			t.Skip()
		}
		want := globRegexp(pattern).MatchString(text)
		g := parseGlob(pattern, false)
		if got := g.matchString(text); got != want {
			t.Fatalf("glob %q on %q = %v, regexp says %v", pattern, text, got, want)
		}
		// Split at rune boundaries: Decide's pieces are whole strings.
		cut := func(k int) int {
			if len(text) == 0 {
				return 0
			}
			k = ((k % (len(text) + 1)) + len(text) + 1) % (len(text) + 1)
			for k > 0 && k < len(text) && !utf8.RuneStart(text[k]) {
				k--
			}
			return k
		}
		a, b := cut(i), cut(j)
		if a > b {
			a, b = b, a
		}
		s := subject{p: [3]string{text[:a], text[a:b], text[b:]}}
		if got := g.match(&s); got != want {
			t.Fatalf("glob %q on pieces %q = %v, regexp says %v", pattern, s.p, got, want)
		}
	})
}
