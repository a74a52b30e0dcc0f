package provisioning

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Plan is what a template produces for one device once its parameters are known: the resources
// to create or update, and the device configuration to send back. The registry applies it in
// one transaction (registry.Provision).
type Plan struct {
	Thing               *ThingPlan
	Certificate         *CertificatePlan
	Policies            []PolicyPlan
	DeviceConfiguration map[string]string
	// ResourceARNs are filled by the caller once applied, keyed by logical id.
}

// ThingPlan is an evaluated AWS::IoT::Thing.
type ThingPlan struct {
	LogicalID  string
	Name       string
	TypeName   string
	Groups     []string
	Attributes map[string]string
	// BillingGroup is the billing group the thing joins ("" for none).
	BillingGroup string
	// HasAttributes, HasType and HasGroups say which properties the template gave.
	HasAttributes, HasType, HasGroups bool
	// Overrides maps AttributePayload, ThingTypeName and ThingGroups to their action.
	Overrides map[string]string
}

// CertificatePlan is an evaluated AWS::IoT::Certificate.
type CertificatePlan struct {
	LogicalID string
	ID        string
	CSR       string // RegisterThing (control plane) only: a CSR to sign
	PEM       string // RegisterThing (control plane) only: a certificate to register
	Status    string // ACTIVE or INACTIVE
	Override  string // OverrideSettings.Status
}

// PolicyPlan is an evaluated AWS::IoT::Policy: an existing policy by name, or a new document
// (whose name, when the template gives none, is a hash of the document as AWS does).
type PolicyPlan struct {
	LogicalID string
	Name      string
	Document  string // empty: the existing policy Name
}

// evaluator resolves intrinsic functions against parameters and mappings.
type evaluator struct {
	params   map[string]string
	mappings map[string]map[string]map[string]any
}

// Evaluate resolves the template for one request. params are the request's parameters
// (after a pre-provisioning hook's overrides and the built-in ones); declared parameters
// missing from params take their Default. A failure is a *DeviceError (400).
func (b *Body) Evaluate(params map[string]string) (*Plan, error) {
	ev := evaluator{params: map[string]string{}, mappings: b.Mappings}
	for name, p := range b.Parameters {
		if p.Default != nil {
			if s, ok := scalar(p.Default); ok {
				ev.params[name] = s
			}
		}
	}
	for k, v := range params {
		ev.params[k] = v
	}
	plan := &Plan{DeviceConfiguration: map[string]string{}}
	for _, id := range sortedKeys(b.Resources) {
		r := b.Resources[id]
		props := map[string]any{}
		for k, v := range r.Properties {
			val, err := ev.eval(v, "Resources."+id+".Properties."+k)
			if err != nil {
				return nil, err
			}
			props[k] = val
		}
		switch r.Type {
		case TypeThing:
			t, err := thingPlan(id, props, r.OverrideSettings)
			if err != nil {
				return nil, err
			}
			plan.Thing = t
		case TypeCertificate:
			c := &CertificatePlan{LogicalID: id, Status: "ACTIVE"}
			for _, k := range []string{"CertificateId", "CertificateSigningRequest", "CertificatePem"} {
				v, given := props[k]
				if !given {
					continue
				}
				s, ok := v.(string)
				if !ok || s == "" {
					return nil, evalErr("Resources.%s.Properties.%s: no value", id, k)
				}
				switch k {
				case "CertificateId":
					c.ID = s
				case "CertificateSigningRequest":
					c.CSR = s
				case "CertificatePem":
					c.PEM = s
				}
			}
			if s, ok := props["Status"]; ok {
				str, _ := scalar(s)
				if !validStatus(str) {
					return nil, evalErr("Resources.%s.Properties.Status: %q is not ACTIVE or INACTIVE", id, str)
				}
				c.Status = strings.ToUpper(str)
			}
			for k, v := range r.OverrideSettings {
				if overrideKeys[TypeCertificate][k] == "Status" {
					c.Override = v
				}
			}
			plan.Certificate = c
		case TypePolicy:
			p := PolicyPlan{LogicalID: id}
			if doc, ok := props["PolicyDocument"]; ok {
				switch d := doc.(type) {
				case string:
					p.Document = d
				default:
					data, err := json.Marshal(d)
					if err != nil {
						return nil, evalErr("Resources.%s.Properties.PolicyDocument: %v", id, err)
					}
					p.Document = string(data)
				}
				if p.Document == "" {
					return nil, evalErr("Resources.%s.Properties.PolicyDocument: empty", id)
				}
				sum := sha256.Sum256([]byte(p.Document))
				p.Name = strings.ToUpper(hex.EncodeToString(sum[:20]))
			} else {
				name, _ := scalar(props["PolicyName"])
				if name == "" {
					return nil, evalErr("Resources.%s.Properties.PolicyName: no value", id)
				}
				p.Name = name
			}
			plan.Policies = append(plan.Policies, p)
		}
	}
	for _, k := range sortedKeys(b.DeviceConfiguration) {
		v, err := ev.eval(b.DeviceConfiguration[k], "DeviceConfiguration."+k)
		if err != nil {
			return nil, err
		}
		s, ok := scalar(v)
		if !ok {
			data, _ := json.Marshal(v)
			s = string(data)
		}
		plan.DeviceConfiguration[k] = s
	}
	return plan, nil
}

