package registry

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"
)

func TestCreateThingValidation(t *testing.T) {
	r := openTest(t)
	mustType(t, r, "lamp")
	mustType(t, r, "old")
	wantKind(t, r.DeprecateThingType("old", false), nil)
	tests := []struct {
		name string
		in   CreateThingInput
		kind error
	}{
		{"plain", CreateThingInput{Name: "sensor-1"}, nil},
		{"all allowed characters", CreateThingInput{Name: "a:b_c-D9"}, nil},
		{"128 characters", CreateThingInput{Name: strings.Repeat("x", 128)}, nil},
		{"with type and attributes", CreateThingInput{Name: "typed", TypeName: "lamp",
			Attributes: map[string]string{"a_b.c,d@e/f:g#h-i": strings.Repeat("v", 800)}}, nil},
		{"empty name", CreateThingInput{Name: ""}, ErrInvalidRequest},
		{"129 characters", CreateThingInput{Name: strings.Repeat("x", 129)}, ErrInvalidRequest},
		{"space", CreateThingInput{Name: "a b"}, ErrInvalidRequest},
		{"slash", CreateThingInput{Name: "a/b"}, ErrInvalidRequest},
		{"bad type name", CreateThingInput{Name: "t1", TypeName: "a b"}, ErrInvalidRequest},
		{"bad attribute name", CreateThingInput{Name: "t2", Attributes: map[string]string{"a b": "x"}}, ErrInvalidRequest},
		{"empty attribute name", CreateThingInput{Name: "t3", Attributes: map[string]string{"": "x"}}, ErrInvalidRequest},
		{"long attribute name", CreateThingInput{Name: "t4", Attributes: map[string]string{strings.Repeat("a", 129): "x"}}, ErrInvalidRequest},
		{"long attribute value", CreateThingInput{Name: "t5", Attributes: map[string]string{"a": strings.Repeat("v", 801)}}, ErrInvalidRequest},
		{"three attributes", CreateThingInput{Name: "t6", Attributes: map[string]string{"a": "1", "b": "2", "c": "3"}}, nil},
		{"four attributes", CreateThingInput{Name: "t7", Attributes: map[string]string{"a": "1", "b": "2", "c": "3", "d": "4"}}, ErrInvalidRequest},
		{"four attributes with a type", CreateThingInput{Name: "t8", TypeName: "lamp", Attributes: map[string]string{"a": "1", "b": "2", "c": "3", "d": "4"}}, ErrInvalidRequest},
		{"unknown type", CreateThingInput{Name: "t9", TypeName: "never"}, ErrNotFound},
		{"deprecated type", CreateThingInput{Name: "t10", TypeName: "old"}, ErrInvalidRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			th, err := r.CreateThing(tc.in)
			wantKind(t, err, tc.kind)
			if tc.kind != nil {
				return
			}
			if th.Name != tc.in.Name || th.Version != 1 || th.TypeName != tc.in.TypeName {
				t.Fatalf("thing = %+v", th)
			}
			if _, err := uuid.Parse(th.ID); err != nil {
				t.Fatalf("id %q is not a UUID: %v", th.ID, err)
			}
			if want := "arn:aws:iot:eu-west-1:111122223333:thing/" + tc.in.Name; th.ARN != want {
				t.Fatalf("ARN = %q, want %q", th.ARN, want)
			}
			got, err := r.DescribeThing(tc.in.Name)
			wantKind(t, err, nil)
			if got.ID != th.ID || len(got.Attributes) != len(tc.in.Attributes) {
				t.Fatalf("DescribeThing = %+v, want %+v", got, th)
			}
		})
	}
}

func TestCreateThingIdempotence(t *testing.T) {
	r := openTest(t)
	mustType(t, r, "light")
	mustType(t, r, "bulb")
	first, err := r.CreateThing(CreateThingInput{Name: "lamp", TypeName: "light", Attributes: map[string]string{"room": "1"}})
	wantKind(t, err, nil)

	tests := []struct {
		name string
		in   CreateThingInput
		kind error
	}{
		{"same configuration", CreateThingInput{Name: "lamp", TypeName: "light", Attributes: map[string]string{"room": "1"}}, nil},
		{"different value", CreateThingInput{Name: "lamp", TypeName: "light", Attributes: map[string]string{"room": "2"}}, ErrAlreadyExists},
		{"extra attribute", CreateThingInput{Name: "lamp", TypeName: "light", Attributes: map[string]string{"room": "1", "x": "y"}}, ErrAlreadyExists},
		{"no attributes", CreateThingInput{Name: "lamp", TypeName: "light"}, ErrAlreadyExists},
		{"different type", CreateThingInput{Name: "lamp", TypeName: "bulb", Attributes: map[string]string{"room": "1"}}, ErrAlreadyExists},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			th, err := r.CreateThing(tc.in)
			if tc.kind == nil {
				wantKind(t, err, nil)
				if th.ID != first.ID || th.Version != 1 {
					t.Fatalf("got %+v, want the existing %+v", th, first)
				}
				return
			}
			wantKind(t, err, tc.kind, "Thing lamp already exists in account with different attributes")
			e := err.(*Error)
			if e.ResourceID != first.ID || e.ResourceARN != first.ARN {
				t.Fatalf("resource = %q %q, want %q %q", e.ResourceID, e.ResourceARN, first.ID, first.ARN)
			}
		})
	}

	// nil and empty attributes are the same configuration.
	plain, err := r.CreateThing(CreateThingInput{Name: "plain"})
	wantKind(t, err, nil)
	again, err := r.CreateThing(CreateThingInput{Name: "plain", Attributes: map[string]string{}})
	wantKind(t, err, nil)
	if again.ID != plain.ID {
		t.Fatal("empty attributes should match no attributes")
	}
}

