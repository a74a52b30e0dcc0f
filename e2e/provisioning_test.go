package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"maps"
	"math/big"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iotcore-local/iotcore-local/emulator"
	"github.com/iotcore-local/iotcore-local/listener"
)

// eventsMonitorPolicy lets the client "events-monitor" watch every $aws/events topic.
const eventsMonitorPolicy = `{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-east-1:123456789012:client/events-monitor"},
 {"Effect":"Allow","Action":"iot:Subscribe","Resource":"arn:aws:iot:us-east-1:123456789012:topicfilter/$aws/events/*"},
 {"Effect":"Allow","Action":"iot:Receive","Resource":"arn:aws:iot:us-east-1:123456789012:topic/$aws/events/*"}]}`

// fleetPolicy is thing-scoped: a device connects as its thing and uses only its own topics.
const fleetPolicy = `{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}"},
 {"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":"arn:aws:iot:us-east-1:123456789012:topic/things/${iot:Connection.Thing.ThingName}/*"},
 {"Effect":"Allow","Action":"iot:Subscribe","Resource":"arn:aws:iot:us-east-1:123456789012:topicfilter/things/${iot:Connection.Thing.ThingName}/*"}]}`

// watchTopics connects a monitor device over 8883 and subscribes it to filters.
func watchTopics(t *testing.T, emu *emulator.Emulator, filters ...string) <-chan gotMessage {
	t.Helper()
	m, err := emu.CreateDevice("events-monitor", eventsMonitorPolicy)
	if err != nil {
		t.Fatal(err)
	}
	c, err := connectPaho(t, emu.MQTTAddr(), "events-monitor", tlsConfig(t, m), nil)
	if err != nil {
		t.Fatalf("monitor connect: %v", err)
	}
	handler, ch := msgCollector()
	subs := map[string]byte{}
	for _, f := range filters {
		subs[f] = 1
	}
	if err := wait(t, c.SubscribeMultiple(subs, handler)); err != nil {
		t.Fatalf("monitor subscribe: %v", err)
	}
	return ch
}

// deviceCA is a CA as a device maker keeps one: a certificate and its key.
type deviceCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  string
}

func newDeviceCA(t *testing.T) deviceCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Acme Devices CA", Organization: []string{"Acme"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		BasicConstraintsValid: true,
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return deviceCA{cert: cert, key: key, pem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}
}

// issue signs a new key's certificate with common name cn; it returns the certificate and key
// as PEM.
func (ca deviceCA) issue(t *testing.T, cn string, serial int64) (certPEM, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
}

// jitrEvent is the message of $aws/events/certificates/registered/<caCertificateId>.
type jitrEvent struct {
	CertificateID                    string          `json:"certificateId"`
	CACertificateID                  string          `json:"caCertificateId"`
	Timestamp                        int64           `json:"timestamp"`
	CertificateStatus                string          `json:"certificateStatus"`
	AWSAccountID                     string          `json:"awsAccountId"`
	CertificateRegistrationTimestamp json.RawMessage `json:"certificateRegistrationTimestamp"`
}

