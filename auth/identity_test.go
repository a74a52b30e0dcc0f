package auth

import (
	"testing"

	"github.com/iotcore-local/iotcore-local/registry"
)

func TestBindThing(t *testing.T) {
	nonEx := func(name string) registry.ThingAttachment {
		return registry.ThingAttachment{ThingName: name, Type: registry.NonExclusiveThing}
	}
	describe := func(name string) (registry.Thing, error) {
		return registry.Thing{Name: name, TypeName: "lamp", Attributes: map[string]string{"room": "lab"}}, nil
	}
	cases := []struct {
		name     string
		things   []registry.ThingAttachment
		clientID string
		want     string
	}{
		{"no things", nil, "a", ""},
		{"client id matches a non-exclusive thing", []registry.ThingAttachment{nonEx("x"), nonEx("a")}, "a", "a"},
		{"client id matches none", []registry.ThingAttachment{nonEx("x")}, "a", ""},
		{"exclusive thing binds whatever the client id", []registry.ThingAttachment{nonEx("a"), {ThingName: "solo", Type: registry.ExclusiveThing}}, "a", "solo"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			view := registry.CertificateView{Certificate: registry.Certificate{ID: "c1"}, Things: tc.things}
			env := BindThing(view, tc.clientID, Environment{Region: "us-east-1"}, describe)
			if env.ThingName != tc.want || env.ClientID != tc.clientID || env.CertificateID != "c1" || env.Region != "us-east-1" {
				t.Fatalf("env %+v, want thing %q", env, tc.want)
			}
			if tc.want != "" && (env.ThingTypeName != "lamp" || env.ThingAttributes["room"] != "lab" || !env.ThingIsAttached) {
				t.Fatalf("bound thing's type and attributes missing: %+v", env)
			}
		})
	}
}

func TestPoliciesInForce(t *testing.T) {
	view := registry.CertificateView{
		Policies:      []registry.Policy{{Name: "own"}, {Name: "shared"}},
		GroupPolicies: map[string][]registry.Policy{"t1": {{Name: "shared"}, {Name: "fleet"}}},
	}
	names := func(ps []registry.Policy) (out []string) {
		for _, p := range ps {
			out = append(out, p.Name)
		}
		return out
	}
	if got := names(PoliciesInForce(view, "t1")); len(got) != 3 || got[0] != "own" || got[1] != "shared" || got[2] != "fleet" {
		t.Fatalf("bound thing t1: %v, want [own shared fleet]", got)
	}
	if got := names(PoliciesInForce(view, "")); len(got) != 2 {
		t.Fatalf("no bound thing: %v, want the certificate's two", got)
	}
}
