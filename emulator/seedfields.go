package emulator

import (
	"encoding/json"
	"fmt"
	"github.com/iotcore-local/iotcore-local/internal/spelling"
	"reflect"
	"slices"
	"strings"
)

// unknownSeedField finds the first key of a parsed seed document that Seed does not know and
// explains it with its place ("certificates[1] (thing sensor-1)") and the nearest known key.
// It returns nil when every key is known.
func unknownSeedField(tree any) error {
	return unknownField(tree, reflect.TypeOf(Seed{}), "")
}

var rawMessageType = reflect.TypeOf(json.RawMessage{})

func unknownField(v any, t reflect.Type, path string) error {
	if t == rawMessageType {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		fields := map[string]reflect.Type{}
		var names []string
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			fields[name] = f.Type
			names = append(names, name)
		}
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range m {
				if !yield(k) {
					return
				}
			}
		})
		for _, k := range keys {
			ft, known := lookupField(fields, k)
			if !known {
				where := "top level"
				if path != "" {
					where = path
				}
				msg := fmt.Sprintf("%s: unknown field %q", where, k)
				if near := nearestName(k, names); near != "" {
					msg += fmt.Sprintf("; did you mean %q?", near)
				} else {
					msg += "; known here: " + strings.Join(names, ", ")
				}
				return fmt.Errorf("%s", msg)
			}
			sub := k
			if path != "" {
				sub = path + "." + k
			}
			if err := unknownField(m[k], ft, sub); err != nil {
				return err
			}
		}
	case reflect.Slice:
		list, ok := v.([]any)
		if !ok {
			return nil
		}
		for i, e := range list {
			if err := unknownField(e, t.Elem(), fmt.Sprintf("%s[%d]%s", path, i, entryLabel(e))); err != nil {
				return err
			}
		}
	}
	return nil
}

// lookupField matches a key as encoding/json does: exactly, else without case.
func lookupField(fields map[string]reflect.Type, key string) (reflect.Type, bool) {
	if t, ok := fields[key]; ok {
		return t, true
	}
	for name, t := range fields {
		if strings.EqualFold(name, key) {
			return t, true
		}
	}
	return nil, false
}

// entryLabel names a list entry by its name, thing or access key id, for messages.
func entryLabel(e any) string {
	m, ok := e.(map[string]any)
	if !ok {
		return ""
	}
	for _, k := range []string{"name", "thing", "accessKeyId"} {
		if s, ok := m[k].(string); ok && s != "" {
			if k == "name" {
				return fmt.Sprintf(" (%s)", s)
			}
			return fmt.Sprintf(" (%s %s)", k, s)
		}
	}
	return ""
}

// nearestName is the known name closest to key, or "" when none is close.
func nearestName(key string, names []string) string {
	best, bestDist := "", 1<<30
	for _, n := range names {
		if d := spelling.Distance(strings.ToLower(key), strings.ToLower(n)); d < bestDist {
			best, bestDist = n, d
		}
	}
	if bestDist <= max(2, len(key)/3) {
		return best
	}
	return ""
}
