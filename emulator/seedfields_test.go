package emulator

import (
	"strings"
	"testing"
)

func TestSeedUnknownFieldNamesEntryAndNearest(t *testing.T) {
	for _, tc := range []struct{ name, seed, want string }{
		{"top level", "polcies: []\n", `top level: unknown field "polcies"; did you mean "policies"?`},
		{"certificate entry", "things: [{name: sensor-1}]\ncertificates:\n  - thing: sensor-1\n    out: d\n  - thing: sensor-2\n    polices: [p]\n    out: e\n",
			`certificates[1] (thing sensor-2): unknown field "polices"; did you mean "policies"?`},
		{"thing entry", "things:\n  - name: lamp\n    atributes: {a: b}\n", `things[0] (lamp): unknown field "atributes"; did you mean "attributes"?`},
		{"far name lists the known", "things:\n  - name: lamp\n    colour: red\n", `things[0] (lamp): unknown field "colour"; known here: name, thingType, attributes`},
		{"JSON too", `{"policies":[{"name":"p","documnet":{}}]}`, `policies[0] (p): unknown field "documnet"; did you mean "document"?`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSeed([]byte(tc.seed))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseSeed = %v, want it to contain %s", err, tc.want)
			}
		})
	}
	if _, err := ParseSeed([]byte("things:\n  - Name: lamp\n")); err != nil {
		t.Fatalf("a key differing only in case is accepted by encoding/json; got %v", err)
	}
}