func TestDescribeThingMissing(t *testing.T) {
	r := openTest(t)
	_, err := r.DescribeThing("nope")
	wantKind(t, err, ErrNotFound)
	_, err = r.DescribeThing("bad name")
	wantKind(t, err, ErrInvalidRequest)
}

func TestListThingsPaging(t *testing.T) {
	r := openTest(t)
	for i := range 120 {
		mustThing(t, r, fmt.Sprintf("thing-%03d", 119-i)) // created out of order; listed by name
	}
	tests := []struct {
		max   int
		pages []int
	}{
		{0, []int{50, 50, 20}},
		{1, nil}, // checked below by count only
		{40, []int{40, 40, 40}},
		{120, []int{120}},
		{250, []int{120}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint("max", tc.max), func(t *testing.T) {
			var (
				names []string
				sizes []int
				token string
			)
			for {
				page, next, err := r.ListThings(ListThingsInput{NextToken: token, MaxResults: tc.max})
				wantKind(t, err, nil)
				sizes = append(sizes, len(page))
				for _, th := range page {
					names = append(names, th.Name)
				}
				if next == "" {
					break
				}
				token = next
			}
			if len(names) != 120 {
				t.Fatalf("listed %d things, want 120", len(names))
			}
			for i, n := range names {
				if want := fmt.Sprintf("thing-%03d", i); n != want {
					t.Fatalf("names[%d] = %s, want %s", i, n, want)
				}
			}
			if tc.pages != nil && fmt.Sprint(sizes) != fmt.Sprint(tc.pages) {
				t.Fatalf("page sizes = %v, want %v", sizes, tc.pages)
			}
		})
	}

	bad := []ListThingsInput{
		{MaxResults: 251},
		{MaxResults: -1},
		{NextToken: "!!!"},
		{NextToken: encodeToken(tokPolicies, []byte("thing-001"))},
		{AttributeValue: "x"},
	}
	for _, in := range bad {
		_, _, err := r.ListThings(in)
		wantKind(t, err, ErrInvalidRequest)
	}
}

func TestListThingsFilters(t *testing.T) {
	r := openTest(t)
	mustType(t, r, "lamp")
	mustType(t, r, "fan")
	for _, in := range []CreateThingInput{
		{Name: "a", TypeName: "lamp", Attributes: map[string]string{"room": "kitchen"}},
		{Name: "b", TypeName: "lamp", Attributes: map[string]string{"room": "hall"}},
		{Name: "e", Attributes: map[string]string{"room": "kitchenette"}},
		{Name: "c", TypeName: "fan", Attributes: map[string]string{"room": "kitchen", "speed": "3"}},
		{Name: "d"},
	} {
		if _, err := r.CreateThing(in); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		in   ListThingsInput
		want string
	}{
		{"all", ListThingsInput{}, "a b c d e"},
		{"type", ListThingsInput{ThingTypeName: "lamp"}, "a b"},
		{"attribute value", ListThingsInput{AttributeName: "room", AttributeValue: "kitchen"}, "a c"},
		{"attribute value prefix", ListThingsInput{AttributeName: "room", AttributeValue: "kit", UsePrefixAttributeValue: true}, "a c e"},
		{"whole value as prefix", ListThingsInput{AttributeName: "room", AttributeValue: "kitchen", UsePrefixAttributeValue: true}, "a c e"},
		{"attribute present", ListThingsInput{AttributeName: "speed"}, "c"},
		{"type and attribute", ListThingsInput{ThingTypeName: "lamp", AttributeName: "room", AttributeValue: "kitchen"}, "a"},
		{"nothing matches", ListThingsInput{ThingTypeName: "none"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var names []string
			token := ""
			for {
				in := tc.in
				in.NextToken, in.MaxResults = token, 1
				page, next, err := r.ListThings(in)
				wantKind(t, err, nil)
				for _, th := range page {
					names = append(names, th.Name)
				}
				if next == "" {
					break
				}
				token = next
			}
			if got := strings.Join(names, " "); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDeleteThing(t *testing.T) {
	r := openTest(t)
	v1, v2 := int64(1), int64(2)
	mustThing(t, r, "kept")
	mustThing(t, r, "gone")
	attached := mustThing(t, r, "attached")
	c := mustCert(t, r, StatusActive)
	wantKind(t, r.AttachThingPrincipal(attached.Name, c.ARN, ""), nil)

	tests := []struct {
		name    string
		thing   string
		version *int64
		kind    error
		msg     string
	}{
		{"missing thing", "never-created", nil, nil, ""},
		{"missing thing with version", "never-created", &v2, nil, ""},
		{"invalid name", "bad name", nil, ErrInvalidRequest, ""},
		{"version conflict", "kept", &v2, ErrVersionConflict, ""},
		{"principal attached", "attached", nil, ErrInvalidRequest,
			"Cannot delete. Thing attached is still attached to one or more principals"},
		{"matching version", "gone", &v1, nil, ""},
		{"again", "gone", nil, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := r.DeleteThing(tc.thing, tc.version)
			if tc.msg != "" {
				wantKind(t, err, tc.kind, tc.msg)
			} else {
				wantKind(t, err, tc.kind)
			}
		})
	}
	if _, err := r.DescribeThing("gone"); err == nil {
		t.Fatal("deleted thing still described")
	}
	if _, err := r.DescribeThing("kept"); err != nil {
		t.Fatalf("kept thing: %v", err)
	}
	wantKind(t, r.DetachThingPrincipal(attached.Name, c.ARN), nil)
	wantKind(t, r.DeleteThing(attached.Name, nil), nil)
}
