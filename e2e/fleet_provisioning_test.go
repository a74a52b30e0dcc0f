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
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/eclipse/paho.golang/packets"
	paho5 "github.com/eclipse/paho.golang/paho"
	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/fxamacker/cbor/v2"

	"github.com/iotcore-local/iotcore-local/emulator"
	"github.com/iotcore-local/iotcore-local/listener"
	"github.com/iotcore-local/iotcore-local/registry"
)

// fleetTemplate is the template of AWS's fleet provisioning sample: a thing named from the
// serial number, its location from a mapping, the new certificate ACTIVE, an inline policy.
const fleetTemplate = `{
  "Parameters": {
    "SerialNumber": {"Type": "String"},
    "DeviceLocation": {"Type": "String", "Default": "Seattle"}
  },
  "Mappings": {
    "LocationTable": {
      "Seattle": {"LocationUrl": "https://example.aws"},
      "Paris": {"LocationUrl": "https://example.fr"}
    }
  },
  "Resources": {
    "thing": {
      "Type": "AWS::IoT::Thing",
      "Properties": {
        "ThingName": {"Fn::Join": ["", ["ThingPrefix_", {"Ref": "SerialNumber"}]]},
        "AttributePayload": {"version": "v1", "serialNumber": {"Ref": "SerialNumber"}},
        "ThingGroups": ["fleet"]
      },
      "OverrideSettings": {"AttributePayload": "MERGE", "ThingGroups": "DO_NOTHING"}
    },
    "certificate": {
      "Type": "AWS::IoT::Certificate",
      "Properties": {"CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "Active"}
    },
    "policy": {
      "Type": "AWS::IoT::Policy",
      "Properties": {"PolicyDocument": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:Connect", "Resource": "arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}"},
        {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": "arn:aws:iot:us-east-1:123456789012:topic/things/${iot:Connection.Thing.ThingName}/*"},
        {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": "arn:aws:iot:us-east-1:123456789012:topicfilter/things/${iot:Connection.Thing.ThingName}/*"}]}}
    }
  },
  "DeviceConfiguration": {
    "FallbackUrl": "https://www.example.com/test-site",
    "LocationUrl": {"Fn::FindInMap": ["LocationTable", {"Ref": "DeviceLocation"}, "LocationUrl"]},
    "Site": {"Fn::Sub": "${DeviceLocation}-${SerialNumber}"}
  }
}`

// claimPolicy is AWS's example policy for a claim certificate, for both certificate flows and
// the template "fleet".
const claimPolicy = `{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":"iot:Connect","Resource":"*"},
 {"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":[
   "arn:aws:iot:us-east-1:123456789012:topic/$aws/certificates/create/*",
   "arn:aws:iot:us-east-1:123456789012:topic/$aws/certificates/create-from-csr/*",
   "arn:aws:iot:us-east-1:123456789012:topic/$aws/provisioning-templates/fleet/provision/*"]},
 {"Effect":"Allow","Action":"iot:Subscribe","Resource":[
   "arn:aws:iot:us-east-1:123456789012:topicfilter/$aws/certificates/create/*",
   "arn:aws:iot:us-east-1:123456789012:topicfilter/$aws/certificates/create-from-csr/*",
   "arn:aws:iot:us-east-1:123456789012:topicfilter/$aws/provisioning-templates/fleet/provision/*"]}]}`

// provisioningSetup starts an emulator with the template "fleet" (enabled), the thing group
// "fleet" and a claim certificate with claimPolicy; it returns the emulator, an SDK client and
// the claim's certificate and key.
func provisioningSetup(t *testing.T, mutate ...func(*emulator.Config)) (*emulator.Emulator, *iot.Client, string, string) {
	t.Helper()
	emu := startEmulator(t, "", mutate...)
	ctx := context.Background()
	client := iotClientAt(awsConfig(awsKey(sigv4Key, sigv4Secret), nil), emu.APIURL())
	if _, err := client.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("fleet")}); err != nil {
		t.Fatal(err)
	}
	_, err := client.CreateProvisioningTemplate(ctx, &iot.CreateProvisioningTemplateInput{
		TemplateName:        aws.String("fleet"),
		TemplateBody:        aws.String(fleetTemplate),
		ProvisioningRoleArn: aws.String("arn:aws:iam::123456789012:role/Provisioning"),
		Enabled:             aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("CreateProvisioningTemplate: %v", err)
	}
	claim, err := client.CreateKeysAndCertificate(ctx, &iot.CreateKeysAndCertificateInput{SetAsActive: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String("claim"), PolicyDocument: aws.String(claimPolicy)}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String("claim"), Target: claim.CertificateArn}); err != nil {
		t.Fatal(err)
	}
	return emu, client, *claim.CertificatePem, *claim.KeyPair.PrivateKey
}

