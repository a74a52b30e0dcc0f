package registry

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
)

func TestCreateThingGroup(t *testing.T) {
	r := openTest(t)
	root, err := r.CreateThingGroup(CreateThingGroupInput{Name: "root", Description: "all", Attributes: map[string]string{"site": "x"}})
	wantKind(t, err, nil)
	if _, err := uuid.Parse(root.ID); err != nil || root.ARN != "arn:aws:iot:eu-west-1:111122223333:thinggroup/root" || root.Version != 1 {
		t.Fatalf("created %+v", root)
	}
	chain := "root"
	for i := 2; i <= 7; i++ { // levels 2..7
		name := fmt.Sprintf("level%d", i)
		mustGroup(t, r, name, chain)
		chain = name
	}
	tests := []struct {
		name string
		in   CreateThingGroupInput
		kind error
	}{
		{"same configuration", CreateThingGroupInput{Name: "root", Description: "all", Attributes: map[string]string{"site": "x"}}, nil},
		{"other attributes", CreateThingGroupInput{Name: "root", Description: "all"}, ErrAlreadyExists},
		{"other parent", CreateThingGroupInput{Name: "level2", ParentName: "level3"}, ErrAlreadyExists},
		{"missing parent", CreateThingGroupInput{Name: "orphan", ParentName: "nope"}, ErrInvalidRequest},
		{"eighth level", CreateThingGroupInput{Name: "level8", ParentName: "level7"}, ErrInvalidRequest},
		{"bad name", CreateThingGroupInput{Name: "a b"}, ErrInvalidRequest},
		{"bad parent name", CreateThingGroupInput{Name: "ok", ParentName: "a b"}, ErrInvalidRequest},
		{"51 attributes", CreateThingGroupInput{Name: "big", Attributes: manyAttrs(51)}, ErrInvalidRequest},
		{"50 attributes", CreateThingGroupInput{Name: "big", Attributes: manyAttrs(50)}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := r.CreateThingGroup(tc.in)
			wantKind(t, err, tc.kind)
			if tc.in.Name == "root" && tc.kind == nil && g.ID != root.ID {
				t.Fatalf("idempotent create made %+v", g)
			}
		})
	}
	d, err := r.DescribeThingGroup("level4")
	wantKind(t, err, nil)
	want := []GroupNameAndARN{{"root", r.ThingGroupARN("root")}, {"level2", r.ThingGroupARN("level2")}, {"level3", r.ThingGroupARN("level3")}}
	if d.ParentName != "level3" || !slices.Equal(d.RootToParent, want) {
		t.Fatalf("described %+v", d)
	}
	_, err = r.DescribeThingGroup("nope")
	wantKind(t, err, ErrNotFound)
}

func manyAttrs(n int) map[string]string {
	m := make(map[string]string, n)
	for i := range n {
		m[fmt.Sprintf("a%02d", i)] = "v"
	}
	return m
}

