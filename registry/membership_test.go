package registry

import (
	"reflect"
	"sync"
	"testing"
)

// TestMembershipChanged: joining and leaving a group (directly, by deleting the thing, by
// deleting the group) and deleting a thing are reported whatever the event configuration, for
// the jobs service.
func TestMembershipChanged(t *testing.T) {
	r := openTest(t)
	var mu sync.Mutex
	var got []Event
	t.Cleanup(r.Watch(func(e Event) {
		if e.Kind == MembershipChanged || e.Kind == ThingDeleted {
			mu.Lock()
			got = append(got, e)
			mu.Unlock()
		}
	}))
	take := func() []Event {
		mu.Lock()
		defer mu.Unlock()
		g := got
		got = nil
		return g
	}
	for _, n := range []string{"a", "b"} {
		if _, err := r.CreateThing(CreateThingInput{Name: n}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.CreateThingGroup(CreateThingGroupInput{Name: "g"}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a", "b"} {
		if err := r.AddThingToThingGroup("g", n); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.AddThingToThingGroup("g", "a"); err != nil { // already in: no event
		t.Fatal(err)
	}
	want := []Event{{Kind: MembershipChanged, ThingName: "a", GroupName: "g", Added: true}, {Kind: MembershipChanged, ThingName: "b", GroupName: "g", Added: true}}
	if g := take(); !reflect.DeepEqual(g, want) {
		t.Fatalf("joins: %+v", g)
	}
	if err := r.RemoveThingFromThingGroup("g", "a"); err != nil {
		t.Fatal(err)
	}
	if err := r.DeleteThing("b", nil); err != nil {
		t.Fatal(err)
	}
	want = []Event{{Kind: MembershipChanged, ThingName: "a", GroupName: "g"}, {Kind: MembershipChanged, ThingName: "b", GroupName: "g"}, {Kind: ThingDeleted, ThingName: "b"}}
	if g := take(); !reflect.DeepEqual(g, want) {
		t.Fatalf("leaves: %+v", g)
	}
	if err := r.AddThingToThingGroup("g", "a"); err != nil {
		t.Fatal(err)
	}
	take()
	if err := r.DeleteThingGroup("g", nil); err != nil {
		t.Fatal(err)
	}
	if g := take(); !reflect.DeepEqual(g, []Event{{Kind: MembershipChanged, ThingName: "a", GroupName: "g"}}) {
		t.Fatalf("group deleted: %+v", g)
	}
}
