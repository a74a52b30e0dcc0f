package provisioning

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// The resource types a provisioning template may declare.
const (
	TypeThing       = "AWS::IoT::Thing"
	TypeCertificate = "AWS::IoT::Certificate"
	TypePolicy      = "AWS::IoT::Policy"
)

// The OverrideSettings actions.
const (
	OverrideDoNothing = "DO_NOTHING"
	OverrideReplace   = "REPLACE"
	OverrideFail      = "FAIL"
	OverrideMerge     = "MERGE"
)

// maxTemplateBody is the model's limit on templateBody (characters).
const maxTemplateBody = 10240

// Body is a parsed template body. Values of Resources, DeviceConfiguration and the parameter
// defaults keep their JSON shape (string, float64, bool, []any, map[string]any) until Evaluate
// resolves the intrinsic functions in them.
type Body struct {
	Parameters          map[string]Parameter                 `json:"Parameters"`
	Mappings            map[string]map[string]map[string]any `json:"Mappings"`
	Resources           map[string]Resource                  `json:"Resources"`
	DeviceConfiguration map[string]any                       `json:"DeviceConfiguration"`
}

// Parameter is one entry of Parameters.
type Parameter struct {
	Type    string `json:"Type"`
	Default any    `json:"Default"`
}

// Resource is one entry of Resources.
type Resource struct {
	Type             string            `json:"Type"`
	Properties       map[string]any    `json:"Properties"`
	OverrideSettings map[string]string `json:"OverrideSettings"`
}

// allowed property names per resource type, and the OverrideSettings keys each accepts.
var (
	resourceProperties = map[string][]string{
		TypeThing:       {"ThingName", "AttributePayload", "ThingTypeName", "ThingGroups", "BillingGroup"},
		TypeCertificate: {"CertificateId", "CertificateSigningRequest", "CertificatePem", "CACertificatePem", "Status"},
		TypePolicy:      {"PolicyName", "PolicyDocument"},
	}
	// overrideKeys maps each accepted OverrideSettings key to the property it governs: AWS's
	// prose names the upper-case forms, its examples the property names; both are accepted.
	overrideKeys = map[string]map[string]string{
		TypeThing: {
			"AttributePayload": "AttributePayload", "ATTRIBUTE_PAYLOAD": "AttributePayload",
			"ThingTypeName": "ThingTypeName", "THING_TYPE_NAME": "ThingTypeName",
			"ThingGroups": "ThingGroups", "THING_GROUPS": "ThingGroups",
		},
		TypeCertificate: {"Status": "Status", "STATUS": "Status"},
	}
	intrinsics = []string{"Ref", "Fn::Join", "Fn::Select", "Fn::FindInMap", "Fn::Split", "Fn::Sub"}
)

// ParseBody parses and validates a template body for a template of the given type
// (FLEET_PROVISIONING or JITP). Every refusal names the field, e.g.
// "templateBody: Resources.thing.Properties.ThingGroups: ...".
func ParseBody(text string, typ TemplateType) (*Body, error) {
	if strings.TrimSpace(text) == "" {
		return nil, bodyErr("", "the template body is empty")
	}
	if n := len([]rune(text)); n > maxTemplateBody {
		return nil, bodyErr("", "the template body has %d characters; at most %d are allowed", n, maxTemplateBody)
	}
	var top map[string]json.RawMessage
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	if err := dec.Decode(&top); err != nil {
		return nil, bodyErr("", "not a JSON object: %v", err)
	}
	if dec.More() {
		return nil, bodyErr("", "unexpected data after the JSON object")
	}
	for k := range top {
		switch k {
		case "Parameters", "Resources", "Mappings", "DeviceConfiguration":
		case "AWSTemplateFormatVersion", "Description":
			// CloudFormation sections AWS's JITP examples do not use; harmless, ignored.
		default:
			return nil, bodyErr(k, "unknown section; a provisioning template has Parameters, Mappings, Resources and DeviceConfiguration")
		}
	}
	var b Body
	d := json.NewDecoder(bytes.NewReader([]byte(text)))
	if err := d.Decode(&b); err != nil {
		return nil, bodyErr("", "%v", err)
	}
	if err := b.validate(typ); err != nil {
		return nil, err
	}
	return &b, nil
}

