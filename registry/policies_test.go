package registry

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// docOfChars builds a policy document of exactly n characters not counting whitespace, padded
// with pad whitespace characters.
func docOfChars(n, pad int) string {
	const head, tail = `{"Version":"2012-10-17","Statement":[],"Comment":"`, `"}`
	fill := n - len(head) - len(tail)
	return head + strings.Repeat("x", fill) + tail + strings.Repeat(" \n\t", pad)
}

func TestCreatePolicy(t *testing.T) {
	refuse := errors.New(`Statement[0]: unknown action "iot:Fly"`)
	r := openTest(t, func(o *Options) {
		o.ValidatePolicy = func(doc string) error {
			if strings.Contains(doc, "iot:Fly") {
				return refuse
			}
			return nil
		}
	})
	tests := []struct {
		name, policy, doc string
		kind              error
		msg               string
	}{
		{"valid", "p1", allowAll, nil, ""},
		{"all name characters", "a_B+=,.@-9", allowAll, nil, ""},
		{"128-character name", strings.Repeat("n", 128), allowAll, nil, ""},
		{"2048 characters", "big", docOfChars(2048, 0), nil, ""},
		{"2048 characters plus whitespace", "big-ws", docOfChars(2048, 500), nil, ""},
		{"2049 characters", "too-big", docOfChars(2049, 0), ErrMalformedPolicy,
			"Policy document length 2049 exceeds the limit of 2048 characters (whitespace excluded)"},
		{"empty name", "", allowAll, ErrInvalidRequest, ""},
		{"129-character name", strings.Repeat("n", 129), allowAll, ErrInvalidRequest, ""},
		{"bad name", "a/b", allowAll, ErrInvalidRequest, ""},
		{"not JSON", "p2", "{nope", ErrMalformedPolicy, "Policy document is not a valid JSON object"},
		{"empty document", "p3", "", ErrMalformedPolicy, ""},
		{"array", "p4", `[{"Version":"2012-10-17"}]`, ErrMalformedPolicy, ""},
		{"string", "p5", `"x"`, ErrMalformedPolicy, ""},
		{"trailing data", "p6", `{} {}`, ErrMalformedPolicy, ""},
		{"validator refuses", "p7", `{"Statement":[{"Action":"iot:Fly"}]}`, ErrMalformedPolicy, refuse.Error()},
		{"duplicate", "p1", allowAll, ErrAlreadyExists, "Policy p1 already exists"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := r.CreatePolicy(tc.policy, tc.doc)
			if tc.msg != "" {
				wantKind(t, err, tc.kind, tc.msg)
			} else {
				wantKind(t, err, tc.kind)
			}
			if tc.kind != nil {
				if tc.kind == ErrAlreadyExists {
					e := err.(*Error)
					if e.ResourceID != tc.policy || e.ResourceARN != r.PolicyARN(tc.policy) {
						t.Fatalf("resource %q %q", e.ResourceID, e.ResourceARN)
					}
				}
				return
			}
			want := "arn:aws:iot:eu-west-1:111122223333:policy/" + tc.policy
			if p.ARN != want || p.DefaultVersionID != "1" || p.Document != tc.doc || p.CreationDate.IsZero() {
				t.Fatalf("policy = %+v", p)
			}
			if _, err := uuid.Parse(p.GenerationID); err != nil {
				t.Fatalf("generation id: %v", err)
			}
			got, err := r.GetPolicy(tc.policy)
			wantKind(t, err, nil)
			if got != p {
				t.Fatalf("GetPolicy = %+v, want %+v", got, p)
			}
		})
	}
	_, err := r.GetPolicy("missing")
	wantKind(t, err, ErrNotFound)
}

func TestListPoliciesPaging(t *testing.T) {
	r := openTest(t)
	var want []string
	for i := range 30 {
		name := fmt.Sprintf("policy-%02d", i)
		want = append(want, name)
	}
	for i := len(want) - 1; i >= 0; i-- {
		mustPolicy(t, r, want[i])
	}
	for _, ascending := range []bool{true, false} {
		for _, size := range []int{0, 1, 4, 30, 250} {
			var got []string
			marker := ""
			pages := 0
			for {
				page, next, err := r.ListPolicies(marker, size, ascending)
				wantKind(t, err, nil)
				pages++
				for _, p := range page {
					got = append(got, p.Name)
				}
				if next == "" {
					break
				}
				marker = next
			}
			for i := range want {
				j := i
				if !ascending {
					j = len(want) - 1 - i
				}
				if got[i] != want[j] {
					t.Fatalf("size %d ascending %v: got[%d] = %s, want %s", size, ascending, i, got[i], want[j])
				}
			}
			eff := size
			if eff == 0 {
				eff = 25
			}
			if wantPages := (30 + eff - 1) / eff; pages != wantPages {
				t.Fatalf("size %d: %d pages, want %d", size, pages, wantPages)
			}
		}
	}
	for _, size := range []int{-5, 251} {
		_, _, err := r.ListPolicies("", size, true)
		wantKind(t, err, ErrInvalidRequest)
	}
	_, _, err := r.ListPolicies(encodeToken(tokCertificates, []byte("x")), 0, true)
	wantKind(t, err, ErrInvalidRequest)
}

func TestDeletePolicy(t *testing.T) {
	r := openTest(t)
	mustPolicy(t, r, "free")
	mustPolicy(t, r, "used")
	c := mustCert(t, r, StatusActive)
	wantKind(t, r.AttachPolicy("used", c.ARN), nil)
	rec := watch(t, r)

	tests := []struct {
		name, policy string
		kind         error
	}{
		{"attached", "used", ErrDeleteConflict},
		{"missing", "never", ErrNotFound},
		{"invalid name", "a b", ErrInvalidRequest},
		{"free", "free", nil},
		{"already deleted", "free", ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantKind(t, r.DeletePolicy(tc.policy), tc.kind)
		})
	}
	events := rec.take()
	if !eventsEqual(events, []Event{{Kind: PolicyChanged, PolicyName: "free"}}) {
		t.Fatalf("events = %+v", events)
	}
	wantKind(t, r.DetachPolicy("used", c.ARN), nil)
	wantKind(t, r.DeletePolicy("used"), nil)
}
