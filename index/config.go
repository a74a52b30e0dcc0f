package index

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Field is one indexed field of the configuration: its name and type (Number, String, Boolean).
type Field struct {
	Name string `json:"name,omitempty"`
	Type string `json:"type,omitempty"`
}

// GeoLocation is a geolocation field of IndexingFilter.
type GeoLocation struct {
	Name  string `json:"name,omitempty"`
	Order string `json:"order,omitempty"`
}

// IndexingFilter is IndexingFilter: which named shadows and geolocations are indexed.
type IndexingFilter struct {
	NamedShadowNames []string       `json:"namedShadowNames,omitempty"`
	GeoLocations     []GeoLocation  `json:"geoLocations,omitempty"`
	Connectivity     map[string]any `json:"connectivity,omitempty"`
}

// ThingIndexingConfiguration is AWS's ThingIndexingConfiguration.
type ThingIndexingConfiguration struct {
	ThingIndexingMode             string          `json:"thingIndexingMode"`
	ThingConnectivityIndexingMode string          `json:"thingConnectivityIndexingMode,omitempty"`
	DeviceDefenderIndexingMode    string          `json:"deviceDefenderIndexingMode,omitempty"`
	NamedShadowIndexingMode       string          `json:"namedShadowIndexingMode,omitempty"`
	ManagedFields                 []Field         `json:"managedFields,omitempty"`
	CustomFields                  []Field         `json:"customFields,omitempty"`
	Filter                        *IndexingFilter `json:"filter,omitempty"`
}

// ThingGroupIndexingConfiguration is AWS's ThingGroupIndexingConfiguration.
type ThingGroupIndexingConfiguration struct {
	ThingGroupIndexingMode string  `json:"thingGroupIndexingMode"`
	ManagedFields          []Field `json:"managedFields,omitempty"`
	CustomFields           []Field `json:"customFields,omitempty"`
}

// Configuration is what GetIndexingConfiguration answers and UpdateIndexingConfiguration takes.
type Configuration struct {
	Thing ThingIndexingConfiguration      `json:"thingIndexingConfiguration"`
	Group ThingGroupIndexingConfiguration `json:"thingGroupIndexingConfiguration"`
}

// Modes.
const (
	ModeOff               = "OFF"
	ModeRegistry          = "REGISTRY"
	ModeRegistryAndShadow = "REGISTRY_AND_SHADOW"
	ModeStatus            = "STATUS"
	ModeOn                = "ON"
	ModeViolations        = "VIOLATIONS"
)

// Limits of the configuration (AWS quotas).
const (
	maxNamedShadowNames = 10
	maxGeoLocations     = 1
	maxCustomFields     = 100
)

var (
	shadowNameRE      = regexp.MustCompile(`^[$a-zA-Z0-9:_-]{1,64}$`)
	customFieldTailRE = regexp.MustCompile(`^[a-zA-Z0-9_-]+(\.[a-zA-Z0-9_-]+)*$`)
)

func oneOf(field, v string, allowed ...string) error {
	if slices.Contains(allowed, v) {
		return nil
	}
	return fmt.Errorf("%w: %s: %q is not one of %s", ErrInvalidRequest, field, v, strings.Join(allowed, ", "))
}

// normalize checks a configuration given to UpdateIndexingConfiguration, fills the defaults
// (OFF) of the optional modes and replaces the managed fields with those the modes index
// (managedFields is output only).
func normalize(c Configuration) (Configuration, error) {
	t := &c.Thing
	if t.ThingIndexingMode == "" {
		return c, fmt.Errorf("%w: thingIndexingConfiguration.thingIndexingMode: required", ErrInvalidRequest)
	}
	if err := oneOf("thingIndexingConfiguration.thingIndexingMode", t.ThingIndexingMode, ModeOff, ModeRegistry, ModeRegistryAndShadow); err != nil {
		return c, err
	}
	for _, m := range []struct {
		field string
		v     *string
		ok    []string
	}{
		{"thingConnectivityIndexingMode", &t.ThingConnectivityIndexingMode, []string{ModeOff, ModeStatus}},
		{"deviceDefenderIndexingMode", &t.DeviceDefenderIndexingMode, []string{ModeOff, ModeViolations}},
		{"namedShadowIndexingMode", &t.NamedShadowIndexingMode, []string{ModeOff, ModeOn}},
	} {
		if *m.v == "" {
			*m.v = ModeOff
		}
		if err := oneOf("thingIndexingConfiguration."+m.field, *m.v, m.ok...); err != nil {
			return c, err
		}
	}
	if t.ThingIndexingMode == ModeOff && (t.ThingConnectivityIndexingMode != ModeOff || t.NamedShadowIndexingMode != ModeOff || t.DeviceDefenderIndexingMode != ModeOff) {
		return c, fmt.Errorf("%w: thingIndexingConfiguration: connectivity, named shadow and Device Defender indexing need thingIndexingMode REGISTRY or REGISTRY_AND_SHADOW", ErrInvalidRequest)
	}
	if f := t.Filter; f != nil {
		if len(f.NamedShadowNames) > maxNamedShadowNames {
			return c, fmt.Errorf("%w: thingIndexingConfiguration.filter.namedShadowNames: at most %d names", ErrInvalidRequest, maxNamedShadowNames)
		}
		for i, n := range f.NamedShadowNames {
			if !shadowNameRE.MatchString(n) {
				return c, fmt.Errorf("%w: thingIndexingConfiguration.filter.namedShadowNames[%d]: %q is not a shadow name", ErrInvalidRequest, i, n)
			}
		}
		if len(f.GeoLocations) > maxGeoLocations {
			return c, fmt.Errorf("%w: thingIndexingConfiguration.filter.geoLocations: at most %d", ErrInvalidRequest, maxGeoLocations)
		}
		for i, g := range f.GeoLocations {
			if g.Order != "" {
				if err := oneOf(fmt.Sprintf("thingIndexingConfiguration.filter.geoLocations[%d].order", i), g.Order, "LatLon", "LonLat"); err != nil {
					return c, err
				}
			}
		}
	}
	if err := checkCustomFields("thingIndexingConfiguration", t.CustomFields, t.ThingIndexingMode, t.NamedShadowIndexingMode); err != nil {
		return c, err
	}
	t.ManagedFields = managedThingFields(*t)

	g := &c.Group
	if g.ThingGroupIndexingMode == "" {
		g.ThingGroupIndexingMode = ModeOff
	}
	if err := oneOf("thingGroupIndexingConfiguration.thingGroupIndexingMode", g.ThingGroupIndexingMode, ModeOff, ModeOn); err != nil {
		return c, err
	}
	if err := checkCustomFields("thingGroupIndexingConfiguration", g.CustomFields, "", ""); err != nil {
		return c, err
	}
	g.ManagedFields = nil
	if g.ThingGroupIndexingMode == ModeOn {
		g.ManagedFields = []Field{
			{"description", "String"}, {"parentGroupNames", "String"}, {"thingGroupId", "String"},
			{"thingGroupName", "String"}, {"version", "Number"},
		}
	}
	return c, nil
}