func bodyErr(field, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if field != "" {
		msg = field + ": " + msg
	}
	return newError(ErrInvalidRequest, "Invalid templateBody: %s", msg)
}

// validate checks the structure: known sections, parameter types, resource types and
// properties, override settings, intrinsic function shapes.
func (b *Body) validate(typ TemplateType) error {
	for _, name := range sortedKeys(b.Parameters) {
		p := b.Parameters[name]
		switch p.Type {
		case "String", "Number", "CommaDelimitedList":
		case "":
			return bodyErr("Parameters."+name+".Type", "required (String)")
		default:
			return bodyErr("Parameters."+name+".Type", "%q is not supported; use String", p.Type)
		}
		if p.Default != nil {
			if _, ok := scalar(p.Default); !ok {
				return bodyErr("Parameters."+name+".Default", "must be a string or a number")
			}
		}
	}
	for m, top := range b.Mappings {
		for k1, second := range top {
			for k2, v := range second {
				if obj, ok := v.(map[string]any); ok && len(obj) > 0 {
					return bodyErr(fmt.Sprintf("Mappings.%s.%s.%s", m, k1, k2), "functions are not allowed inside Mappings")
				}
			}
		}
	}
	if len(b.Resources) == 0 {
		return bodyErr("Resources", "required: at least one resource")
	}
	var things, certs int
	for _, id := range sortedKeys(b.Resources) {
		r := b.Resources[id]
		path := "Resources." + id
		allowed, ok := resourceProperties[r.Type]
		if !ok {
			return bodyErr(path+".Type", "%q is not a resource type; use %s, %s or %s", r.Type, TypeThing, TypeCertificate, TypePolicy)
		}
		for _, p := range sortedKeys(r.Properties) {
			if !slices.Contains(allowed, p) {
				return bodyErr(path+".Properties."+p, "unknown property of %s; known: %s", r.Type, strings.Join(allowed, ", "))
			}
			if err := checkFunctions(r.Properties[p], path+".Properties."+p); err != nil {
				return err
			}
		}
		for k, v := range r.OverrideSettings {
			prop, ok := overrideKeys[r.Type][k]
			if !ok {
				return bodyErr(path+".OverrideSettings."+k, "not an override setting of %s", r.Type)
			}
			switch v {
			case OverrideDoNothing, OverrideReplace, OverrideFail:
			case OverrideMerge:
				if prop != "AttributePayload" && prop != "ThingGroups" {
					return bodyErr(path+".OverrideSettings."+k, "MERGE is allowed only for AttributePayload and ThingGroups")
				}
			default:
				return bodyErr(path+".OverrideSettings."+k, "%q is not DO_NOTHING, REPLACE, FAIL or MERGE", v)
			}
		}
		switch r.Type {
		case TypeThing:
			things++
			if _, ok := r.Properties["ThingName"]; !ok {
				return bodyErr(path+".Properties.ThingName", "required")
			}
		case TypeCertificate:
			certs++
			var ways []string
			for _, k := range []string{"CertificateId", "CertificateSigningRequest", "CertificatePem"} {
				if _, ok := r.Properties[k]; ok {
					ways = append(ways, k)
				}
			}
			if len(ways) != 1 {
				return bodyErr(path+".Properties", "exactly one of CertificateId, CertificateSigningRequest or CertificatePem is required (got %d)", len(ways))
			}
			if ways[0] != "CertificateId" && typ != singleThing {
				return bodyErr(path+".Properties."+ways[0], "fleet provisioning and JITP templates name the certificate by CertificateId")
			}
			if s, ok := r.Properties["Status"].(string); ok && !validStatus(s) {
				return bodyErr(path+".Properties.Status", "%q is not ACTIVE or INACTIVE", s)
			}
		case TypePolicy:
			_, named := r.Properties["PolicyName"]
			_, doc := r.Properties["PolicyDocument"]
			if named == doc {
				return bodyErr(path+".Properties", "exactly one of PolicyName or PolicyDocument is required")
			}
			if len(r.OverrideSettings) > 0 {
				return bodyErr(path+".OverrideSettings", "a policy resource takes no override settings")
			}
		}
	}
	if things > 1 {
		return bodyErr("Resources", "at most one %s resource", TypeThing)
	}
	if certs > 1 {
		return bodyErr("Resources", "at most one %s resource", TypeCertificate)
	}
	for _, k := range sortedKeys(b.DeviceConfiguration) {
		if err := checkFunctions(b.DeviceConfiguration[k], "DeviceConfiguration."+k); err != nil {
			return err
		}
	}
	return nil
}

