package shadow

// Metadata mirrors a state section: every leaf is replaced by {"timestamp":T}, the epoch second
// at which it was last written; an array becomes an array of per-element metadata
// ("ColorRGB":[{"timestamp":T},{"timestamp":T}]); an object (also an empty one) stays an object
// (using-device-shadows.md). Metadata does not count toward the state size limit.

// leafMeta is the metadata of one written leaf.
func leafMeta(ts int64) map[string]any { return map[string]any{"timestamp": ts} }

// metaFor returns the metadata of a value written at ts. A null (a deletion, in an update request)
// is a leaf too: the /update/accepted document reports when the deletion happened, as AWS does
// ({"state":null} is answered with "metadata":{"timestamp":T}).
func metaFor(v any, ts int64) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, c := range x {
			m[k] = metaFor(c, ts)
		}
		return m
	case []any:
		a := make([]any, len(x))
		for i, c := range x {
			a[i] = metaFor(c, ts)
		}
		return a
	default:
		return leafMeta(ts)
	}
}

// metaAt returns the metadata matching a delta value: for an object, an object of the metadata of
// its members; for anything else, the metadata stored at the same place (a leaf's timestamp, or an
// array's per-element metadata). meta is the desired metadata at the same path as delta.
func metaAt(delta, meta any) any {
	d, ok := delta.(map[string]any)
	if !ok {
		return meta
	}
	m, _ := meta.(map[string]any)
	out := make(map[string]any, len(d))
	for k, c := range d {
		out[k] = metaAt(c, m[k])
	}
	return out
}
