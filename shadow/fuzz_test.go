package shadow

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// fixturePayloads returns the request payloads of the transcripts in testdata/shadow: the seeds
// of FuzzUpdate.
func fixturePayloads(t testing.TB) []string {
	var out []string
	for _, path := range fixtureFiles(t) {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 0, 1<<20), 1<<20)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "> "); ok {
				_, payload, _ := strings.Cut(rest, " ")
				out = append(out, payload)
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// FuzzUpdate sends random payloads to one shadow. The service must never panic, and must answer
// either 200 with valid JSON documents whose version matches the stored one, or an error document
// carrying its code. Plain `go test` runs it on the seeds (every request of testdata/shadow).
func FuzzUpdate(f *testing.F) {
	for _, p := range fixturePayloads(f) {
		f.Add([]byte(p))
	}
	f.Add([]byte("{\"state\":{\"desired\":{\"a\":\"\xff\"}}}"))
	f.Add([]byte(`{"state":{"desired":{"a":{"b":{"c":{"d":{"e":{"f":{"g":[]}}}}}}}}}`))
	svc := openTest(f, Options{NoSync: true})
	key := Key{Thing: "fuzz"}
	f.Fuzz(func(t *testing.T, payload []byte) {
		r := svc.Update(key, payload)
		checkResultJSON(t, r)
		if r.Status == 200 {
			accepted := version(t, r.Body)
			g := svc.Get(key, nil)
			if g.Status != 200 {
				t.Fatalf("get after an accepted update: %d %s", g.Status, g.Body)
			}
			checkResultJSON(t, g)
			if v := version(t, g.Body); v < accepted {
				t.Fatalf("stored version %d < accepted %d", v, accepted)
			}
			var doc struct {
				State    map[string]json.RawMessage
				Metadata map[string]json.RawMessage
			}
			if err := json.Unmarshal(g.Body, &doc); err != nil {
				t.Fatal(err)
			}
			for k := range doc.State {
				if k != "desired" && k != "reported" && k != "delta" {
					t.Fatalf("state member %q: %s", k, g.Body)
				}
			}
		} else if len(r.Publications) != 1 || !strings.HasSuffix(r.Publications[0].Topic, "/update/rejected") {
			t.Fatalf("refusal publications %v", topics(r))
		}
		// get and delete accept any payload without panicking.
		checkResultJSON(t, svc.Get(key, payload))
		if len(payload) > 0 && payload[0] == 'D' {
			checkResultJSON(t, svc.Delete(key, payload))
		}
	})
}