func thingPlan(id string, props map[string]any, overrides map[string]string) (*ThingPlan, error) {
	t := &ThingPlan{LogicalID: id, Overrides: map[string]string{}}
	name, ok := scalar(props["ThingName"])
	if !ok || name == "" {
		return nil, evalErr("Resources.%s.Properties.ThingName: no value", id)
	}
	t.Name = name
	if v, ok := props["ThingTypeName"]; ok {
		t.TypeName, _ = scalar(v)
		t.HasType = true
	}
	if v, ok := props["AttributePayload"]; ok {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, evalErr("Resources.%s.Properties.AttributePayload: must be an object of attributes", id)
		}
		t.Attributes = map[string]string{}
		for k, a := range m {
			s, ok := scalar(a)
			if !ok {
				return nil, evalErr("Resources.%s.Properties.AttributePayload.%s: must be a string", id, k)
			}
			t.Attributes[k] = s
		}
		t.HasAttributes = true
	}
	if v, ok := props["ThingGroups"]; ok {
		list, ok := v.([]any)
		if !ok {
			return nil, evalErr("Resources.%s.Properties.ThingGroups: must be a list of group names", id)
		}
		for i, g := range list {
			s, ok := scalar(g)
			if !ok || s == "" {
				return nil, evalErr("Resources.%s.Properties.ThingGroups[%d]: must be a group name", id, i)
			}
			t.Groups = append(t.Groups, s)
		}
		t.HasGroups = true
	}
	if v, ok := props["BillingGroup"]; ok {
		if t.BillingGroup, ok = scalar(v); !ok {
			return nil, evalErr("Resources.%s.Properties.BillingGroup: must be a billing group name", id)
		}
	}
	for k, v := range overrides {
		t.Overrides[overrideKeys[TypeThing][k]] = v
	}
	return t, nil
}

func evalErr(format string, args ...any) error {
	return deviceError(400, CodeInvalidParameter, "Invalid template: "+format, args...)
}

