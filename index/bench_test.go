package index

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/iotcore-local/iotcore-local/registry"
	"github.com/iotcore-local/iotcore-local/shadow"
)

// largeBenchEnv includes the 100,000-thing SearchIndex benchmarks (BENCHMARKS.md).
const largeBenchEnv = "IOTCORE_BENCH_LARGE"

// syntheticIndex is an index whose documents are made directly (not through the registry), n
// things with attributes, a reported shadow and connectivity, as flatten makes them.
func syntheticIndex(n int) *Index {
	x := &Index{cfg: defaultConfiguration(), docs: make(map[string]*document, n), conns: map[string]Presence{}}
	x.on.Store(true)
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("thing-%06d", i)
		d := &document{m: registry.ThingMembership{Thing: registry.Thing{Name: name, ID: strconv.Itoa(i), Version: 1,
			Attributes: map[string]string{"floor": strconv.Itoa(i % 10), "model": []string{"lamp", "fan", "plug"}[i%3]}}}}
		d.shadows = map[string]map[string]any{"": {"state": map[string]any{"reported": map[string]any{
			"temp": float64(i % 40), "battery": float64(i % 100)}}, "version": 1.0}}
		if i%2 == 0 {
			x.conns[name] = Presence{ClientID: name, Connected: true, Timestamp: 1700000000000}
		}
		d.fields = x.flatten(d)
		x.docs[name] = d
	}
	return x
}

var benchQueries = []struct{ name, q string }{
	{"exact", "thingName:thing-004242"},
	{"prefix", "thingName:thing-0042*"},
	{"attribute", "attributes.model:fan AND attributes.floor:3"},
	{"range", "shadow.reported.temp:[10 TO 20] AND shadow.reported.battery>90"},
	{"connectivity", "connectivity.connected:true AND NOT attributes.model:plug"},
	{"bare", "fan"},
}

// BenchmarkSearch measures SearchIndex's work (parse, match every document, sort, render the
// first page of up to 100) over 10,000 things, and 100,000 with IOTCORE_BENCH_LARGE=1.
func BenchmarkSearch(b *testing.B) {
	sizes := []int{10_000}
	if os.Getenv(largeBenchEnv) != "" {
		sizes = append(sizes, 100_000)
	}
	for _, n := range sizes {
		x := syntheticIndex(n)
		for _, q := range benchQueries {
			b.Run(fmt.Sprintf("things=%d/%s", n, q.name), func(b *testing.B) {
				for b.Loop() {
					if _, err := x.Search(ThingsIndex, q.q, "", 100); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// benchIndex is an index over a real registry (with one thing) and shadow store, in mode.
func benchIndex(b *testing.B, thingMode, connMode string) (*Index, *shadow.Service) {
	b.Helper()
	dir := b.TempDir()
	reg, err := registry.Open(filepath.Join(dir, "registry.db"), registry.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = reg.Close() })
	if _, err := reg.CreateThing(registry.CreateThingInput{Name: "dev"}); err != nil {
		b.Fatal(err)
	}
	var x *Index
	svc, err := shadow.Open(filepath.Join(dir, "shadows.db"), shadow.Options{NoSync: true, OnChange: func(k shadow.Key) { x.ShadowChanged(k) }})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = svc.Close() })
	if x, err = New(Options{Registry: reg, Shadows: svc}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = x.Close() })
	if thingMode != ModeOff {
		if err := x.UpdateConfiguration(Configuration{Thing: ThingIndexingConfiguration{ThingIndexingMode: thingMode, ThingConnectivityIndexingMode: connMode}}); err != nil {
			b.Fatal(err)
		}
	}
	return x, svc
}

// BenchmarkUpkeep measures what keeping the index up to date adds on the message path: a
// connect+disconnect pair as the lifecycle hook reports it, and a shadow update through the
// shadow service (whose OnChange feeds the index), with indexing off and on.
func BenchmarkUpkeep(b *testing.B) {
	for _, m := range []struct{ name, thing, conn string }{
		{"indexing=off", ModeOff, ModeOff},
		{"indexing=on", ModeRegistryAndShadow, ModeStatus},
	} {
		b.Run("presence/"+m.name, func(b *testing.B) {
			x, _ := benchIndex(b, m.thing, m.conn)
			var ts int64
			for b.Loop() {
				ts++
				x.PresenceChanged(Presence{ClientID: "dev", Connected: true, Timestamp: ts, Version: ts})
				x.PresenceChanged(Presence{ClientID: "dev", Timestamp: ts, DisconnectReason: "CLIENT_INITIATED_DISCONNECT", Version: ts})
			}
		})
		b.Run("shadow-update/"+m.name, func(b *testing.B) {
			_, svc := benchIndex(b, m.thing, m.conn)
			key := shadow.Key{Thing: "dev"}
			i := 0
			for b.Loop() {
				i++
				if r := svc.Update(key, []byte(`{"state":{"reported":{"temp":`+strconv.Itoa(i%40)+`,"on":true}}}`)); r.Err != nil {
					b.Fatal(r.Err)
				}
			}
		})
	}
}