// provClient is a device on a claim certificate, subscribed to the answers of the requests it
// makes.
type provClient struct {
	t    *testing.T
	c    paho.Client
	msgs chan gotMessage
}

func newProvClient(t *testing.T, emu *emulator.Emulator, clientID, certPEM, keyPEM string) *provClient {
	t.Helper()
	c, err := connectPaho(t, emu.MQTTAddr(), clientID, keyPairTLS(t, emu, certPEM, keyPEM), nil)
	if err != nil {
		t.Fatalf("connect %s: %v", clientID, err)
	}
	return &provClient{t: t, c: c, msgs: make(chan gotMessage, 16)}
}

// request subscribes to topic/accepted and topic/rejected (exact topics, as the SDKs do),
// publishes payload on topic and returns the answer's topic and payload.
func (p *provClient) request(topic string, payload []byte) gotMessage {
	p.t.Helper()
	handler := func(_ paho.Client, m paho.Message) {
		p.msgs <- gotMessage{topic: m.Topic(), payload: string(m.Payload())}
	}
	if err := wait(p.t, p.c.SubscribeMultiple(map[string]byte{topic + "/accepted": 1, topic + "/rejected": 1}, handler)); err != nil {
		p.t.Fatalf("subscribe: %v", err)
	}
	if err := wait(p.t, p.c.Publish(topic, 1, false, payload)); err != nil {
		p.t.Fatalf("publish %s: %v", topic, err)
	}
	return nextMessage(p.t, p.msgs, "answer on "+topic)
}

type createAnswer struct {
	CertificateID  string `json:"certificateId" cbor:"certificateId"`
	CertificatePEM string `json:"certificatePem" cbor:"certificatePem"`
	PrivateKey     string `json:"privateKey" cbor:"privateKey"`
	Token          string `json:"certificateOwnershipToken" cbor:"certificateOwnershipToken"`
}

type registerAnswer struct {
	DeviceConfiguration map[string]string `json:"deviceConfiguration" cbor:"deviceConfiguration"`
	ThingName           string            `json:"thingName" cbor:"thingName"`
}

type rejection struct {
	StatusCode   int    `json:"statusCode" cbor:"statusCode"`
	ErrorCode    string `json:"errorCode" cbor:"errorCode"`
	ErrorMessage string `json:"errorMessage" cbor:"errorMessage"`
}

func mustJSON(t *testing.T, m gotMessage, suffix string, v any) {
	t.Helper()
	if !strings.HasSuffix(m.topic, suffix) {
		t.Fatalf("answer on %s (%s), want %s", m.topic, m.payload, suffix)
	}
	if err := json.Unmarshal([]byte(m.payload), v); err != nil {
		t.Fatalf("answer %q: %v", m.payload, err)
	}
}

