package auth

import (
	"github.com/iotcore-local/iotcore-local/registry"
)

// BindThing returns base completed with what a connection made with the certificate of view and
// the MQTT client id clientID knows: its client id, certificate id, and the thing it is bound to.
// AWS's binding rule: the thing attached EXCLUSIVE_THING to the certificate, whatever the client
// id; otherwise a thing attached NON_EXCLUSIVE_THING whose name equals the client id; otherwise
// none, and ${iot:Connection.Thing.*} stays unresolved. A bound thing brings its type and
// attributes, read with describeThing. The MQTT broker, the HTTPS data plane and
// TestAuthorization all bind with this one rule.
func BindThing(view registry.CertificateView, clientID string, base Environment,
	describeThing func(name string) (registry.Thing, error)) Environment {
	env := base
	env.ClientID = clientID
	env.CertificateID = view.Certificate.ID
	if name := boundThing(view.Things, clientID); name != "" {
		env.ThingName = name
		env.ThingIsAttached = true
		// A thing with principals cannot be deleted; should it vanish between the two reads,
		// the thing variables other than its name stay unresolved.
		if t, err := describeThing(name); err == nil {
			env.ThingTypeName = t.TypeName
			env.ThingAttributes = t.Attributes
		}
	}
	return env
}

// boundThing is the name of the thing a connection is bound to, or "".
func boundThing(things []registry.ThingAttachment, clientID string) string {
	for _, t := range things {
		if t.Type == registry.ExclusiveThing {
			return t.ThingName
		}
	}
	for _, t := range things {
		if t.ThingName == clientID {
			return t.ThingName
		}
	}
	return ""
}

// PoliciesInForce is the policies that decide for a connection: those attached to its
// certificate, then those its bound thing receives from its thing groups and their ancestors,
// each policy once.
func PoliciesInForce(view registry.CertificateView, thingName string) []registry.Policy {
	out := append([]registry.Policy(nil), view.Policies...)
	if thingName == "" {
		return out
	}
	seen := make(map[string]bool, len(out))
	for _, p := range out {
		seen[p.Name] = true
	}
	for _, p := range view.GroupPolicies[thingName] {
		if !seen[p.Name] {
			seen[p.Name] = true
			out = append(out, p)
		}
	}
	return out
}

// CompilePolicies parses stored policies (each distinct text once per process) and compiles them
// for env. A stored document that no longer parses decides nothing (the registry validates
// documents when they are written).
func CompilePolicies(policies []registry.Policy, env Environment) *Compiled {
	docs := make([]NamedDocument, 0, len(policies))
	for _, p := range policies {
		doc, err := parsedDocuments.parse(p.Document)
		if err != nil {
			continue
		}
		docs = append(docs, NamedDocument{Name: p.Name, Document: doc})
	}
	return Compile(docs, env)
}
