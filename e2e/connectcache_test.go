package e2e

import (
	"testing"

	"github.com/iotcore-local/iotcore-local/listener"
	"github.com/iotcore-local/iotcore-local/registry"
)

// TestReconnectFollowsRegistryChanges: the authorizer caches what a reconnecting certificate
// needs (principal, compiled policies, certificate facts for the transcript). Every kind of
// registry change between two connects of the same certificate and client id must take effect
// at the next CONNECT as if nothing were cached: a new default policy version, the old one set
// default again, a policy detached and attached, a thing attribute a policy variable reads, the
// certificate's status.
func TestReconnectFollowsRegistryChanges(t *testing.T) {
	emu := startEmulator(t, "")
	const thing = "cache-1"
	d := device(t, emu, thing)
	reg := emu.Registry()
	policy := thing + "-policy"

	connect := func(step string, want bool) {
		t.Helper()
		for range 2 { // the second connect of a step is the one a cache would answer
			got, err := rawConnect(t, emu.MQTTAddr(), thing, tlsConfig(t, d))
			if err != nil {
				t.Fatalf("%s: %v", step, err)
			}
			accepted := len(got) == 4 && got[0] == 0x20 && got[3] == 0
			if accepted != want {
				t.Fatalf("%s: server sent %x, want accepted=%v", step, got, want)
			}
		}
	}
	connect("initial policy", true)

	denyAll := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-east-1:123456789012:client/somebody-else"}]}`
	if _, err := reg.CreatePolicyVersion(policy, denyAll, true); err != nil {
		t.Fatal(err)
	}
	connect("new default version allowing another client id", false)
	if err := reg.SetDefaultPolicyVersion(policy, "1"); err != nil {
		t.Fatal(err)
	}
	connect("version 1 default again", true)

	if err := reg.DetachPolicy(policy, d.CertificateARN); err != nil {
		t.Fatal(err)
	}
	connect("policy detached", false)
	if err := reg.AttachPolicy(policy, d.CertificateARN); err != nil {
		t.Fatal(err)
	}
	connect("policy attached again", true)

	byAttribute := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.Attributes[cid]}"}]}`
	if _, err := reg.CreatePolicyVersion(policy, byAttribute, true); err != nil {
		t.Fatal(err)
	}
	connect("attribute not set", false)
	if _, err := reg.UpdateThing(registry.UpdateThingInput{Name: thing, Attributes: &registry.AttributePayload{Attributes: map[string]string{"cid": thing}}}); err != nil {
		t.Fatal(err)
	}
	connect("attribute names the client id", true)
	if _, err := reg.UpdateThing(registry.UpdateThingInput{Name: thing, Attributes: &registry.AttributePayload{Attributes: map[string]string{"cid": "other"}}}); err != nil {
		t.Fatal(err)
	}
	connect("attribute names another client id", false)
	if _, err := reg.UpdateThing(registry.UpdateThingInput{Name: thing, Attributes: &registry.AttributePayload{Attributes: map[string]string{"cid": thing}}}); err != nil {
		t.Fatal(err)
	}
	connect("attribute back", true)

	if err := reg.UpdateCertificateStatus(d.CertificateID, registry.StatusInactive); err != nil {
		t.Fatal(err)
	}
	connect("certificate INACTIVE", false)
	rec := transcriptFor(t, emu, func(r listener.Record) bool { return r.CertificateStatus == "INACTIVE" })
	if !rec.CertificateKnown || rec.CertificateID != d.CertificateID {
		t.Fatalf("handshake transcript of the INACTIVE certificate: known %v, id %s", rec.CertificateKnown, rec.CertificateID)
	}
	if err := reg.UpdateCertificateStatus(d.CertificateID, registry.StatusActive); err != nil {
		t.Fatal(err)
	}
	connect("certificate ACTIVE again", true)
}