func TestListThingGroups(t *testing.T) {
	r := openTest(t)
	mustGroup(t, r, "a", "")
	mustGroup(t, r, "a1", "a")
	mustGroup(t, r, "a11", "a1")
	mustGroup(t, r, "a2", "a")
	mustGroup(t, r, "b", "")
	no, yes := false, true
	tests := []struct {
		name string
		in   ListThingGroupsInput
		want string
		kind error
	}{
		{"all (recursive by default)", ListThingGroupsInput{}, "a a1 a11 a2 b", nil},
		{"roots", ListThingGroupsInput{Recursive: &no}, "a b", nil},
		{"descendants", ListThingGroupsInput{ParentGroup: "a"}, "a1 a11 a2", nil},
		{"descendants, explicit", ListThingGroupsInput{ParentGroup: "a", Recursive: &yes}, "a1 a11 a2", nil},
		{"children", ListThingGroupsInput{ParentGroup: "a", Recursive: &no}, "a1 a2", nil},
		{"prefix", ListThingGroupsInput{NamePrefix: "a1"}, "a1 a11", nil},
		{"missing parent", ListThingGroupsInput{ParentGroup: "zz"}, "", ErrNotFound},
		{"bad token", ListThingGroupsInput{NextToken: "zz"}, "", ErrInvalidRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var names []string
			in := tc.in
			in.MaxResults = 2
			for pages := 0; ; pages++ {
				page, next, err := r.ListThingGroups(in)
				wantKind(t, err, tc.kind)
				if err != nil {
					return
				}
				for _, g := range page {
					names = append(names, g.Name)
				}
				if next == "" {
					break
				}
				in.NextToken = next
				if pages > 5 {
					t.Fatal("paging does not end")
				}
			}
			if got := strings.Join(names, " "); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestUpdateAndDeleteThingGroup(t *testing.T) {
	r := openTest(t)
	_, err := r.CreateThingGroup(CreateThingGroupInput{Name: "g", Attributes: map[string]string{"a": "1"}})
	wantKind(t, err, nil)
	mustGroup(t, r, "child", "g")
	desc := "described"
	v := func(n int64) *int64 { return &n }
	steps := []struct {
		name    string
		in      UpdateThingGroupInput
		kind    error
		version int64
	}{
		{"merge attributes", UpdateThingGroupInput{Attributes: &AttributePayload{Attributes: map[string]string{"b": "2"}, Merge: true}}, nil, 2},
		{"description", UpdateThingGroupInput{Description: &desc, ExpectedVersion: v(2)}, nil, 3},
		{"stale version", UpdateThingGroupInput{Description: &desc, ExpectedVersion: v(2)}, ErrVersionConflict, 0},
		{"replace attributes", UpdateThingGroupInput{Attributes: &AttributePayload{Attributes: map[string]string{"c": "3", "a": ""}}}, nil, 4},
		{"too many attributes", UpdateThingGroupInput{Attributes: &AttributePayload{Attributes: manyAttrs(50), Merge: true}}, ErrInvalidRequest, 0},
		{"missing group", UpdateThingGroupInput{Name: "nope"}, ErrNotFound, 0},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			in := s.in
			if in.Name == "" {
				in.Name = "g"
			}
			got, err := r.UpdateThingGroup(in)
			wantKind(t, err, s.kind)
			if s.kind == nil && got != s.version {
				t.Fatalf("version %d, want %d", got, s.version)
			}
		})
	}
	g, err := r.DescribeThingGroup("g")
	wantKind(t, err, nil)
	if g.Description != desc || !maps.Equal(g.Attributes, map[string]string{"c": "3"}) || g.Version != 4 {
		t.Fatalf("after updates %+v", g)
	}

	mustThing(t, r, "member")
	wantKind(t, r.AddThingToThingGroup("g", "member"), nil)
	wantKind(t, r.DeleteThingGroup("g", nil), ErrInvalidRequest, "Cannot delete thing group : g when there are still child groups attached to it")
	wantKind(t, r.DeleteThingGroup("child", v(9)), ErrVersionConflict)
	wantKind(t, r.DeleteThingGroup("child", v(1)), nil)
	wantKind(t, r.DeleteThingGroup("g", nil), nil)
	wantKind(t, r.DeleteThingGroup("g", nil), nil) // missing: success
	wantKind(t, r.DeleteThingGroup("bad name", nil), ErrInvalidRequest)
	groups, _, err := r.ListThingGroupsForThing("member", "", 0)
	wantKind(t, err, nil)
	if len(groups) != 0 {
		t.Fatalf("the thing is still in %+v", groups)
	}
	// A group created again under the name starts afresh.
	again := mustGroup(t, r, "g", "")
	if again.Version != 1 {
		t.Fatalf("recreated %+v", again)
	}
	things, _, err := r.ListThingsInThingGroup("g", false, "", 0)
	wantKind(t, err, nil)
	if len(things) != 0 {
		t.Fatalf("recreated group has things %v", things)
	}
}

func TestThingGroupMembership(t *testing.T) {
	r := openTest(t)
	mustGroup(t, r, "fleet", "")
	mustGroup(t, r, "eu", "fleet")
	mustGroup(t, r, "us", "fleet")
	mustGroup(t, r, "berlin", "eu")
	mustGroup(t, r, "other", "")
	for i := range 10 {
		mustGroup(t, r, fmt.Sprintf("root%d", i), "")
	}
	for _, n := range []string{"t1", "t2", "t3", "busy"} {
		mustThing(t, r, n)
	}
	steps := []struct {
		name, group, thing string
		remove             bool
		kind               error
	}{
		{"add", "berlin", "t1", false, nil},
		{"add again", "berlin", "t1", false, nil},
		{"same hierarchy, other branch", "us", "t1", false, ErrInvalidRequest},
		{"same hierarchy, the root", "fleet", "t1", false, ErrInvalidRequest},
		{"another hierarchy", "other", "t1", false, nil},
		{"add t2 to eu", "eu", "t2", false, nil},
		{"add t3 to us", "us", "t3", false, nil},
		{"missing group", "nope", "t1", false, ErrNotFound},
		{"missing thing", "eu", "ghost", false, ErrNotFound},
		{"remove", "other", "t1", true, nil},
		{"remove again", "other", "t1", true, nil},
		{"remove from a missing group", "nope", "t1", true, ErrNotFound},
		{"remove a missing thing", "eu", "ghost", true, ErrNotFound},
	}
	for i := range 10 {
		steps = append(steps, struct {
			name, group, thing string
			remove             bool
			kind               error
		}{fmt.Sprintf("busy in group %d", i), fmt.Sprintf("root%d", i), "busy", false, nil})
	}
	steps = append(steps, struct {
		name, group, thing string
		remove             bool
		kind               error
	}{"an eleventh group", "other", "busy", false, ErrInvalidRequest})
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if s.remove {
				wantKind(t, r.RemoveThingFromThingGroup(s.group, s.thing), s.kind)
			} else {
				wantKind(t, r.AddThingToThingGroup(s.group, s.thing), s.kind)
			}
		})
	}

	list := func(group string, recursive bool) string {
		t.Helper()
		var all []string
		token := ""
		for {
			page, next, err := r.ListThingsInThingGroup(group, recursive, token, 1)
			wantKind(t, err, nil)
			all = append(all, page...)
			if next == "" {
				return strings.Join(all, " ")
			}
			token = next
		}
	}
	for _, c := range []struct {
		group     string
		recursive bool
		want      string
	}{
		{"fleet", false, ""},
		{"fleet", true, "t1 t2 t3"},
		{"eu", true, "t1 t2"},
		{"eu", false, "t2"},
		{"berlin", false, "t1"},
	} {
		if got := list(c.group, c.recursive); got != c.want {
			t.Errorf("things in %s (recursive %t) = %q, want %q", c.group, c.recursive, got, c.want)
		}
	}
	_, _, err := r.ListThingsInThingGroup("nope", false, "", 0)
	wantKind(t, err, ErrNotFound)

	groups, next, err := r.ListThingGroupsForThing("t1", "", 0)
	wantKind(t, err, nil)
	want := []GroupNameAndARN{{"berlin", r.ThingGroupARN("berlin")}, {"eu", r.ThingGroupARN("eu")}, {"fleet", r.ThingGroupARN("fleet")}}
	if !slices.Equal(groups, want) || next != "" {
		t.Fatalf("groups of t1 (with ancestors) %+v", groups)
	}
	_, _, err = r.ListThingGroupsForThing("ghost", "", 0)
	wantKind(t, err, ErrNotFound)

	// Deleting a thing takes it out of its groups.
	wantKind(t, r.DeleteThing("t2", nil), nil)
	if got := list("eu", false); got != "" {
		t.Fatalf("deleted thing still in eu: %q", got)
	}
}
