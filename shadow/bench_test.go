package shadow

import (
	"fmt"
	"testing"
)

// smallUpdate is a typical device report: a few scalars and a nested object.
const smallUpdate = `{"state":{"reported":{"color":"red","brightness":%d,"on":true,"rgb":{"r":255,"g":0,"b":0}}},"clientToken":"bench"}`

// BenchmarkUpdate measures one accepted update of a small shadow with a delta, through the store
// (one bbolt write transaction; NoSync, so the figure is the emulator's work and not the disk's
// fsync).
func BenchmarkUpdate(b *testing.B) {
	svc := openTest(b, Options{NoSync: true})
	key := Key{Thing: "bench"}
	if r := svc.Update(key, []byte(`{"state":{"desired":{"color":"blue","brightness":1}}}`)); r.Status != 200 {
		b.Fatal(string(r.Body))
	}
	payloads := make([][]byte, 64)
	for i := range payloads {
		payloads[i] = fmt.Appendf(nil, smallUpdate, i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if r := svc.Update(key, payloads[i%len(payloads)]); r.Status != 200 {
			b.Fatal(string(r.Body))
		}
		i++
	}
}

// BenchmarkUpdateSync is BenchmarkUpdate with an fsync per update, as `serve` runs.
func BenchmarkUpdateSync(b *testing.B) {
	svc := openTest(b, Options{})
	key := Key{Thing: "bench"}
	payload := fmt.Appendf(nil, smallUpdate, 1)
	b.ReportAllocs()
	for b.Loop() {
		if r := svc.Update(key, payload); r.Status != 200 {
			b.Fatal(string(r.Body))
		}
	}
}

// BenchmarkGet measures a get of a small shadow with a delta.
func BenchmarkGet(b *testing.B) {
	svc := openTest(b, Options{NoSync: true})
	key := Key{Thing: "bench"}
	svc.Update(key, []byte(`{"state":{"desired":{"color":"blue","brightness":1}}}`))
	svc.Update(key, fmt.Appendf(nil, smallUpdate, 1))
	b.ReportAllocs()
	for b.Loop() {
		if r := svc.Get(key, nil); r.Status != 200 {
			b.Fatal(string(r.Body))
		}
	}
}

// BenchmarkApplyUpdate measures the engine alone (parse, merge, delta, documents) without storage.
func BenchmarkApplyUpdate(b *testing.B) {
	payload := fmt.Appendf(nil, smallUpdate, 1)
	base, _ := decodeJSON([]byte(`{"color":"blue","brightness":1}`))
	b.ReportAllocs()
	for b.Loop() {
		req, e := parseUpdate(payload)
		if e != nil {
			b.Fatal(e)
		}
		desired := base.(map[string]any)
		cur := &document{Version: 1, Desired: desired, MetaDesired: metaFor(desired, 1).(map[string]any)}
		if _, e := applyUpdate(cur, nil, req, 2, DefaultMaxStateBytes); e != nil {
			b.Fatal(e)
		}
	}
}
