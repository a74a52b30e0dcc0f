package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/fxamacker/cbor/v2"

	"github.com/iotcore-local/iotcore-local/emulator"
	"github.com/iotcore-local/iotcore-local/provisioning"
	"github.com/iotcore-local/iotcore-local/registry"
)

// BenchmarkFleetProvisioning measures devices provisioned per second by claim over MQTT, one
// claim connection making requests one after the other as a device does: CreateCertificateFromCsr
// then RegisterThing (thing, group, inline policy, attachments, activation), in JSON and in CBOR;
// and CreateKeysAndCertificate (the emulator makes an RSA-2048 key) then RegisterThing in JSON.
//
//	go test ./e2e/ -run '^$' -bench FleetProvisioning -benchtime 100x
func BenchmarkFleetProvisioning(b *testing.B) {
	for _, bc := range []struct{ name, format, create string }{
		{"csr-json", "json", "create-from-csr"},
		{"csr-cbor", "cbor", "create-from-csr"},
		{"keys-json", "json", "create"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			emu, claimTLS := benchProvisioningSetup(b)
			opts := paho.NewClientOptions().AddBroker("ssl://" + emu.MQTTAddr()).SetClientID("bench-claim").
				SetTLSConfig(claimTLS).SetProtocolVersion(4).SetAutoReconnect(false).SetConnectTimeout(10 * time.Second)
			c := paho.NewClient(opts)
			if tok := c.Connect(); !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
				b.Fatalf("connect: %v", tok.Error())
			}
			defer c.Disconnect(100)
			answers := make(chan []byte, 4)
			createTopic := "$aws/certificates/" + bc.create + "/" + bc.format
			regTopic := "$aws/provisioning-templates/fleet/provision/" + bc.format
			subs := map[string]byte{createTopic + "/accepted": 1, createTopic + "/rejected": 1, regTopic + "/accepted": 1, regTopic + "/rejected": 1}
			if tok := c.SubscribeMultiple(subs, func(_ paho.Client, m paho.Message) {
				if strings.HasSuffix(m.Topic(), "/rejected") {
					answers <- nil
					return
				}
				answers <- m.Payload()
			}); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
				b.Fatal("subscribe failed")
			}
			marshal, unmarshal := json.Marshal, json.Unmarshal
			if bc.format == "cbor" {
				marshal, unmarshal = cbor.Marshal, cbor.Unmarshal
			}
			csrPEM := benchCSR(b)
			createReq, _ := marshal(map[string]string{"certificateSigningRequest": csrPEM})
			if bc.create == "create" {
				createReq, _ = marshal(map[string]string{})
			}
			ask := func(topic string, payload []byte) []byte {
				c.Publish(topic, 1, false, payload)
				select {
				case a := <-answers:
					if a == nil {
						b.Fatalf("%s rejected", topic)
					}
					return a
				case <-time.After(30 * time.Second):
					b.Fatalf("no answer on %s", topic)
				}
				return nil
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				var created createAnswer
				if err := unmarshal(ask(createTopic, createReq), &created); err != nil {
					b.Fatal(err)
				}
				reg, _ := marshal(map[string]any{"certificateOwnershipToken": created.Token, "parameters": map[string]string{"SerialNumber": bc.name + "-" + strconv.Itoa(i)}})
				ask(regTopic, reg)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "devices/s")
		})
	}
}

// benchProvisioningSetup starts an emulator with the template "fleet", its thing group and a
// claim certificate with claimPolicy, and returns the claim's TLS configuration.
func benchProvisioningSetup(b *testing.B) (*emulator.Emulator, *tls.Config) {
	b.Helper()
	cfg := emulator.TestConfig(b.TempDir())
	cfg.Logger = slog.New(slog.DiscardHandler)
	emu, err := emulator.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := emu.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { emu.Close() })
	reg, prov := emu.Registry(), emu.Provisioning()
	if _, err := reg.CreateThingGroup(registry.CreateThingGroupInput{Name: "fleet"}); err != nil {
		b.Fatal(err)
	}
	if _, err := prov.CreateTemplate(provisioning.CreateTemplateInput{Name: "fleet", Body: fleetTemplate, RoleARN: "arn:aws:iam::123456789012:role/R", Enabled: true}); err != nil {
		b.Fatal(err)
	}
	dev, err := emu.CreateDevice("bench-claim", claimPolicy)
	if err != nil {
		b.Fatal(err)
	}
	tlsCfg, err := dev.TLSConfig()
	if err != nil {
		b.Fatal(err)
	}
	return emu, tlsCfg
}

// benchCSR is a PEM CSR for an ECDSA P-256 key.
func benchCSR(b *testing.B) string {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "bench"}}, key)
	if err != nil {
		b.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}
