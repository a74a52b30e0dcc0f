package registry

import (
	"errors"
	"strings"
	"testing"
)

// A JSON syntax error in a policy document is reported with the validator's words, which name
// line and column, rather than only "not a valid JSON object".
func TestPolicySyntaxErrorKeepsValidatorPosition(t *testing.T) {
	r := openTest(t, func(o *Options) {
		o.ValidatePolicy = func(doc string) error { return errors.New("invalid JSON at offset 30 (line 3, column 5)") }
	})
	_, err := r.CreatePolicy("p", "{\n \"Version\": \"2012-10-17\",\n    oops}")
	if !errors.Is(err, ErrMalformedPolicy) || !strings.Contains(err.Error(), "line 3, column 5") {
		t.Fatalf("err = %v, want MalformedPolicy naming line 3, column 5", err)
	}
}