// TestFleetProvisioningByClaimJSON is the whole claim flow in JSON with a paho client:
// CreateKeysAndCertificate, RegisterThing, then a connection with the new certificate; and the
// refusals around it.
func TestFleetProvisioningByClaimJSON(t *testing.T) {
	emu, client, claimCert, claimKey := provisioningSetup(t)
	ctx := context.Background()
	dev := newProvClient(t, emu, "claim-1", claimCert, claimKey)

	m := dev.request("$aws/certificates/create/json", []byte("{}"))
	var created createAnswer
	mustJSON(t, m, "/accepted", &created)
	if len(created.CertificateID) != 64 || !strings.HasPrefix(created.PrivateKey, "-----BEGIN RSA PRIVATE KEY-----") || created.Token == "" || len(created.Token) > 512 {
		t.Fatalf("create answer: %+v", created)
	}
	if len(m.payload) > 4096 {
		t.Errorf("the create answer is %d bytes; the Embedded C SDK's buffer holds 4096", len(m.payload))
	}
	desc, err := client.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(created.CertificateID)})
	if err != nil {
		t.Fatal(err)
	}
	if desc.CertificateDescription.Status != iottypes.CertificateStatusPendingActivation {
		t.Fatalf("new certificate is %s, want PENDING_ACTIVATION", desc.CertificateDescription.Status)
	}
	// Not yet provisioned: the new certificate cannot connect.
	if _, err := connectPaho(t, emu.MQTTAddr(), "ThingPrefix_42", keyPairTLS(t, emu, created.CertificatePEM, created.PrivateKey), nil); err == nil {
		t.Fatal("a PENDING_ACTIVATION certificate connected")
	}

	// Trailing NUL bytes after the JSON, as C devices send.
	req := []byte(`{"certificateOwnershipToken":"` + created.Token + `","parameters":{"SerialNumber":"42"}}` + "\x00\x00")
	m = dev.request("$aws/provisioning-templates/fleet/provision/json", req)
	var reg registerAnswer
	mustJSON(t, m, "/accepted", &reg)
	if reg.ThingName != "ThingPrefix_42" {
		t.Errorf("thingName %q", reg.ThingName)
	}
	want := map[string]string{"FallbackUrl": "https://www.example.com/test-site", "LocationUrl": "https://example.aws", "Site": "Seattle-42"}
	if !mapsEqual(reg.DeviceConfiguration, want) {
		t.Errorf("deviceConfiguration %v, want %v", reg.DeviceConfiguration, want)
	}

	// The registry holds thing, group membership, policy and attachments; the certificate is ACTIVE.
	thing, err := client.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("ThingPrefix_42")})
	if err != nil {
		t.Fatal(err)
	}
	if thing.Attributes["serialNumber"] != "42" || thing.Attributes["version"] != "v1" {
		t.Errorf("attributes %v", thing.Attributes)
	}
	groups, err := client.ListThingGroupsForThing(ctx, &iot.ListThingGroupsForThingInput{ThingName: aws.String("ThingPrefix_42")})
	if err != nil || len(groups.ThingGroups) != 1 || *groups.ThingGroups[0].GroupName != "fleet" {
		t.Errorf("groups %+v, %v", groups, err)
	}
	certARN := "arn:aws:iot:us-east-1:123456789012:cert/" + created.CertificateID
	principals, err := client.ListThingPrincipals(ctx, &iot.ListThingPrincipalsInput{ThingName: aws.String("ThingPrefix_42")})
	if err != nil || !slices.Equal(principals.Principals, []string{certARN}) {
		t.Errorf("principals %v, %v", principals, err)
	}
	pols, err := client.ListAttachedPolicies(ctx, &iot.ListAttachedPoliciesInput{Target: aws.String(certARN)})
	if err != nil || len(pols.Policies) != 1 || len(*pols.Policies[0].PolicyName) != 40 {
		t.Errorf("attached policies %+v, %v", pols, err)
	}
	desc, _ = client.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(created.CertificateID)})
	if desc.CertificateDescription.Status != iottypes.CertificateStatusActive {
		t.Errorf("certificate is %s after RegisterThing", desc.CertificateDescription.Status)
	}

	// The device reconnects with its new certificate and uses its own topics.
	devNew, err := connectPaho(t, emu.MQTTAddr(), "ThingPrefix_42", keyPairTLS(t, emu, created.CertificatePEM, created.PrivateKey), nil)
	if err != nil {
		t.Fatalf("connect with the provisioned certificate: %v", err)
	}
	if err := wait(t, devNew.Publish("things/ThingPrefix_42/hello", 1, false, "hi")); err != nil {
		t.Fatal(err)
	}

	// The token is single use.
	m = dev.request("$aws/provisioning-templates/fleet/provision/json", req)
	var rej rejection
	mustJSON(t, m, "/rejected", &rej)
	if rej.StatusCode != 400 || rej.ErrorCode != "InvalidCertificateOwnershipToken" {
		t.Errorf("reused token: %+v", rej)
	}
	// No token at all: AWS's observed answer.
	m = dev.request("$aws/provisioning-templates/fleet/provision/json", []byte(`{"parameters":{"SerialNumber":"1"}}`))
	mustJSON(t, m, "/rejected", &rej)
	if rej.StatusCode != 400 || rej.ErrorCode != "InvalidCertificateOwnershipToken" || rej.ErrorMessage != "Certificate ownership token cannot be empty." {
		t.Errorf("empty token: %+v", rej)
	}
	// Bad JSON.
	m = dev.request("$aws/certificates/create-from-csr/json", []byte(`{"certificateSigningRequest":`))
	mustJSON(t, m, "/rejected", &rej)
	if rej.StatusCode != 400 || rej.ErrorCode != "InvalidPayload" {
		t.Errorf("bad JSON: %+v", rej)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// newCSR makes an ECDSA P-256 key and a PEM certificate signing request for it.
func newCSR(t *testing.T) (csrPEM string, key *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "device"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})), key
}