func validStatus(s string) bool {
	u := strings.ToUpper(s)
	return u == "ACTIVE" || u == "INACTIVE"
}

// checkFunctions walks a value and checks that every object with a single "Fn::"/"Ref" key is
// a known function with the right argument shape.
func checkFunctions(v any, path string) error {
	switch x := v.(type) {
	case []any:
		for i, e := range x {
			if err := checkFunctions(e, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case map[string]any:
		if fn, arg, ok := functionOf(x); ok {
			p := path + "." + fn
			if !slices.Contains(intrinsics, fn) {
				return bodyErr(p, "function not supported in provisioning templates; use %s", strings.Join(intrinsics, ", "))
			}
			if err := checkArgs(fn, arg, p); err != nil {
				return err
			}
			return checkFunctions(arg, p)
		}
		for _, k := range sortedKeys(x) {
			if err := checkFunctions(x[k], path+"."+k); err != nil {
				return err
			}
		}
	}
	return nil
}

// functionOf reports whether m is a function call: a single key that is "Ref", "Condition" or
// starts with "Fn::".
func functionOf(m map[string]any) (string, any, bool) {
	if len(m) != 1 {
		return "", nil, false
	}
	for k, v := range m {
		if k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::") {
			return k, v, true
		}
	}
	return "", nil, false
}

func checkArgs(fn string, arg any, path string) error {
	list, isList := arg.([]any)
	switch fn {
	case "Ref":
		if s, ok := arg.(string); !ok || s == "" {
			return bodyErr(path, "takes a parameter name")
		}
	case "Fn::Join":
		if !isList || len(list) != 2 {
			return bodyErr(path, "takes [delimiter, [values...]]")
		}
		if _, ok := list[0].(string); !ok {
			return bodyErr(path+"[0]", "the delimiter must be a string")
		}
	case "Fn::Select":
		if !isList || len(list) != 2 {
			return bodyErr(path, "takes [index, list]")
		}
	case "Fn::FindInMap":
		if !isList || len(list) != 3 {
			return bodyErr(path, "takes [MapName, TopLevelKey, SecondLevelKey]")
		}
	case "Fn::Split":
		if !isList || len(list) != 2 {
			return bodyErr(path, "takes [delimiter, string]")
		}
		if _, ok := list[0].(string); !ok {
			return bodyErr(path+"[0]", "the delimiter must be a string")
		}
	case "Fn::Sub":
		if _, ok := arg.(string); ok {
			return nil
		}
		if !isList || len(list) != 2 {
			return bodyErr(path, "takes a string or [string, {Name: value}]")
		}
		if _, ok := list[0].(string); !ok {
			return bodyErr(path+"[0]", "must be a string")
		}
		if _, ok := list[1].(map[string]any); !ok {
			return bodyErr(path+"[1]", "must be an object of variables")
		}
	}
	return nil
}

// scalar renders a string, number or boolean as a string.
func scalar(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case float64:
		return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%f", x), "0"), "."), true
	case bool:
		if x {
			return "true", true
		}
		return "false", true
	}
	return "", false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
