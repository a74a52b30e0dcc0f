package registry

import (
	"fmt"
	"maps"
	"testing"
)

func TestUpdateThing(t *testing.T) {
	r := openTest(t)
	mustType(t, r, "lamp")
	mustType(t, r, "fan")
	mustType(t, r, "retired")
	wantKind(t, r.DeprecateThingType("retired", false), nil)
	_, err := r.CreateThing(CreateThingInput{Name: "t", Attributes: map[string]string{"a": "1", "b": "2"}})
	wantKind(t, err, nil)
	v := func(n int64) *int64 { return &n }
	fifty := map[string]string{}
	for i := range 50 {
		fifty[fmt.Sprintf("k%02d", i)] = "v"
	}

	// Each step runs on the state the previous ones left; version and attributes are checked
	// after each successful step.
	steps := []struct {
		name    string
		in      UpdateThingInput
		kind    error
		version int64
		typ     string
		attrs   map[string]string
	}{
		{"merge adds and replaces", UpdateThingInput{Attributes: &AttributePayload{Attributes: map[string]string{"b": "20", "c": "3"}, Merge: true}},
			nil, 2, "", map[string]string{"a": "1", "b": "20", "c": "3"}},
		{"merge with an empty value removes", UpdateThingInput{Attributes: &AttributePayload{Attributes: map[string]string{"a": ""}, Merge: true}},
			nil, 3, "", map[string]string{"b": "20", "c": "3"}},
		{"replace", UpdateThingInput{Attributes: &AttributePayload{Attributes: map[string]string{"x": "9", "gone": ""}}},
			nil, 4, "", map[string]string{"x": "9"}},
		{"no change still counts", UpdateThingInput{}, nil, 5, "", map[string]string{"x": "9"}},
		{"expected version matches", UpdateThingInput{ExpectedVersion: v(5)}, nil, 6, "", map[string]string{"x": "9"}},
		{"expected version stale", UpdateThingInput{ExpectedVersion: v(5)}, ErrVersionConflict, 0, "", nil},
		{"four attributes without a type", UpdateThingInput{Attributes: &AttributePayload{Attributes: map[string]string{"a": "1", "b": "2", "c": "3"}, Merge: true}},
			ErrInvalidRequest, 0, "", nil},
		{"missing type", UpdateThingInput{TypeName: "nope"}, ErrNotFound, 0, "", nil},
		{"deprecated type", UpdateThingInput{TypeName: "retired"}, ErrInvalidRequest, 0, "", nil},
		{"type and removal together", UpdateThingInput{TypeName: "lamp", RemoveThingType: true}, ErrInvalidRequest, 0, "", nil},
		{"bad attribute", UpdateThingInput{Attributes: &AttributePayload{Attributes: map[string]string{"a b": "1"}}}, ErrInvalidRequest, 0, "", nil},
		{"set a type", UpdateThingInput{TypeName: "lamp"}, nil, 7, "lamp", map[string]string{"x": "9"}},
		{"fifty attributes with a type", UpdateThingInput{Attributes: &AttributePayload{Attributes: fifty}}, nil, 8, "lamp", fifty},
		{"fifty-one with a type", UpdateThingInput{Attributes: &AttributePayload{Attributes: map[string]string{"one-more": "x"}, Merge: true}},
			ErrInvalidRequest, 0, "", nil},
		{"removing the type would leave fifty", UpdateThingInput{RemoveThingType: true}, ErrInvalidRequest, 0, "", nil},
		{"change type and attributes", UpdateThingInput{TypeName: "fan", Attributes: &AttributePayload{Attributes: map[string]string{"speed": "3"}}},
			nil, 9, "fan", map[string]string{"speed": "3"}},
		{"remove the type", UpdateThingInput{RemoveThingType: true}, nil, 10, "", map[string]string{"speed": "3"}},
		{"missing thing", UpdateThingInput{Name: "ghost"}, ErrNotFound, 0, "", nil},
		{"bad name", UpdateThingInput{Name: "a b"}, ErrInvalidRequest, 0, "", nil},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			in := s.in
			if in.Name == "" {
				in.Name = "t"
			}
			got, err := r.UpdateThing(in)
			wantKind(t, err, s.kind)
			if s.kind != nil {
				return
			}
			stored, err := r.DescribeThing("t")
			wantKind(t, err, nil)
			for _, th := range []Thing{got, stored} {
				if th.Version != s.version || th.TypeName != s.typ || !maps.Equal(th.Attributes, s.attrs) {
					t.Fatalf("thing %+v; want version %d, type %q, attributes %v", th, s.version, s.typ, s.attrs)
				}
			}
		})
	}

	// The type index follows: ListThings by type, and a type with no things left can go.
	byFan, _, err := r.ListThings(ListThingsInput{ThingTypeName: "fan"})
	wantKind(t, err, nil)
	if len(byFan) != 0 {
		t.Fatalf("things of type fan: %+v", byFan)
	}
	wantKind(t, r.DeprecateThingType("fan", false), nil)
	wantKind(t, r.DeleteThingType("fan"), nil)
}