func ecKeyPEM(t *testing.T, key *ecdsa.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
}

// TestFleetProvisioningCBOR is the Embedded C SDK's flow: CreateCertificateFromCsr and
// RegisterThing in CBOR, encoded and decoded with a real CBOR library; every string of the
// answers must be a CBOR text string.
func TestFleetProvisioningCBOR(t *testing.T) {
	emu, client, claimCert, claimKey := provisioningSetup(t)
	ctx := context.Background()
	dev := newProvClient(t, emu, "claim-cbor", claimCert, claimKey)

	csrPEM, key := newCSR(t)
	req, err := cbor.Marshal(map[string]string{"certificateSigningRequest": csrPEM})
	if err != nil {
		t.Fatal(err)
	}
	m := dev.request("$aws/certificates/create-from-csr/cbor", req)
	if !strings.HasSuffix(m.topic, "/accepted") {
		var rej rejection
		_ = cbor.Unmarshal([]byte(m.payload), &rej)
		t.Fatalf("create-from-csr/cbor answered on %s: %+v", m.topic, rej)
	}
	var generic map[any]any
	if err := cbor.Unmarshal([]byte(m.payload), &generic); err != nil {
		t.Fatalf("answer is not CBOR: %v", err)
	}
	for _, k := range []string{"certificateId", "certificatePem", "certificateOwnershipToken"} {
		if _, ok := generic[k].(string); !ok {
			t.Errorf("%s is %T in the CBOR answer, want a text string", k, generic[k])
		}
	}
	if _, ok := generic["privateKey"]; ok {
		t.Error("create-from-csr answered a private key")
	}
	var created createAnswer
	if err := cbor.Unmarshal([]byte(m.payload), &created); err != nil {
		t.Fatal(err)
	}
	reqReg, err := cbor.Marshal(map[string]any{"certificateOwnershipToken": created.Token, "parameters": map[string]string{"SerialNumber": "7", "DeviceLocation": "Paris"}})
	if err != nil {
		t.Fatal(err)
	}
	m = dev.request("$aws/provisioning-templates/fleet/provision/cbor", reqReg)
	if !strings.HasSuffix(m.topic, "/accepted") {
		t.Fatalf("provision/cbor answered on %s: %q", m.topic, m.payload)
	}
	generic = nil
	if err := cbor.Unmarshal([]byte(m.payload), &generic); err != nil {
		t.Fatal(err)
	}
	if name, ok := generic["thingName"].(string); !ok || name != "ThingPrefix_7" {
		t.Errorf("thingName %#v", generic["thingName"])
	}
	cfg, ok := generic["deviceConfiguration"].(map[any]any)
	if !ok || cfg["LocationUrl"] != "https://example.fr" {
		t.Errorf("deviceConfiguration %#v", generic["deviceConfiguration"])
	}
	// The certificate signed from the CSR connects with the CSR's key.
	if _, err := connectPaho(t, emu.MQTTAddr(), "ThingPrefix_7", keyPairTLS(t, emu, created.CertificatePEM, ecKeyPEM(t, key)), nil); err != nil {
		t.Fatalf("connect with the certificate from the CSR: %v", err)
	}

	// CreateKeysAndCertificate in CBOR with an empty payload, as the Embedded C demo sends it:
	// the whole answer must fit the demo's 4096-byte network buffer with its topic.
	m = dev.request("$aws/certificates/create/cbor", nil)
	if !strings.HasSuffix(m.topic, "/accepted") {
		t.Fatalf("create/cbor with an empty payload answered on %s", m.topic)
	}
	generic = nil
	if err := cbor.Unmarshal([]byte(m.payload), &generic); err != nil {
		t.Fatal(err)
	}
	if key, ok := generic["privateKey"].(string); !ok || !strings.HasPrefix(key, "-----BEGIN RSA PRIVATE KEY-----") {
		t.Errorf("privateKey %T", generic["privateKey"])
	}
	if n := len(m.payload) + len(m.topic) + 8; n > 4096 {
		t.Errorf("the CBOR create answer takes %d bytes with its topic; the Embedded C demo's buffer holds 4096", n)
	}

	// A CSR whose signature does not verify is refused, and no certificate is registered.
	before, err := client.ListCertificates(ctx, &iot.ListCertificatesInput{})
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode([]byte(csrPEM))
	bad := slices.Clone(block.Bytes)
	bad[len(bad)-3] ^= 0xff
	req, _ = cbor.Marshal(map[string]string{"certificateSigningRequest": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: bad}))})
	m = dev.request("$aws/certificates/create-from-csr/cbor", req)
	var rej rejection
	if err := cbor.Unmarshal([]byte(m.payload), &rej); err != nil || !strings.HasSuffix(m.topic, "/rejected") {
		t.Fatalf("bad CSR: %s %q %v", m.topic, m.payload, err)
	}
	if rej.StatusCode != 400 || rej.ErrorCode != "InvalidCSR" {
		t.Errorf("bad CSR: %+v", rej)
	}
	after, err := client.ListCertificates(ctx, &iot.ListCertificatesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(after.Certificates) != len(before.Certificates) {
		t.Errorf("%d certificates after a refused CSR, %d before", len(after.Certificates), len(before.Certificates))
	}
}

