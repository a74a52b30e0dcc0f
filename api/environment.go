package api

import (
	"github.com/iotcore-local/iotcore-local/auth"
	"github.com/iotcore-local/iotcore-local/registry"
)

// environmentFor builds the auth.Environment that a connection made with the certificate of view
// and the MQTT client ID clientID is compiled with, so that TestAuthorization answers exactly as
// the broker would decide for that connection. base carries what the emulator knows beyond the
// certificate (partition, region, account).
//
// The thing variables follow AWS's binding rule: the thing attached EXCLUSIVE_THING to the
// certificate, whatever the client ID; otherwise a thing attached NON_EXCLUSIVE_THING whose name
// equals the client ID; otherwise none, and ${iot:Connection.Thing.*} stays unresolved. A bound
// thing brings its type and attributes.
//
// This is the rule hooks.resolvePrincipal applies at CONNECT. It lives here, unexported, until it
// moves to one exported function that both the MQTT hook and this API call.
func environmentFor(view registry.CertificateView, clientID string, base auth.Environment,
	describeThing func(name string) (registry.Thing, error)) auth.Environment {
	env := base
	env.ClientID = clientID
	env.CertificateID = view.Certificate.ID
	if name := boundThing(view.Things, clientID); name != "" {
		env.ThingName = name
		env.ThingIsAttached = true
		// A thing attached to the certificate exists: the registry refuses to delete a thing
		// with principals. Should it vanish between the two reads, the thing variables other
		// than the name stay unresolved, as they would for the broker.
		if t, err := describeThing(name); err == nil {
			env.ThingTypeName = t.TypeName
			env.ThingAttributes = t.Attributes
		}
	}
	return env
}

// boundThing is the name of the thing whose variables a connection sees ("" for none): an
// exclusively attached thing, else a non-exclusively attached thing named like the client ID.
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