// eval resolves the functions in v.
func (ev *evaluator) eval(v any, path string) (any, error) {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, err := ev.eval(e, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	case map[string]any:
		if fn, arg, ok := functionOf(x); ok {
			return ev.call(fn, arg, path+"."+fn)
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			r, err := ev.eval(e, path+"."+k)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	}
	return v, nil
}

func (ev *evaluator) str(v any, path string) (string, error) {
	r, err := ev.eval(v, path)
	if err != nil {
		return "", err
	}
	s, ok := scalar(r)
	if !ok {
		return "", evalErr("%s: expected a string", path)
	}
	return s, nil
}

func (ev *evaluator) call(fn string, arg any, path string) (any, error) {
	list, _ := arg.([]any)
	switch fn {
	case "Ref":
		name, _ := arg.(string)
		v, ok := ev.params[name]
		if !ok {
			return nil, evalErr("%s: parameter %s has no value", path, name)
		}
		return v, nil
	case "Fn::Join":
		delim, _ := list[0].(string)
		items, err := ev.eval(list[1], path+"[1]")
		if err != nil {
			return nil, err
		}
		vals, ok := items.([]any)
		if !ok {
			return nil, evalErr("%s[1]: expected a list", path)
		}
		parts := make([]string, len(vals))
		for i, e := range vals {
			s, ok := scalar(e)
			if !ok {
				return nil, evalErr("%s[1][%d]: expected a string", path, i)
			}
			parts[i] = s
		}
		return strings.Join(parts, delim), nil
	case "Fn::Select":
		idxText, err := ev.str(list[0], path+"[0]")
		if err != nil {
			return nil, err
		}
		idx, err := strconv.Atoi(idxText)
		if err != nil {
			return nil, evalErr("%s[0]: %q is not an index", path, idxText)
		}
		items, err := ev.eval(list[1], path+"[1]")
		if err != nil {
			return nil, err
		}
		vals, ok := items.([]any)
		if !ok {
			return nil, evalErr("%s[1]: expected a list", path)
		}
		if idx < 0 || idx >= len(vals) {
			return nil, evalErr("%s: index %d is outside the list of %d", path, idx, len(vals))
		}
		return vals[idx], nil
	case "Fn::Split":
		delim, _ := list[0].(string)
		s, err := ev.str(list[1], path+"[1]")
		if err != nil {
			return nil, err
		}
		parts := strings.Split(s, delim)
		out := make([]any, len(parts))
		for i, p := range parts {
			out[i] = p
		}
		return out, nil
	case "Fn::FindInMap":
		var keys [3]string
		for i := range keys {
			s, err := ev.str(list[i], fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			keys[i] = s
		}
		v, ok := ev.mappings[keys[0]][keys[1]][keys[2]]
		if !ok {
			return nil, evalErr("%s: no value at Mappings.%s.%s.%s", path, keys[0], keys[1], keys[2])
		}
		return v, nil
	case "Fn::Sub":
		text, vars := "", map[string]any{}
		if s, ok := arg.(string); ok {
			text = s
		} else {
			text, _ = list[0].(string)
			vars, _ = list[1].(map[string]any)
		}
		return ev.sub(text, vars, path)
	}
	return nil, evalErr("%s: function not supported", path)
}

// sub replaces ${Name} in text by the variable of that name (vars first, then parameters);
// ${!Literal} stays as ${Literal}, as in CloudFormation.
func (ev *evaluator) sub(text string, vars map[string]any, path string) (string, error) {
	var out strings.Builder
	for {
		i := strings.Index(text, "${")
		if i < 0 {
			out.WriteString(text)
			return out.String(), nil
		}
		out.WriteString(text[:i])
		j := strings.IndexByte(text[i:], '}')
		if j < 0 {
			return "", evalErr("%s: unclosed ${ in %q", path, text)
		}
		name := text[i+2 : i+j]
		text = text[i+j+1:]
		if lit, ok := strings.CutPrefix(name, "!"); ok {
			out.WriteString("${" + lit + "}")
			continue
		}
		if v, ok := vars[name]; ok {
			s, err := ev.str(v, path+"[1]."+name)
			if err != nil {
				return "", err
			}
			out.WriteString(s)
			continue
		}
		v, ok := ev.params[name]
		if !ok {
			return "", evalErr("%s: variable %s has no value", path, name)
		}
		out.WriteString(v)
	}
}