// TestFleetProvisioningAnswersOnlyTheRequester checks that another client subscribed to the same
// /accepted topic never receives a requester's private key.
func TestFleetProvisioningAnswersOnlyTheRequester(t *testing.T) {
	emu, _, claimCert, claimKey := provisioningSetup(t)
	a := newProvClient(t, emu, "claim-a", claimCert, claimKey)
	b := newProvClient(t, emu, "claim-b", claimCert, claimKey)
	handler := func(_ paho.Client, m paho.Message) {
		b.msgs <- gotMessage{topic: m.Topic(), payload: string(m.Payload())}
	}
	if err := wait(t, b.c.Subscribe("$aws/certificates/create/json/accepted", 1, handler)); err != nil {
		t.Fatal(err)
	}
	var first createAnswer
	mustJSON(t, a.request("$aws/certificates/create/json", nil), "/accepted", &first)
	// b's own request: the first message b receives must be its own answer.
	var second createAnswer
	mustJSON(t, b.request("$aws/certificates/create/json", []byte("{}")), "/accepted", &second)
	if second.CertificateID == first.CertificateID {
		t.Fatal("client b received client a's answer")
	}
}

// TestFleetProvisioningAtomicAndRefusals: a template whose resources cannot all be made leaves
// nothing behind; a disabled template refuses; a claim certificate of CreateProvisioningClaim
// works for its template only.
func TestFleetProvisioningAtomicAndRefusals(t *testing.T) {
	emu, client, claimCert, claimKey := provisioningSetup(t)
	ctx := context.Background()
	// A version whose thing group does not exist.
	broken := strings.Replace(fleetTemplate, `"ThingGroups": ["fleet"]`, `"ThingGroups": ["no-such-group"]`, 1)
	if _, err := client.CreateProvisioningTemplateVersion(ctx, &iot.CreateProvisioningTemplateVersionInput{
		TemplateName: aws.String("fleet"), TemplateBody: aws.String(broken), SetAsDefault: true,
	}); err != nil {
		t.Fatal(err)
	}
	dev := newProvClient(t, emu, "claim-x", claimCert, claimKey)
	var created createAnswer
	mustJSON(t, dev.request("$aws/certificates/create/json", []byte("{}")), "/accepted", &created)
	req := []byte(`{"certificateOwnershipToken":"` + created.Token + `","parameters":{"SerialNumber":"9"}}`)
	var rej rejection
	mustJSON(t, dev.request("$aws/provisioning-templates/fleet/provision/json", req), "/rejected", &rej)
	if rej.StatusCode != 400 || !strings.Contains(rej.ErrorMessage, "no-such-group") {
		t.Errorf("missing group: %+v", rej)
	}
	if _, err := client.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("ThingPrefix_9")}); err == nil {
		t.Error("the thing exists after a failed RegisterThing")
	}
	certARN := "arn:aws:iot:us-east-1:123456789012:cert/" + created.CertificateID
	if pols, err := client.ListAttachedPolicies(ctx, &iot.ListAttachedPoliciesInput{Target: aws.String(certARN)}); err != nil || len(pols.Policies) != 0 {
		t.Errorf("policies attached after a failed RegisterThing: %+v %v", pols, err)
	}
	desc, _ := client.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(created.CertificateID)})
	if desc.CertificateDescription.Status != iottypes.CertificateStatusPendingActivation {
		t.Errorf("certificate %s after a failed RegisterThing", desc.CertificateDescription.Status)
	}
	// Back to version 1: the same token now succeeds (a refused request does not spend it).
	if _, err := client.UpdateProvisioningTemplate(ctx, &iot.UpdateProvisioningTemplateInput{TemplateName: aws.String("fleet"), DefaultVersionId: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	var reg registerAnswer
	mustJSON(t, dev.request("$aws/provisioning-templates/fleet/provision/json", req), "/accepted", &reg)

	// Disabled template.
	if _, err := client.UpdateProvisioningTemplate(ctx, &iot.UpdateProvisioningTemplateInput{TemplateName: aws.String("fleet"), Enabled: aws.Bool(false)}); err != nil {
		t.Fatal(err)
	}
	mustJSON(t, dev.request("$aws/certificates/create/json", []byte("{}")), "/accepted", &created)
	req = []byte(`{"certificateOwnershipToken":"` + created.Token + `","parameters":{"SerialNumber":"10"}}`)
	mustJSON(t, dev.request("$aws/provisioning-templates/fleet/provision/json", req), "/rejected", &rej)
	if rej.StatusCode != 403 || rej.ErrorCode != "AccessDenied" {
		t.Errorf("disabled template: %+v", rej)
	}
	if _, err := client.UpdateProvisioningTemplate(ctx, &iot.UpdateProvisioningTemplateInput{TemplateName: aws.String("fleet"), Enabled: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}

	// Trusted user: a claim from CreateProvisioningClaim connects and provisions with its template.
	claim, err := client.CreateProvisioningClaim(ctx, &iot.CreateProvisioningClaimInput{TemplateName: aws.String("fleet")})
	if err != nil {
		t.Fatalf("CreateProvisioningClaim: %v", err)
	}
	if until := time.Until(*claim.Expiration); until <= 0 || until > 5*time.Minute+time.Second {
		t.Errorf("claim expires in %v, want 5 minutes", until)
	}
	trusted := newProvClient(t, emu, "trusted-user", *claim.CertificatePem, *claim.KeyPair.PrivateKey)
	rec := transcriptFor(t, emu, func(r listener.Record) bool { return r.ClientID == "trusted-user" })
	if !strings.Contains(rec.CertificateStatus, "provisioning claim for template fleet") {
		t.Errorf("transcript of the claim's connection: status %q", rec.CertificateStatus)
	}
	csrPEM, _ := newCSR(t)
	body, _ := json.Marshal(map[string]string{"certificateSigningRequest": csrPEM})
	mustJSON(t, trusted.request("$aws/certificates/create-from-csr/json", body), "/accepted", &created)
	req = []byte(`{"certificateOwnershipToken":"` + created.Token + `","parameters":{"SerialNumber":"11"}}`)
	mustJSON(t, trusted.request("$aws/provisioning-templates/fleet/provision/json", req), "/accepted", &reg)
	if reg.ThingName != "ThingPrefix_11" {
		t.Errorf("trusted-user provisioning: %+v", reg)
	}
	// The claim is not one of the account's certificates.
	if _, err := client.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: claim.CertificateId}); err == nil {
		t.Error("the claim certificate is listed among the account's certificates")
	}
	// Its implicit policy covers its template only: another template's topic closes the connection.
	lost := make(chan error, 1)
	other, err := connectPaho(t, emu.MQTTAddr(), "trusted-2", keyPairTLS(t, emu, *claim.CertificatePem, *claim.KeyPair.PrivateKey), func(err error) { lost <- err })
	if err != nil {
		t.Fatal(err)
	}
	other.Publish("$aws/provisioning-templates/other/provision/json", 1, false, "{}")
	select {
	case <-lost:
	case <-time.After(10 * time.Second):
		t.Error("publishing to another template's topic did not close the claim's connection")
	}
}