// TestProvisioningScript is what a user's provisioning script does, step by step through the
// API with the AWS SDK: register their own CA for just-in-time registration, give a thing group
// a thing-scoped policy, let a new device (a certificate the CA signed, never registered)
// knock over 443 and 8883, activate what just-in-time registration made of it, make it a thing in
// the group, and the device connects and uses its own topics.
func TestProvisioningScript(t *testing.T) {
	emu := startEmulator(t, "")
	ctl := iotClientAt(awsConfig(awsKey(sigv4Key, sigv4Secret), nil), emu.APIURL())
	ctx := t.Context()

	// 1. The CA, with a verification certificate for this account's registration code.
	ca := newDeviceCA(t)
	code, err := ctl.GetRegistrationCode(ctx, &iot.GetRegistrationCodeInput{})
	if err != nil || aws.ToString(code.RegistrationCode) == "" {
		t.Fatalf("GetRegistrationCode: %+v, %v", code, err)
	}
	verification, _ := ca.issue(t, aws.ToString(code.RegistrationCode), 2)
	reg, err := ctl.RegisterCACertificate(ctx, &iot.RegisterCACertificateInput{
		CaCertificate:           aws.String(ca.pem),
		VerificationCertificate: aws.String(verification),
		SetAsActive:             true,
		AllowAutoRegistration:   true,
	})
	if err != nil {
		t.Fatalf("RegisterCACertificate: %v", err)
	}
	caID := aws.ToString(reg.CertificateId)
	if want := certIDOfPEM(t, ca.pem); caID != want || aws.ToString(reg.CertificateArn) != "arn:aws:iot:us-east-1:123456789012:cacert/"+want {
		t.Fatalf("RegisterCACertificate: id %s arn %s, want id %s", caID, aws.ToString(reg.CertificateArn), want)
	}
	caDesc, err := ctl.DescribeCACertificate(ctx, &iot.DescribeCACertificateInput{CertificateId: aws.String(caID)})
	if err != nil || caDesc.CertificateDescription.Status != iottypes.CACertificateStatusActive ||
		caDesc.CertificateDescription.AutoRegistrationStatus != iottypes.AutoRegistrationStatusEnable {
		t.Fatalf("DescribeCACertificate: %+v, %v; want ACTIVE with auto-registration ENABLE", caDesc, err)
	}

	// 2. The fleet's thing group and its thing-scoped policy.
	if _, err := ctl.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String("fleet-policy"), PolicyDocument: aws.String(fleetPolicy)}); err != nil {
		t.Fatalf("CreatePolicy: %v", err)
	}
	group, err := ctl.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("fleet")})
	if err != nil {
		t.Fatalf("CreateThingGroup: %v", err)
	}
	if _, err := ctl.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String("fleet-policy"), Target: group.ThingGroupArn}); err != nil {
		t.Fatalf("AttachPolicy to the group: %v", err)
	}

	// 3. A monitor watches registrations.
	events := watchTopics(t, emu, "$aws/events/certificates/registered/+")

	// 4. A new device knocks over 443 with a certificate nobody registered: refused, and
	// registered just in time.
	const thing = "sensor-42"
	certPEM, keyPEM := ca.issue(t, thing, 3)
	certID := certIDOfPEM(t, certPEM)
	deviceTLS := func(alpn ...string) *tls.Config { return keyPairTLS(t, emu, certPEM, keyPEM, alpn...) }
	start := time.Now()
	if got, err := rawConnect(t, emu.ALPNAddr(), thing, deviceTLS(listener.ProtocolMQTTCA)); err != nil || len(got) != 0 {
		t.Fatalf("first CONNECT of an unregistered certificate: CONNACK %x, %v; want the connection closed without one", got, err)
	}
	msg := nextMessage(t, events, "the just-in-time registration event")
	if msg.topic != "$aws/events/certificates/registered/"+caID {
		t.Fatalf("registration event on %s, want $aws/events/certificates/registered/%s", msg.topic, caID)
	}
	var ev jitrEvent
	if err := json.Unmarshal([]byte(msg.payload), &ev); err != nil {
		t.Fatalf("registration event %q: %v", msg.payload, err)
	}
	if ev.CertificateID != certID || ev.CACertificateID != caID || ev.CertificateStatus != "PENDING_ACTIVATION" || ev.AWSAccountID != "123456789012" {
		t.Fatalf("registration event %s: want certificateId %s (SHA-256 of the DER), caCertificateId %s, PENDING_ACTIVATION, account 123456789012", msg.payload, certID, caID)
	}
	if ts := time.UnixMilli(ev.Timestamp); ts.Before(start.Add(-time.Second)) || ts.After(time.Now().Add(time.Second)) {
		t.Errorf("registration event timestamp %d is not the connection's time in ms", ev.Timestamp)
	}
	var regTS string
	if err := json.Unmarshal(ev.CertificateRegistrationTimestamp, &regTS); err != nil {
		t.Errorf("certificateRegistrationTimestamp %s is not a string: %v", ev.CertificateRegistrationTimestamp, err)
	} else if ms, err := strconv.ParseInt(regTS, 10, 64); err != nil || time.UnixMilli(ms).Before(start.Add(-time.Second)) || time.UnixMilli(ms).After(time.Now().Add(time.Second)) {
		t.Errorf("certificateRegistrationTimestamp %q is not the registration time in epoch ms", regTS)
	}
	rec := transcriptFor(t, emu, func(r listener.Record) bool { return r.Listener == "alpn" && r.ClientID == thing })
	if rec.Outcome != "refused" || rec.CertificateID != certID {
		t.Errorf("transcript of the first CONNECT: outcome %q, certificate %s; want refused, %s", rec.Outcome, rec.CertificateID, certID)
	}

	// Knocking again (on 8883, the CA in the chain this time) is refused too and announces the
	// certificate again, as AWS does while it is PENDING_ACTIVATION.
	chained := deviceTLS()
	chained.Certificates[0].Certificate = append(chained.Certificates[0].Certificate, ca.cert.Raw)
	if got, err := rawConnect(t, emu.MQTTAddr(), thing, chained); err != nil || len(got) != 0 {
		t.Fatalf("second CONNECT of a PENDING_ACTIVATION certificate: CONNACK %x, %v; want refused", got, err)
	}
	again := nextMessage(t, events, "the registration event of the second CONNECT")
	var ev2 jitrEvent
	if err := json.Unmarshal([]byte(again.payload), &ev2); err != nil {
		t.Fatalf("second registration event %q: %v", again.payload, err)
	}
	if again.topic != msg.topic || ev2.CertificateID != certID || ev2.CertificateStatus != "PENDING_ACTIVATION" ||
		string(ev2.CertificateRegistrationTimestamp) != string(ev.CertificateRegistrationTimestamp) {
		t.Fatalf("second registration event %s on %s, want the same certificate, still PENDING_ACTIVATION, registered at %s", again.payload, again.topic, ev.CertificateRegistrationTimestamp)
	}

	desc, err := ctl.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(certID)})
	if err != nil {
		t.Fatalf("DescribeCertificate: %v", err)
	}
	cd := desc.CertificateDescription
	if cd.Status != iottypes.CertificateStatusPendingActivation || aws.ToString(cd.CaCertificateId) != caID || aws.ToString(cd.CertificatePem) == "" {
		t.Fatalf("DescribeCertificate: status %s CA %s, want PENDING_ACTIVATION registered with %s", cd.Status, aws.ToString(cd.CaCertificateId), caID)
	}
	certARN := aws.ToString(cd.CertificateArn)

	// 5. The script activates the certificate and makes it a thing of the fleet.
	if _, err := ctl.UpdateCertificate(ctx, &iot.UpdateCertificateInput{CertificateId: aws.String(certID), NewStatus: iottypes.CertificateStatusActive}); err != nil {
		t.Fatalf("UpdateCertificate ACTIVE: %v", err)
	}
	if _, err := ctl.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(thing)}); err != nil {
		t.Fatalf("CreateThing: %v", err)
	}
	if _, err := ctl.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String(thing), Principal: aws.String(certARN)}); err != nil {
		t.Fatalf("AttachThingPrincipal: %v", err)
	}
	// No policy is attached to the certificate itself: until the thing joins the group,
	// nothing allows iot:Connect.
	if pols, err := ctl.ListAttachedPolicies(ctx, &iot.ListAttachedPoliciesInput{Target: aws.String(certARN)}); err != nil || len(pols.Policies) != 0 {
		t.Fatalf("ListAttachedPolicies of the certificate: %+v, %v; want none", pols, err)
	}
	if got, err := rawConnect(t, emu.ALPNAddr(), thing, deviceTLS(listener.ProtocolMQTTCA)); err != nil || len(got) != 0 {
		t.Fatalf("CONNECT of an active certificate with no policy: CONNACK %x, %v; want refused", got, err)
	}
	if _, err := ctl.AddThingToThingGroup(ctx, &iot.AddThingToThingGroupInput{ThingGroupName: aws.String("fleet"), ThingName: aws.String(thing)}); err != nil {
		t.Fatalf("AddThingToThingGroup: %v", err)
	}

	// 6. The device connects again, as its thing, and uses its own topics; the group's policy
	// is thing-scoped, so another client id is refused.
	if got, err := rawConnect(t, emu.ALPNAddr(), "sensor-43", deviceTLS(listener.ProtocolMQTTCA)); err != nil || len(got) != 0 {
		t.Fatalf("CONNECT as another client id: CONNACK %x, %v; want refused", got, err)
	}
	dev, err := connectPaho(t, emu.ALPNAddr(), thing, deviceTLS(listener.ProtocolMQTTCA), nil)
	if err != nil {
		t.Fatalf("the activated device's CONNECT over 443: %v", err)
	}
	handler, inbox := msgCollector()
	if err := wait(t, dev.Subscribe("things/sensor-42/cmd", 1, handler)); err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	if err := wait(t, dev.Publish("things/sensor-42/cmd", 1, false, "reboot")); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if m := nextMessage(t, inbox, "the device's own message"); m.topic != "things/sensor-42/cmd" || m.payload != "reboot" {
		t.Fatalf("device received %+v, want reboot on things/sensor-42/cmd", m)
	}
	// An ACTIVE certificate is not announced: the connections after activation published no
	// registration event.
	select {
	case m := <-events:
		t.Fatalf("registration event after activation: %+v", m)
	default:
	}
}

