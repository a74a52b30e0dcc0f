package shadow

// Merge rules (device-shadow-document.md, device-shadow-data-flow.md; Greengrass JsonMerger):
//
//   - Only the fields sent change. Objects merge recursively, key by key.
//   - A key set to null is deleted (with its metadata). Deleting a key that does not exist is
//     not an error.
//   - Scalars and arrays replace the stored value whole; an array cannot be updated in part.
//   - An object sent where the stored value is not an object (or is missing) is merged into an
//     empty object: its nulls delete nothing and are dropped.
//   - An empty object is a value: {"a":{}} stores an empty a, and deleting the last key of a nested
//     object leaves that object empty rather than removing it, as AWS IoT does (Greengrass shadow
//     manager PR #213 "keep the empty parent object (which matches IoT Shadow)"; moto PR #8884).
//   - A section (desired or reported) left with no key is removed: a document has a desired
//     section only if it has a desired state (device-shadow-document.md "Empty sections"). So
//     "desired": {} changes nothing, and "desired": null removes the section.
//   - Only written leaves get a new timestamp in the metadata; untouched ones keep theirs.

// mergeSection applies the request's value for one section (desired or reported; nil for JSON
// null) to the stored section and its metadata, and returns the new section and metadata (both nil
// when the section ends up absent). The stored maps are modified in place.
func mergeSection(state, meta map[string]any, patch any, ts int64) (map[string]any, map[string]any) {
	p, ok := patch.(map[string]any)
	if !ok {
		return nil, nil
	}
	if state == nil {
		state = make(map[string]any, len(p))
	}
	if meta == nil {
		meta = make(map[string]any, len(p))
	}
	mergeObject(state, meta, p, ts)
	if len(state) == 0 {
		return nil, nil
	}
	return state, meta
}

// mergeObject merges patch into the object dst, whose metadata object is dstMeta.
func mergeObject(dst, dstMeta, patch map[string]any, ts int64) {
	for k, pv := range patch {
		switch p := pv.(type) {
		case nil:
			delete(dst, k)
			delete(dstMeta, k)
		case map[string]any:
			cur, wasObj := dst[k].(map[string]any)
			curMeta, hasMeta := dstMeta[k].(map[string]any)
			if !wasObj {
				// A scalar's metadata {"timestamp":T} is a map too: it must not be reused as
				// the metadata of the object that replaces the scalar.
				cur, hasMeta = make(map[string]any, len(p)), false
				dst[k] = cur
			}
			if !hasMeta {
				curMeta = make(map[string]any, len(p))
				dstMeta[k] = curMeta
			}
			mergeObject(cur, curMeta, p, ts)
		default:
			// Scalars and arrays from the request are never modified afterwards, so they are
			// stored without a copy.
			dst[k] = pv
			dstMeta[k] = metaFor(pv, ts)
		}
	}
}
