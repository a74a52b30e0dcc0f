package emulator

import (
	"bytes"
	"log/slog"
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

// A seed policy with an unknown iot: action is created, as AWS would, with a warning in the log.
func TestSeedPolicyWarning(t *testing.T) {
	var logs bytes.Buffer
	cfg := TestConfig(t.TempDir())
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	emu, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := emu.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	seed, err := ParseSeed([]byte(`policies: [{name: typo, document: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "iot:Publsh", Resource: "*"}]}}]`))
	if err != nil {
		t.Fatal(err)
	}
	if err := emu.ApplySeed(t.Context(), seed, ""); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "policy accepted with a warning") || !strings.Contains(logs.String(), "policy=typo") {
		t.Fatalf("no warning logged:\n%s", logs.String())
	}
}