// thingEventDoc is the message of $aws/events/thing/<thingName>/<operation>.
type thingEventDoc struct {
	EventType     string            `json:"eventType"`
	EventID       string            `json:"eventId"`
	Timestamp     int64             `json:"timestamp"`
	Operation     string            `json:"operation"`
	AccountID     string            `json:"accountId"`
	ThingID       string            `json:"thingId"`
	ThingName     string            `json:"thingName"`
	VersionNumber int64             `json:"versionNumber"`
	ThingTypeName *string           `json:"thingTypeName"`
	Attributes    map[string]string `json:"attributes"`
}

// TestRegistryEvents switches THING events on with UpdateEventConfigurations and checks the
// documents of CreateThing, UpdateThing and DeleteThing; with the switch off nothing is
// published.
func TestRegistryEvents(t *testing.T) {
	emu := startEmulator(t, "")
	ctl := iotClientAt(awsConfig(awsKey(sigv4Key, sigv4Secret), nil), emu.APIURL())
	ctx := t.Context()
	events := watchTopics(t, emu, "$aws/events/thing/+/+", "$aws/events/thingGroup/+/+")

	// Off, as in a new account: this thing is created silently.
	if _, err := ctl.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("quiet-before")}); err != nil {
		t.Fatal(err)
	}
	if _, err := ctl.UpdateEventConfigurations(ctx, &iot.UpdateEventConfigurationsInput{
		EventConfigurations: map[string]iottypes.Configuration{"THING": {Enabled: true}},
	}); err != nil {
		t.Fatalf("UpdateEventConfigurations: %v", err)
	}
	conf, err := ctl.DescribeEventConfigurations(ctx, &iot.DescribeEventConfigurationsInput{})
	if err != nil || !conf.EventConfigurations["THING"].Enabled || conf.EventConfigurations["THING_GROUP"].Enabled {
		t.Fatalf("DescribeEventConfigurations: %+v, %v; want THING on, THING_GROUP off", conf, err)
	}

	const name = "registry-thing"
	expect := func(op string) thingEventDoc {
		t.Helper()
		m := nextMessage(t, events, op+" event")
		if want := "$aws/events/thing/" + name + "/" + op; m.topic != want {
			t.Fatalf("event on %s (%s), want %s", m.topic, m.payload, want)
		}
		var doc thingEventDoc
		if err := json.Unmarshal([]byte(m.payload), &doc); err != nil {
			t.Fatalf("%s event %q: %v", op, m.payload, err)
		}
		var raw map[string]json.RawMessage
		if err := json.Unmarshal([]byte(m.payload), &raw); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"eventType", "eventId", "timestamp", "operation", "accountId", "thingId", "thingName", "versionNumber", "thingTypeName", "attributes"} {
			if _, ok := raw[k]; !ok {
				t.Errorf("%s event %s has no %s", op, m.payload, k)
			}
		}
		if doc.EventType != "THING_EVENT" || !uuidPattern.MatchString(doc.EventID) || doc.AccountID != "123456789012" || doc.ThingName != name || doc.ThingTypeName != nil {
			t.Errorf("%s event %s: want eventType THING_EVENT, a UUID eventId, accountId 123456789012, thingName %s, thingTypeName null", op, m.payload, name)
		}
		if ts := time.UnixMilli(doc.Timestamp); ts.Before(time.Now().Add(-10*time.Second)) || ts.After(time.Now().Add(time.Second)) {
			t.Errorf("%s event timestamp %d is not now in epoch ms", op, doc.Timestamp)
		}
		return doc
	}

	created, err := ctl.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(name),
		AttributePayload: &iottypes.AttributePayload{Attributes: map[string]string{"model": "m1"}}})
	if err != nil {
		t.Fatal(err)
	}
	// The first event is this thing's: quiet-before published nothing.
	doc := expect("created")
	if doc.Operation != "CREATED" || doc.ThingID != aws.ToString(created.ThingId) || doc.VersionNumber != 1 || !maps.Equal(doc.Attributes, map[string]string{"model": "m1"}) {
		t.Fatalf("created event %+v: want CREATED, thingId %s, version 1, attributes model=m1", doc, aws.ToString(created.ThingId))
	}
	eventIDs := []string{doc.EventID}

	if _, err := ctl.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: aws.String(name),
		AttributePayload: &iottypes.AttributePayload{Attributes: map[string]string{"fw": "1.1"}, Merge: true}}); err != nil {
		t.Fatal(err)
	}
	doc = expect("updated")
	if doc.Operation != "UPDATED" || doc.ThingID != aws.ToString(created.ThingId) || doc.VersionNumber != 2 || !maps.Equal(doc.Attributes, map[string]string{"model": "m1", "fw": "1.1"}) {
		t.Fatalf("updated event %+v: want UPDATED, version 2, attributes model=m1 fw=1.1", doc)
	}
	eventIDs = append(eventIDs, doc.EventID)

	if _, err := ctl.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	doc = expect("deleted")
	if doc.Operation != "DELETED" || doc.ThingID != aws.ToString(created.ThingId) || doc.VersionNumber != 2 || !maps.Equal(doc.Attributes, map[string]string{"model": "m1", "fw": "1.1"}) {
		t.Fatalf("deleted event %+v: want DELETED with the thing as it was (version 2, both attributes)", doc)
	}
	eventIDs = append(eventIDs, doc.EventID)
	slices.Sort(eventIDs)
	if len(slices.Compact(eventIDs)) != 3 {
		t.Errorf("event ids %v are not distinct", eventIDs)
	}

	// Off again: thing changes are silent. Switching THING_GROUP on and creating a group gives
	// a later event; it must be the next one received.
	if _, err := ctl.UpdateEventConfigurations(ctx, &iot.UpdateEventConfigurationsInput{
		EventConfigurations: map[string]iottypes.Configuration{"THING": {Enabled: false}},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := ctl.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("quiet-after")}); err != nil {
		t.Fatal(err)
	}
	if _, err := ctl.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: aws.String("quiet-after"),
		AttributePayload: &iottypes.AttributePayload{Attributes: map[string]string{"a": "b"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ctl.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String("quiet-after")}); err != nil {
		t.Fatal(err)
	}
	if _, err := ctl.UpdateEventConfigurations(ctx, &iot.UpdateEventConfigurationsInput{
		EventConfigurations: map[string]iottypes.Configuration{"THING_GROUP": {Enabled: true}},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := ctl.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("sentinel")}); err != nil {
		t.Fatal(err)
	}
	if m := nextMessage(t, events, "the thing group's event"); m.topic != "$aws/events/thingGroup/sentinel/created" {
		t.Fatalf("with THING events off, received %s: %s", m.topic, m.payload)
	}
}