// TestFleetProvisioningWithMosquitto provisions a device with mosquitto_rr on a claim
// certificate (request and answer on one connection, as the API requires), then publishes with
// mosquitto_pub on the new certificate.
func TestFleetProvisioningWithMosquitto(t *testing.T) {
	needTools(t, "mosquitto_rr", "mosquitto_pub")
	emu, _, claimCert, claimKey := provisioningSetup(t)
	dir := t.TempDir()
	write := func(name, data string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ca := write("ca.pem", string(emu.RootCAPEM()))
	claimCertFile, claimKeyFile := write("claim.pem", claimCert), write("claim.key", claimKey)
	port := portOfAddr(emu.MQTTAddr())
	rr := func(clientID, topic, payload string) string {
		t.Helper()
		out, err := run(t, "mosquitto_rr", "-h", "localhost", "-p", port, "--cafile", ca, "--cert", claimCertFile, "--key", claimKeyFile,
			"-i", clientID, "-q", "1", "-W", "15", "-t", topic, "-e", topic+"/accepted", "-m", payload)
		if err != nil {
			t.Fatalf("mosquitto_rr %s: %v\n%s", topic, err, out)
		}
		return out
	}
	var created createAnswer
	if err := json.Unmarshal([]byte(rr("mosq-claim", "$aws/certificates/create/json", "{}")), &created); err != nil {
		t.Fatalf("create answer: %v", err)
	}
	out := rr("mosq-claim", "$aws/provisioning-templates/fleet/provision/json",
		`{"certificateOwnershipToken":"`+created.Token+`","parameters":{"SerialNumber":"mosq"}}`)
	var reg registerAnswer
	if err := json.Unmarshal([]byte(out), &reg); err != nil || reg.ThingName != "ThingPrefix_mosq" {
		t.Fatalf("register answer %q: %v", out, err)
	}
	certFile, keyFile := write("device.pem", created.CertificatePEM), write("device.key", created.PrivateKey)
	if out, err := run(t, "mosquitto_pub", "-h", "localhost", "-p", port, "--cafile", ca, "--cert", certFile, "--key", keyFile,
		"-i", "ThingPrefix_mosq", "-q", "1", "-t", "things/ThingPrefix_mosq/hello", "-m", "hi"); err != nil {
		t.Fatalf("mosquitto_pub with the provisioned certificate: %v\n%s", err, out)
	}
}

// TestFleetProvisioningSeed declares a template and a claim certificate in a seed file; the
// claim's files provision a device; a restart with the same seed keeps both.
func TestFleetProvisioningSeed(t *testing.T) {
	dir := t.TempDir()
	seed := filepath.Join(dir, "seed.yaml")
	text := "provisioningTemplates:\n  - name: fleet\n    body: " + strconvQuote(fleetTemplate) + "\nclaimCertificates:\n  - template: fleet\n    out: claim\n"
	if err := os.WriteFile(seed, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	emu := startEmulator(t, state, func(c *emulator.Config) { c.SeedFile = seed })
	if _, err := emu.Registry().CreateThingGroup(registry.CreateThingGroupInput{Name: "fleet"}); err != nil {
		t.Fatal(err)
	}
	read := func(name string) string {
		data, err := os.ReadFile(filepath.Join(dir, "claim", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	dev := newProvClient(t, emu, "seeded-claim", read("certificate.pem.crt"), read("private.pem.key"))
	var created createAnswer
	mustJSON(t, dev.request("$aws/certificates/create/json", []byte("{}")), "/accepted", &created)
	var reg registerAnswer
	mustJSON(t, dev.request("$aws/provisioning-templates/fleet/provision/json",
		[]byte(`{"certificateOwnershipToken":"`+created.Token+`","parameters":{"SerialNumber":"seed"}}`)), "/accepted", &reg)
	if reg.ThingName != "ThingPrefix_seed" {
		t.Fatalf("thingName %q", reg.ThingName)
	}
	dev.c.Disconnect(100)
	closeWithin(t, emu, 15*time.Second)

	// The same seed again: nothing is duplicated, the claim's files are kept.
	before := read("certificate.pem.crt")
	emu2 := startEmulator(t, state, func(c *emulator.Config) { c.SeedFile = seed })
	if read("certificate.pem.crt") != before {
		t.Error("the claim certificate was replaced on restart")
	}
	vs, _, err := emu2.Provisioning().ListVersions("fleet", 0, "")
	if err != nil || len(vs) != 1 {
		t.Errorf("template versions after a restart: %d %v", len(vs), err)
	}
	// A bad template in a seed is refused with its field named.
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("provisioningTemplates:\n  - name: broken\n    body: {Resources: {t: {Type: AWS::IoT::Nope}}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err = emu2.ApplySeedFile(t.Context(), bad)
	if err == nil || !strings.Contains(err.Error(), "provisioningTemplates[0] (broken).body") || !strings.Contains(err.Error(), "Resources.t.Type") {
		t.Errorf("bad seed template: %v", err)
	}
}

func strconvQuote(s string) string {
	data, _ := json.Marshal(s)
	return string(data)
}

// TestFleetProvisioningMQTT5: an MQTT 5 device (paho.golang; the Python and JavaScript SDK
// samples use MQTT 5) provisions by claim and gets its answers on its subscriptions.
func TestFleetProvisioningMQTT5(t *testing.T) {
	emu, _, claimCert, claimKey := provisioningSetup(t)
	conn, err := tls.Dial("tcp", emu.MQTTAddr(), keyPairTLS(t, emu, claimCert, claimKey))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	answers := make(chan *paho5.Publish, 4)
	c := paho5.NewClient(paho5.ClientConfig{
		Conn: packets.NewThreadSafeConn(conn),
		OnPublishReceived: []func(paho5.PublishReceived) (bool, error){func(r paho5.PublishReceived) (bool, error) {
			answers <- r.Packet
			return true, nil
		}},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.Connect(ctx, &paho5.Connect{ClientID: "claim-v5", KeepAlive: 30, CleanStart: true}); err != nil {
		t.Fatalf("connect: %v", err)
	}
	request := func(topic string, payload []byte) *paho5.Publish {
		t.Helper()
		if _, err := c.Subscribe(ctx, &paho5.Subscribe{Subscriptions: []paho5.SubscribeOptions{
			{Topic: topic + "/accepted", QoS: 1}, {Topic: topic + "/rejected", QoS: 1},
		}}); err != nil {
			t.Fatalf("subscribe: %v", err)
		}
		if _, err := c.Publish(ctx, &paho5.Publish{Topic: topic, QoS: 1, Payload: payload}); err != nil {
			t.Fatalf("publish: %v", err)
		}
		select {
		case p := <-answers:
			return p
		case <-ctx.Done():
			t.Fatalf("no answer on %s", topic)
		}
		return nil
	}
	p := request("$aws/certificates/create/json", []byte("{}"))
	var created createAnswer
	if p.Topic != "$aws/certificates/create/json/accepted" || json.Unmarshal(p.Payload, &created) != nil {
		t.Fatalf("create: %s %q", p.Topic, p.Payload)
	}
	p = request("$aws/provisioning-templates/fleet/provision/json", []byte(`{"certificateOwnershipToken":"`+created.Token+`","parameters":{"SerialNumber":"v5"}}`))
	var reg registerAnswer
	if p.Topic != "$aws/provisioning-templates/fleet/provision/json/accepted" || json.Unmarshal(p.Payload, &reg) != nil || reg.ThingName != "ThingPrefix_v5" {
		t.Fatalf("register: %s %q", p.Topic, p.Payload)
	}
	_ = c.Disconnect(&paho5.Disconnect{})
}
