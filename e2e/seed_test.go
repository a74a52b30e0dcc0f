package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/iotcore-local/iotcore-local/emulator"
	"github.com/iotcore-local/iotcore-local/listener"
)

const seedYAML = `
policies:
  - name: fleet
    document:
      Version: "2012-10-17"
      Statement:
        - {Effect: Allow, Action: "iot:Connect", Resource: "arn:aws:iot:*:*:client/${iot:Connection.Thing.ThingName}"}
        - {Effect: Allow, Action: ["iot:Publish", "iot:Receive"], Resource: "arn:aws:iot:*:*:topic/fleet/*"}
        - {Effect: Allow, Action: "iot:Subscribe", Resource: "arn:aws:iot:*:*:topicfilter/fleet/*"}
things:
  - name: truck-1
    attributes: {fleet: north}
certificates:
  - thing: truck-1
    policies: [fleet]
    out: devices/truck-1
`

// TestSeedFileIsIdempotent: a seed file creates policies, things and certificates with their
// files; starting again on the same state keeps the same certificate, and the device connects.
func TestSeedFileIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	seed := filepath.Join(dir, "seed.yaml")
	if err := os.WriteFile(seed, []byte(seedYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	withSeed := func(c *emulator.Config) { c.SeedFile = seed }

	first, err := emulator.New(func() emulator.Config { c := testConfig(t, state); withSeed(&c); return c }())
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	certFile := filepath.Join(dir, "devices", "truck-1", "certificate.pem.crt")
	before, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatalf("seed did not write the certificate: %v", err)
	}
	closeWithin(t, first, 10*time.Second)

	second := startEmulator(t, state, withSeed)
	after, err := os.ReadFile(certFile)
	if err != nil || string(after) != string(before) {
		t.Fatalf("second start replaced the device certificate (%v)", err)
	}
	certs, _, err := second.Registry().ListCertificates("", 0, true)
	if err != nil || len(certs) != 1 {
		t.Fatalf("want exactly one certificate after two starts, got %d (%v)", len(certs), err)
	}
	thing, err := second.Registry().DescribeThing("truck-1")
	if err != nil || thing.Attributes["fleet"] != "north" {
		t.Fatalf("thing %+v, %v", thing, err)
	}
	key, _ := os.ReadFile(filepath.Join(dir, "devices", "truck-1", "private.pem.key"))
	d := &emulator.Device{ThingName: "truck-1", CertificatePEM: string(after), PrivateKeyPEM: string(key), RootCAPEM: second.RootCAPEM()}
	got, err := rawConnect(t, second.ALPNAddr(), "truck-1", tlsConfig(t, d, listener.ProtocolMQTTCA))
	if err != nil || len(got) < 4 || got[0] != 0x20 || got[3] != 0 {
		t.Fatalf("seeded device connect: %x %v, want CONNACK accepted", got, err)
	}
}
