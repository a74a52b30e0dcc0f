package registry

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
)

func TestCreateThingType(t *testing.T) {
	r := openTest(t)
	props := CreateThingTypeInput{
		Name: "bulb", Description: "light bulb", SearchableAttributes: []string{"wattage", "model"},
		PropagatingAttributes: []PropagatingAttribute{{UserPropertyKey: "serial", ThingAttribute: "serial"}},
		Tags:                  []Tag{{Key: "team", Value: "lights"}},
	}
	first, err := r.CreateThingType(props)
	wantKind(t, err, nil)
	if _, err := uuid.Parse(first.ID); err != nil || first.ARN != "arn:aws:iot:eu-west-1:111122223333:thingtype/bulb" || first.Deprecated {
		t.Fatalf("created %+v", first)
	}

	tests := []struct {
		name string
		in   CreateThingTypeInput
		kind error
	}{
		{"same configuration", props, nil},
		{"same configuration, other tags", func() CreateThingTypeInput { p := props; p.Tags = nil; return p }(), nil},
		{"other description", func() CreateThingTypeInput { p := props; p.Description = "x"; return p }(), ErrAlreadyExists},
		{"other searchable attributes", func() CreateThingTypeInput { p := props; p.SearchableAttributes = []string{"model"}; return p }(), ErrAlreadyExists},
		{"four searchable attributes", CreateThingTypeInput{Name: "t4", SearchableAttributes: []string{"a", "b", "c", "d"}}, ErrInvalidRequest},
		{"bad searchable attribute", CreateThingTypeInput{Name: "t5", SearchableAttributes: []string{"a b"}}, ErrInvalidRequest},
		{"bad name", CreateThingTypeInput{Name: "a/b"}, ErrInvalidRequest},
		{"empty name", CreateThingTypeInput{}, ErrInvalidRequest},
		{"long description", CreateThingTypeInput{Name: "t6", Description: strings.Repeat("d", 2029)}, ErrInvalidRequest},
		{"newline in description", CreateThingTypeInput{Name: "t7", Description: "a\nb"}, ErrInvalidRequest},
		{"reserved tag key", CreateThingTypeInput{Name: "t8", Tags: []Tag{{Key: "aws:owner"}}}, ErrInvalidRequest},
		{"plain", CreateThingTypeInput{Name: "plain"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.CreateThingType(tc.in)
			wantKind(t, err, tc.kind)
			if tc.kind == ErrAlreadyExists {
				if e := err.(*Error); e.ResourceID != first.ID || e.ResourceARN != first.ARN {
					t.Fatalf("resource %q %q", e.ResourceID, e.ResourceARN)
				}
			}
			if tc.kind == nil && tc.in.Name == "bulb" && got.ID != first.ID {
				t.Fatalf("idempotent create made a new type %+v", got)
			}
		})
	}
	got, err := r.DescribeThingType("bulb")
	wantKind(t, err, nil)
	if got.Description != "light bulb" || !slices.Equal(got.SearchableAttributes, props.SearchableAttributes) ||
		!slices.Equal(got.PropagatingAttributes, props.PropagatingAttributes) || !got.CreationDate.Equal(first.CreationDate) {
		t.Fatalf("described %+v", got)
	}
	_, err = r.DescribeThingType("nope")
	wantKind(t, err, ErrNotFound)
	tags, _, err := r.ListTagsForResource(first.ARN, "")
	wantKind(t, err, nil)
	if !slices.Equal(tags, []Tag{{Key: "team", Value: "lights"}}) {
		t.Fatalf("tags %+v", tags)
	}
}

func TestListThingTypes(t *testing.T) {
	r := openTest(t)
	for _, n := range []string{"c", "a", "b"} {
		mustType(t, r, n)
	}
	var names []string
	token := ""
	for pages := 0; ; pages++ {
		page, next, err := r.ListThingTypes("", token, 2)
		wantKind(t, err, nil)
		for _, tt := range page {
			names = append(names, tt.Name)
		}
		if next == "" {
			break
		}
		token = next
		if pages > 3 {
			t.Fatal("paging does not end")
		}
	}
	if strings.Join(names, " ") != "a b c" {
		t.Fatalf("listed %v", names)
	}
	one, next, err := r.ListThingTypes("b", "", 0)
	wantKind(t, err, nil)
	if len(one) != 1 || one[0].Name != "b" || next != "" {
		t.Fatalf("filtered %+v %q", one, next)
	}
	_, _, err = r.ListThingTypes("", "junk", 0)
	wantKind(t, err, ErrInvalidRequest)
	_, _, err = r.ListThingTypes("", "", 251)
	wantKind(t, err, ErrInvalidRequest)
}