// checkCustomFields applies AWS's rules to custom fields: a known prefix the modes index, a
// tail of letters, digits, - and _, a type.
func checkCustomFields(where string, fs []Field, thingMode, namedMode string) error {
	if len(fs) > maxCustomFields {
		return fmt.Errorf("%w: %s.customFields: at most %d", ErrInvalidRequest, where, maxCustomFields)
	}
	for i, f := range fs {
		at := fmt.Sprintf("%s.customFields[%d]", where, i)
		if err := oneOf(at+".type", f.Type, "Number", "String", "Boolean"); err != nil {
			return err
		}
		tail, ok := "", false
		switch {
		case strings.HasPrefix(f.Name, "attributes."):
			tail, ok = strings.TrimPrefix(f.Name, "attributes."), true
		case strings.HasPrefix(f.Name, "shadow.desired.") || strings.HasPrefix(f.Name, "shadow.reported."):
			if thingMode != "" && thingMode != ModeRegistryAndShadow {
				return fmt.Errorf("%w: %s.name: %q needs thingIndexingMode REGISTRY_AND_SHADOW", ErrInvalidRequest, at, f.Name)
			}
			_, tail, _ = strings.Cut(strings.TrimPrefix(f.Name, "shadow."), ".")
			ok = true
		case strings.HasPrefix(f.Name, "shadow.name."):
			if thingMode != "" && namedMode != ModeOn {
				return fmt.Errorf("%w: %s.name: %q needs namedShadowIndexingMode ON", ErrInvalidRequest, at, f.Name)
			}
			parts := strings.SplitN(f.Name, ".", 5)
			if len(parts) == 5 && (parts[3] == "desired" || parts[3] == "reported") {
				tail, ok = parts[4], true
			}
		case strings.HasPrefix(f.Name, "deviceDefender."):
			tail, ok = strings.TrimPrefix(f.Name, "deviceDefender."), true
		}
		if !ok || !customFieldTailRE.MatchString(tail) {
			return fmt.Errorf("%w: %s.name: %q is not an indexable custom field (attributes.*, shadow.desired.*, shadow.reported.*, shadow.name.*.desired.*, shadow.name.*.reported.*, deviceDefender.*)", ErrInvalidRequest, at, f.Name)
		}
	}
	return nil
}

// managedThingFields are the fields the modes of t index, as GetIndexingConfiguration lists them.
func managedThingFields(t ThingIndexingConfiguration) []Field {
	if t.ThingIndexingMode == ModeOff {
		return nil
	}
	fs := []Field{
		{"registry.version", "Number"}, {"registry.thingTypeName", "String"}, {"registry.thingGroupNames", "String"},
		{"thingId", "String"}, {"thingName", "String"},
	}
	if t.ThingIndexingMode == ModeRegistryAndShadow {
		fs = append(fs, Field{"shadow.version", "Number"}, Field{"shadow.hasDelta", "Boolean"})
	}
	if t.NamedShadowIndexingMode == ModeOn {
		fs = append(fs, Field{"shadow.name.*.version", "Number"}, Field{"shadow.name.*.hasDelta", "Boolean"})
	}
	if t.ThingConnectivityIndexingMode == ModeStatus {
		fs = append(fs, Field{"connectivity.timestamp", "Number"}, Field{"connectivity.version", "Number"},
			Field{"connectivity.connected", "Boolean"}, Field{"connectivity.disconnectReason", "String"})
	}
	return fs
}

// defaultConfiguration is the configuration of an account that never set one: everything off.
func defaultConfiguration() Configuration {
	c, _ := normalize(Configuration{Thing: ThingIndexingConfiguration{ThingIndexingMode: ModeOff}})
	return c
}
