package shadow

import "encoding/json"

// computeDelta returns the delta of a document: the desired values that reported does not match
// (device-shadow-document.md "Delta state"; device-shadow-mqtt.md "Message body details").
//
//   - Only desired keys are considered; a key only in reported never appears.
//   - A desired key missing from reported appears with its whole desired value (also when it was
//     just deleted from reported).
//   - Where both are objects the comparison recurses, and the member appears only if its own delta
//     is not empty, with the full path from the root ({"lights":{"color":{"g":255}}}).
//   - Otherwise (scalars, arrays, different types) a difference gives the whole desired value.
//   - Numbers are compared by value: 1, 1.0 and 1E0 are equal; so are numbers inside arrays.
//   - An empty desired object contributes nothing (Greengrass likewise treats {} as absent here).
//
// The result is nil when there is no delta.
func computeDelta(desired, reported map[string]any) map[string]any {
	var out map[string]any
	for k, dv := range desired {
		rv, inReported := reported[k]
		var d any
		switch x := dv.(type) {
		case map[string]any:
			rm, isObj := rv.(map[string]any)
			switch {
			case len(x) == 0:
			case isObj:
				if sub := computeDelta(x, rm); sub != nil {
					d = sub
				}
			default: // missing from reported, or not an object there
				d = dv
			}
		default:
			if !inReported || !valuesEqual(dv, rv) {
				d = dv
			}
		}
		if d == nil {
			continue
		}
		if out == nil {
			out = make(map[string]any)
		}
		out[k] = d
	}
	return out
}

// valuesEqual is deep equality of two JSON values, numbers compared by value.
func valuesEqual(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	case json.Number:
		y, ok := b.(json.Number)
		return ok && numbersEqual(x, y)
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !valuesEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !valuesEqual(xv, yv) {
				return false
			}
		}
		return true
	}
	return false
}