func TestDeprecateAndDeleteThingType(t *testing.T) {
	r := openTest(t)
	mustType(t, r, "lamp")
	mustType(t, r, "spare")
	_, err := r.CreateThing(CreateThingInput{Name: "l1", TypeName: "lamp"})
	wantKind(t, err, nil)

	steps := []struct {
		name string
		do   func() error
		kind error
	}{
		{"delete while not deprecated", func() error { return r.DeleteThingType("lamp") }, ErrInvalidRequest},
		{"deprecate", func() error { return r.DeprecateThingType("lamp", false) }, nil},
		{"deprecate again", func() error { return r.DeprecateThingType("lamp", false) }, nil},
		{"new thing of a deprecated type", func() error { _, err := r.CreateThing(CreateThingInput{Name: "l2", TypeName: "lamp"}); return err }, ErrInvalidRequest},
		{"existing thing keeps the type", func() error {
			_, err := r.UpdateThing(UpdateThingInput{Name: "l1", Attributes: &AttributePayload{Attributes: map[string]string{"a": "1"}}})
			return err
		}, nil},
		{"delete while a thing has it", func() error { return r.DeleteThingType("lamp") }, ErrInvalidRequest},
		{"move the thing to a deprecated type", func() error { _, err := r.UpdateThing(UpdateThingInput{Name: "l1", TypeName: "lamp"}); return err }, nil},
		{"retype the thing", func() error { _, err := r.UpdateThing(UpdateThingInput{Name: "l1", TypeName: "spare"}); return err }, nil},
		{"delete", func() error { return r.DeleteThingType("lamp") }, nil},
		{"delete again", func() error { return r.DeleteThingType("lamp") }, ErrNotFound},
		{"deprecate a missing type", func() error { return r.DeprecateThingType("lamp", false) }, ErrNotFound},
		{"undo on a usable type", func() error { return r.DeprecateThingType("spare", true) }, nil},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) { wantKind(t, s.do(), s.kind) })
	}

	// Undoing a deprecation makes the type usable again and clears the date.
	wantKind(t, r.DeprecateThingType("spare", false), nil)
	dep, err := r.DescribeThingType("spare")
	wantKind(t, err, nil)
	if !dep.Deprecated || dep.DeprecationDate.IsZero() {
		t.Fatalf("deprecated type %+v", dep)
	}
	wantKind(t, r.DeprecateThingType("spare", true), nil)
	undone, err := r.DescribeThingType("spare")
	wantKind(t, err, nil)
	if undone.Deprecated || !undone.DeprecationDate.IsZero() {
		t.Fatalf("undeprecated type %+v", undone)
	}
	_, err = r.CreateThing(CreateThingInput{Name: "s2", TypeName: "spare"})
	wantKind(t, err, nil)
}

func TestUpdateThingType(t *testing.T) {
	r := openTest(t)
	_, err := r.CreateThingType(CreateThingTypeInput{Name: "cam", Description: "camera", SearchableAttributes: []string{"model"}})
	wantKind(t, err, nil)
	desc, other := "camera", "other"
	prop := []PropagatingAttribute{{UserPropertyKey: "iface", ConnectionAttribute: "iot:ClientId"}}
	tests := []struct {
		name string
		in   UpdateThingTypeInput
		kind error
	}{
		{"set mqtt5Configuration", UpdateThingTypeInput{Name: "cam", PropagatingAttributes: prop}, nil},
		{"with the same description", UpdateThingTypeInput{Name: "cam", Description: &desc, SearchableAttributes: []string{"model"}, PropagatingAttributes: prop}, nil},
		{"another description", UpdateThingTypeInput{Name: "cam", Description: &other}, ErrInvalidRequest},
		{"other searchable attributes", UpdateThingTypeInput{Name: "cam", SearchableAttributes: []string{"x"}}, ErrInvalidRequest},
		{"missing type", UpdateThingTypeInput{Name: "nope"}, ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { wantKind(t, r.UpdateThingType(tc.in), tc.kind) })
	}
	got, err := r.DescribeThingType("cam")
	wantKind(t, err, nil)
	if !slices.Equal(got.PropagatingAttributes, prop) || got.Description != "camera" {
		t.Fatalf("after update %+v", got)
	}
}
