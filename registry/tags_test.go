package registry

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestTagging(t *testing.T) {
	r := openTest(t)
	group, err := r.CreateThingGroup(CreateThingGroupInput{Name: "g", Tags: []Tag{{Key: "env", Value: "dev"}}})
	wantKind(t, err, nil)
	typ := mustType(t, r, "ty")
	pol, err := r.CreatePolicyWithTags("p", allowAll, []Tag{{Key: "owner", Value: "me"}, {Key: "owner", Value: "you"}})
	wantKind(t, err, nil)
	ca := mustCA(t, r, newTestCA(t, "Tagged CA", true), false, false)
	thing := mustThing(t, r, "th")
	cert := mustCert(t, r, StatusInactive)

	list := func(arn string) []Tag {
		t.Helper()
		tags, next, err := r.ListTagsForResource(arn, "")
		wantKind(t, err, nil)
		if next != "" {
			t.Fatalf("next token %q", next)
		}
		return tags
	}
	if got := list(group.ARN); !slices.Equal(got, []Tag{{"env", "dev"}}) {
		t.Fatalf("group tags at creation %+v", got)
	}
	if got := list(pol.ARN); !slices.Equal(got, []Tag{{"owner", "you"}}) {
		t.Fatalf("policy tags at creation %+v", got)
	}
	if got := list(typ.ARN); len(got) != 0 {
		t.Fatalf("untagged type has %+v", got)
	}

	fifty := make([]Tag, 0, 50)
	for i := range 50 {
		fifty = append(fifty, Tag{Key: fmt.Sprintf("k%02d", i)})
	}
	tests := []struct {
		name string
		arn  string
		tags []Tag
		kind error
	}{
		{"thing type", typ.ARN, []Tag{{"a", "1"}, {"b", "2"}}, nil},
		{"change a value", typ.ARN, []Tag{{"a", "10"}}, nil},
		{"CA certificate", ca.ARN, []Tag{{"tier", "root"}}, nil},
		{"CA certificate, upper-case id", strings.Replace(ca.ARN, ca.ID, strings.ToUpper(ca.ID), 1), []Tag{{"case", "x"}}, nil},
		{"unicode and punctuation key", group.ARN, []Tag{{"Größe _.:/=+-@", "v"}}, nil},
		{"thing", thing.ARN, []Tag{{"a", "1"}}, ErrInvalidRequest},
		{"certificate", cert.ARN, []Tag{{"a", "1"}}, ErrInvalidRequest},
		{"not an ARN", "g", []Tag{{"a", "1"}}, ErrInvalidRequest},
		{"missing group", r.ThingGroupARN("nope"), []Tag{{"a", "1"}}, ErrNotFound},
		{"resource type the emulator lacks", r.arn("rule/r"), []Tag{{"a", "1"}}, ErrNotFound},
		{"other region", strings.Replace(group.ARN, testRegion, "us-west-2", 1), []Tag{{"a", "1"}}, ErrNotFound},
		{"no tags", group.ARN, nil, ErrInvalidRequest},
		{"reserved key", group.ARN, []Tag{{"AWS:x", "1"}}, ErrInvalidRequest},
		{"empty key", group.ARN, []Tag{{"", "1"}}, ErrInvalidRequest},
		{"bad key", group.ARN, []Tag{{"a*b", "1"}}, ErrInvalidRequest},
		{"long value", group.ARN, []Tag{{"a", strings.Repeat("v", 257)}}, ErrInvalidRequest},
		{"more than fifty in all", group.ARN, fifty, ErrLimitExceeded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { wantKind(t, r.TagResource(tc.arn, tc.tags), tc.kind) })
	}
	if got := list(typ.ARN); !slices.Equal(got, []Tag{{"a", "10"}, {"b", "2"}}) {
		t.Fatalf("type tags %+v", got)
	}
	if got := list(ca.ARN); !slices.Equal(got, []Tag{{"case", "x"}, {"tier", "root"}}) {
		t.Fatalf("CA tags %+v", got)
	}
	_, _, err = r.ListTagsForResource(thing.ARN, "")
	wantKind(t, err, ErrInvalidRequest)
	_, _, err = r.ListTagsForResource(typ.ARN, "bogus")
	wantKind(t, err, ErrInvalidRequest)

	wantKind(t, r.UntagResource(typ.ARN, []string{"a", "never"}), nil)
	if got := list(typ.ARN); !slices.Equal(got, []Tag{{"b", "2"}}) {
		t.Fatalf("after untag %+v", got)
	}
	wantKind(t, r.UntagResource(typ.ARN, []string{"b"}), nil)
	if got := list(typ.ARN); len(got) != 0 {
		t.Fatalf("after untagging all %+v", got)
	}
	wantKind(t, r.UntagResource(typ.ARN, nil), ErrInvalidRequest)
	wantKind(t, r.UntagResource(r.ThingGroupARN("nope"), []string{"a"}), ErrNotFound)

	// A deleted resource's tags go with it.
	wantKind(t, r.DeleteThingGroup("g", nil), nil)
	mustGroup(t, r, "g", "")
	if got := list(group.ARN); len(got) != 0 {
		t.Fatalf("recreated group inherited tags %+v", got)
	}
	wantKind(t, r.DeletePolicy("p"), nil)
	mustPolicy(t, r, "p")
	if got := list(pol.ARN); len(got) != 0 {
		t.Fatalf("recreated policy inherited tags %+v", got)
	}
}
