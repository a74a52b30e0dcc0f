package e2e

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
	datatypes "github.com/aws/aws-sdk-go-v2/service/iotdataplane/types"
	"github.com/aws/smithy-go"
	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/iotcore-local/iotcore-local/emulator"
	"github.com/iotcore-local/iotcore-local/listener"
)

// The key pair the emulators of these tests verify signatures with.
const (
	sigv4Key    = "AKIDEXAMPLE"
	sigv4Secret = "secret"
)

// awsConfig is an AWS SDK configuration for us-east-1 with the given credentials and HTTP
// client (nil: the SDK's default), retries off so that every error shows at once.
func awsConfig(creds aws.CredentialsProvider, hc aws.HTTPClient) aws.Config {
	cfg := aws.Config{Region: "us-east-1", Credentials: creds, RetryMaxAttempts: 1}
	if hc != nil {
		cfg.HTTPClient = hc
	}
	return cfg
}

func awsKey(key, secret string) aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(key, secret, "")
}

// iotClientAt is a control-plane client for the endpoint url (what --endpoint-url does).
func iotClientAt(cfg aws.Config, url string) *iot.Client {
	return iot.NewFromConfig(cfg, func(o *iot.Options) { o.BaseEndpoint = aws.String(url) })
}

// dataClientAt is a data-plane client for the endpoint url.
func dataClientAt(cfg aws.Config, url string) *iotdataplane.Client {
	return iotdataplane.NewFromConfig(cfg, func(o *iotdataplane.Options) { o.BaseEndpoint = aws.String(url) })
}

// httpsClientFor is an HTTP client with its own transport using tlsCfg; its idle connections are
// closed when the test ends (before the emulator closes).
func httpsClientFor(t *testing.T, tlsCfg *tls.Config) *http.Client {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: tlsCfg, ForceAttemptHTTP2: false}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 15 * time.Second}
}

// trustEmulator is a client TLS configuration without a certificate that trusts the emulator's
// root CA for "localhost", offering the given ALPN protocols (none when alpn is nil).
func trustEmulator(t *testing.T, emu *emulator.Emulator, alpn []string) *tls.Config {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(emu.RootCAPEM()) {
		t.Fatal("the emulator's root CA PEM holds no certificate")
	}
	return &tls.Config{RootCAs: pool, ServerName: "localhost", NextProtos: alpn, MinVersion: tls.VersionTLS12}
}

// keyPairTLS is a device TLS configuration for a certificate and key given as PEM.
func keyPairTLS(t *testing.T, emu *emulator.Emulator, certPEM, keyPEM string, alpn ...string) *tls.Config {
	t.Helper()
	cert, err := tls.X509KeyPair([]byte(certPEM), []byte(keyPEM))
	if err != nil {
		t.Fatalf("key pair: %v", err)
	}
	cfg := trustEmulator(t, emu, alpn)
	cfg.Certificates = []tls.Certificate{cert}
	return cfg
}

// certIDOfPEM is AWS's certificate id of a PEM certificate: hex SHA-256 of its DER.
func certIDOfPEM(t *testing.T, certPEM string) string {
	t.Helper()
	block, _ := pem.Decode([]byte(certPEM))
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("not a PEM certificate: %q", certPEM)
	}
	sum := sha256.Sum256(block.Bytes)
	return hex.EncodeToString(sum[:])
}

// wantAWSError asserts that err is AWS's error code with the HTTP status.
func wantAWSError(t *testing.T, err error, code string, status int) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s (%d)", code, status)
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an AWS API error, want %s", err, err, code)
	}
	if ae.ErrorCode() != code {
		t.Errorf("error code %q (%v), want %q", ae.ErrorCode(), err, code)
	}
	wantHTTPStatus(t, err, status)
}

// wantHTTPStatus asserts the HTTP status of an SDK error.
func wantHTTPStatus(t *testing.T, err error, status int) {
	t.Helper()
	var re *awshttp.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("error %v carries no HTTP response", err)
	}
	if got := re.HTTPStatusCode(); got != status {
		t.Errorf("HTTP status %d, want %d (%v)", got, status, err)
	}
}

// gotMessage is one message a paho subscription received.
type gotMessage struct {
	topic    string
	payload  string
	retained bool
}

// msgCollector returns a paho handler that sends what it receives on a buffered channel.
func msgCollector() (paho.MessageHandler, <-chan gotMessage) {
	ch := make(chan gotMessage, 64)
	return func(_ paho.Client, m paho.Message) {
		ch <- gotMessage{topic: m.Topic(), payload: string(m.Payload()), retained: m.Retained()}
	}, ch
}

// nextMessage returns the next message on ch, failing the test after 10 s.
func nextMessage(t *testing.T, ch <-chan gotMessage, what string) gotMessage {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(10 * time.Second):
		t.Fatalf("no MQTT message: %s", what)
	}
	return gotMessage{}
}

// connackAccepted is an MQTT 3.1.1 CONNACK with return code 0 and no session present.
var connackAccepted = []byte{0x20, 0x02, 0x00, 0x00}

// TestSDKOverAPIAndPort443 drives the control plane and the data plane with the AWS SDK for Go
// v2 as a provisioning backend does, against the plain API address and against the ALPN port
// without a private ALPN id (HTTPS personality, no client certificate, SigV4), with a
// configured key pair verified and unknown keys refused (--sigv4-strict).
func TestSDKOverAPIAndPort443(t *testing.T) {
	emu := startEmulator(t, "", func(c *emulator.Config) {
		c.Credentials = map[string]string{sigv4Key: sigv4Secret}
		c.SigV4Strict = true
	})
	// The SDK's default transport with the emulator's CA added, as an SDK user configures it:
	// it offers h2 and http/1.1.
	sdkDefault := func(t *testing.T) aws.HTTPClient {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(emu.RootCAPEM())
		tr := awshttp.NewBuildableClient().GetTransport()
		tr.TLSClientConfig.RootCAs = pool
		tr.TLSClientConfig.ServerName = "localhost"
		t.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Transport: tr}
	}
	targets := []struct {
		name     string
		url      string
		client   func(t *testing.T) aws.HTTPClient // nil: the SDK's default
		offered  []string                          // ALPN on 443; nil: no ALPN extension
		selected string
	}{
		{name: "api", url: emu.APIURL()},
		{name: "443-no-alpn", url: "https://" + emu.ALPNAddr(),
			client: func(t *testing.T) aws.HTTPClient { return httpsClientFor(t, trustEmulator(t, emu, nil)) }},
		{name: "443-http1", url: "https://" + emu.ALPNAddr(), offered: []string{"http/1.1"}, selected: "http/1.1",
			client: func(t *testing.T) aws.HTTPClient {
				return httpsClientFor(t, trustEmulator(t, emu, []string{"http/1.1"}))
			}},
		{name: "443-h2", url: "https://" + emu.ALPNAddr(), offered: []string{"h2", "http/1.1"}, selected: "h2", client: sdkDefault},
	}
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			var hc aws.HTTPClient
			if tg.client != nil {
				hc = tg.client(t)
			}
			good := awsConfig(awsKey(sigv4Key, sigv4Secret), hc)
			ctl, data := iotClientAt(good, tg.url), dataClientAt(good, tg.url)
			ctx := t.Context()
			p := tg.name + "-"

			// Things: create, describe, update (merge, expectedVersion), list with a filter and paging.
			thing := p + "thing"
			created, err := ctl.CreateThing(ctx, &iot.CreateThingInput{
				ThingName:        aws.String(thing),
				AttributePayload: &iottypes.AttributePayload{Attributes: map[string]string{"fleet": tg.name, "model": "m1"}},
			})
			if err != nil {
				t.Fatalf("CreateThing: %v", err)
			}
			if aws.ToString(created.ThingName) != thing || aws.ToString(created.ThingArn) != "arn:aws:iot:us-east-1:123456789012:thing/"+thing ||
				!uuidPattern.MatchString(aws.ToString(created.ThingId)) {
				t.Fatalf("CreateThing answered %+v", created)
			}
			desc, err := ctl.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(thing)})
			if err != nil {
				t.Fatalf("DescribeThing: %v", err)
			}
			if aws.ToString(desc.ThingId) != aws.ToString(created.ThingId) || desc.Version != 1 || desc.Attributes["model"] != "m1" {
				t.Fatalf("DescribeThing: id %s version %d attributes %v", aws.ToString(desc.ThingId), desc.Version, desc.Attributes)
			}
			_, err = ctl.UpdateThing(ctx, &iot.UpdateThingInput{
				ThingName:        aws.String(thing),
				AttributePayload: &iottypes.AttributePayload{Attributes: map[string]string{"fw": "2.0"}, Merge: true},
				ExpectedVersion:  aws.Int64(1),
			})
			if err != nil {
				t.Fatalf("UpdateThing: %v", err)
			}
			_, err = ctl.UpdateThing(ctx, &iot.UpdateThingInput{
				ThingName:        aws.String(thing),
				AttributePayload: &iottypes.AttributePayload{Attributes: map[string]string{"fw": "3.0"}, Merge: true},
				ExpectedVersion:  aws.Int64(1),
			})
			var conflict *iottypes.VersionConflictException
			if !errors.As(err, &conflict) {
				t.Fatalf("UpdateThing with a stale expectedVersion: %v, want VersionConflictException", err)
			}
			wantHTTPStatus(t, err, http.StatusConflict)
			desc, err = ctl.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(thing)})
			if err != nil {
				t.Fatalf("DescribeThing: %v", err)
			}
			if desc.Version != 2 || desc.Attributes["model"] != "m1" || desc.Attributes["fw"] != "2.0" {
				t.Fatalf("after UpdateThing: version %d attributes %v, want version 2 with model=m1 fw=2.0", desc.Version, desc.Attributes)
			}
			_, err = ctl.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(p + "missing")})
			var notFound *iottypes.ResourceNotFoundException
			if !errors.As(err, &notFound) {
				t.Fatalf("DescribeThing of a missing thing: %v, want ResourceNotFoundException", err)
			}
			wantHTTPStatus(t, err, http.StatusNotFound)

			second := p + "thing-2"
			if _, err := ctl.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(second),
				AttributePayload: &iottypes.AttributePayload{Attributes: map[string]string{"fleet": tg.name}}}); err != nil {
				t.Fatalf("CreateThing %s: %v", second, err)
			}
			var listed []string
			var pages int
			pager := iot.NewListThingsPaginator(ctl, &iot.ListThingsInput{AttributeName: aws.String("fleet"), AttributeValue: aws.String(tg.name), MaxResults: aws.Int32(1)})
			for pager.HasMorePages() {
				page, err := pager.NextPage(ctx)
				if err != nil {
					t.Fatalf("ListThings: %v", err)
				}
				pages++
				for _, th := range page.Things {
					listed = append(listed, aws.ToString(th.ThingName))
				}
			}
			slices.Sort(listed)
			if !slices.Equal(listed, []string{thing, second}) || pages != 2 {
				t.Fatalf("ListThings fleet=%s in pages of 1: %v in %d pages, want [%s %s] in 2", tg.name, listed, pages, thing, second)
			}

			// A policy and a certificate, attached to each other and to the thing.
			policy := p + "policy"
			pol, err := ctl.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String(policy), PolicyDocument: aws.String(thingPolicy)})
			if err != nil {
				t.Fatalf("CreatePolicy: %v", err)
			}
			if aws.ToString(pol.PolicyArn) != "arn:aws:iot:us-east-1:123456789012:policy/"+policy || aws.ToString(pol.PolicyVersionId) != "1" {
				t.Fatalf("CreatePolicy answered arn %s version %s", aws.ToString(pol.PolicyArn), aws.ToString(pol.PolicyVersionId))
			}
			keys, err := ctl.CreateKeysAndCertificate(ctx, &iot.CreateKeysAndCertificateInput{SetAsActive: true})
			if err != nil {
				t.Fatalf("CreateKeysAndCertificate: %v", err)
			}
			certPEM, certARN := aws.ToString(keys.CertificatePem), aws.ToString(keys.CertificateArn)
			if id := certIDOfPEM(t, certPEM); aws.ToString(keys.CertificateId) != id || certARN != "arn:aws:iot:us-east-1:123456789012:cert/"+id {
				t.Fatalf("CreateKeysAndCertificate: id %s arn %s, want the SHA-256 of the DER %s", aws.ToString(keys.CertificateId), certARN, id)
			}
			if keys.KeyPair == nil {
				t.Fatal("CreateKeysAndCertificate returned no key pair")
			}
			if _, err := ctl.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String(policy), Target: aws.String(certARN)}); err != nil {
				t.Fatalf("AttachPolicy: %v", err)
			}
			if _, err := ctl.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String(thing), Principal: aws.String(certARN)}); err != nil {
				t.Fatalf("AttachThingPrincipal: %v", err)
			}
			attached, err := ctl.ListAttachedPolicies(ctx, &iot.ListAttachedPoliciesInput{Target: aws.String(certARN)})
			if err != nil || len(attached.Policies) != 1 || aws.ToString(attached.Policies[0].PolicyName) != policy {
				t.Fatalf("ListAttachedPolicies: %+v, %v; want [%s]", attached, err, policy)
			}
			principals, err := ctl.ListThingPrincipals(ctx, &iot.ListThingPrincipalsInput{ThingName: aws.String(thing)})
			if err != nil || !slices.Equal(principals.Principals, []string{certARN}) {
				t.Fatalf("ListThingPrincipals: %+v, %v; want [%s]", principals, err, certARN)
			}
			// What the SDK made is what a device uses: the certificate connects as the thing.
			devTLS := keyPairTLS(t, emu, certPEM, aws.ToString(keys.KeyPair.PrivateKey))
			if got, err := rawConnect(t, emu.MQTTAddr(), thing, devTLS); err != nil || !slices.Equal(got, connackAccepted) {
				t.Fatalf("CONNECT with the certificate made through the SDK: CONNACK %x, %v; want %x", got, err, connackAccepted)
			}

			// Thing groups.
			group := p + "group"
			g, err := ctl.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String(group)})
			if err != nil {
				t.Fatalf("CreateThingGroup: %v", err)
			}
			if aws.ToString(g.ThingGroupArn) != "arn:aws:iot:us-east-1:123456789012:thinggroup/"+group {
				t.Fatalf("CreateThingGroup arn %s", aws.ToString(g.ThingGroupArn))
			}
			if _, err := ctl.AddThingToThingGroup(ctx, &iot.AddThingToThingGroupInput{ThingGroupName: aws.String(group), ThingName: aws.String(thing)}); err != nil {
				t.Fatalf("AddThingToThingGroup: %v", err)
			}
			groups, err := ctl.ListThingGroupsForThing(ctx, &iot.ListThingGroupsForThingInput{ThingName: aws.String(thing)})
			if err != nil || len(groups.ThingGroups) != 1 || aws.ToString(groups.ThingGroups[0].GroupName) != group {
				t.Fatalf("ListThingGroupsForThing: %+v, %v; want [%s]", groups, err, group)
			}

			ep, err := ctl.DescribeEndpoint(ctx, &iot.DescribeEndpointInput{EndpointType: aws.String("iot:Data-ATS")})
			if err != nil || aws.ToString(ep.EndpointAddress) != emu.Endpoint() {
				t.Fatalf("DescribeEndpoint: %+v, %v; want %s", ep, err, emu.Endpoint())
			}

			// The data plane: retained publishes, read back one by one and in the list.
			topic, other := p+"devices/status", p+"devices/config"
			start := time.Now()
			if _, err := data.Publish(ctx, &iotdataplane.PublishInput{Topic: aws.String(topic), Payload: []byte(`{"on":true}`), Qos: 1, Retain: true}); err != nil {
				t.Fatalf("Publish: %v", err)
			}
			if _, err := data.Publish(ctx, &iotdataplane.PublishInput{Topic: aws.String(other), Payload: []byte("v2"), Retain: true}); err != nil {
				t.Fatalf("Publish: %v", err)
			}
			got, err := data.GetRetainedMessage(ctx, &iotdataplane.GetRetainedMessageInput{Topic: aws.String(topic)})
			if err != nil {
				t.Fatalf("GetRetainedMessage: %v", err)
			}
			if aws.ToString(got.Topic) != topic || string(got.Payload) != `{"on":true}` || got.Qos != 1 {
				t.Fatalf("GetRetainedMessage: topic %s payload %q qos %d", aws.ToString(got.Topic), got.Payload, got.Qos)
			}
			if lm := time.UnixMilli(got.LastModifiedTime); lm.Before(start.Add(-2*time.Second)) || lm.After(time.Now().Add(time.Second)) {
				t.Errorf("lastModifiedTime %d is not the publish time (%v)", got.LastModifiedTime, start)
			}
			var summaries []datatypes.RetainedMessageSummary
			var retainedPages int
			rp := iotdataplane.NewListRetainedMessagesPaginator(data, &iotdataplane.ListRetainedMessagesInput{MaxResults: aws.Int32(1)})
			for rp.HasMorePages() {
				page, err := rp.NextPage(ctx)
				if err != nil {
					t.Fatalf("ListRetainedMessages: %v", err)
				}
				retainedPages++
				summaries = append(summaries, page.RetainedTopics...)
			}
			var topics []string
			for _, s := range summaries {
				topics = append(topics, aws.ToString(s.Topic))
			}
			i := slices.Index(topics, topic)
			if i < 0 || !slices.Contains(topics, other) || summaries[i].PayloadSize != int64(len(`{"on":true}`)) || summaries[i].Qos != 1 ||
				summaries[i].LastModifiedTime != got.LastModifiedTime {
				t.Fatalf("ListRetainedMessages: %+v, want %s with 11 bytes at QoS 1 modified at %d, and %s", summaries, topic, got.LastModifiedTime, other)
			}
			if sorted := slices.Sorted(slices.Values(topics)); len(slices.Compact(sorted)) != len(topics) || len(topics) != retainedPages {
				t.Fatalf("ListRetainedMessages with maxResults 1: %v in %d pages, want distinct topics, one a page", topics, retainedPages)
			}
			_, err = data.GetRetainedMessage(ctx, &iotdataplane.GetRetainedMessageInput{Topic: aws.String(p + "never/retained")})
			var noMessage *datatypes.ResourceNotFoundException
			if !errors.As(err, &noMessage) {
				t.Fatalf("GetRetainedMessage of a topic without one: %v, want ResourceNotFoundException", err)
			}
			wantHTTPStatus(t, err, http.StatusNotFound)

			// Refusals: a known key with the wrong secret, an unknown key, no signature at all.
			bad := awsConfig(awsKey(sigv4Key, "not-the-secret"), hc)
			_, err = iotClientAt(bad, tg.url).ListThings(ctx, &iot.ListThingsInput{})
			wantAWSError(t, err, "InvalidSignatureException", http.StatusForbidden)
			_, err = dataClientAt(bad, tg.url).Publish(ctx, &iotdataplane.PublishInput{Topic: aws.String(p + "forged"), Payload: []byte("x"), Retain: true})
			wantAWSError(t, err, "InvalidSignatureException", http.StatusForbidden)
			unknown := awsConfig(awsKey("AKIDUNKNOWN", sigv4Secret), hc)
			_, err = iotClientAt(unknown, tg.url).DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(thing)})
			wantAWSError(t, err, "UnrecognizedClientException", http.StatusForbidden)
			_, err = dataClientAt(unknown, tg.url).GetRetainedMessage(ctx, &iotdataplane.GetRetainedMessageInput{Topic: aws.String(topic)})
			wantAWSError(t, err, "UnrecognizedClientException", http.StatusForbidden)
			_, err = iotClientAt(awsConfig(aws.AnonymousCredentials{}, hc), tg.url).ListThings(ctx, &iot.ListThingsInput{})
			wantAWSError(t, err, "MissingAuthenticationTokenException", http.StatusForbidden)
			// The refused publish was not carried out.
			if _, err := data.GetRetainedMessage(ctx, &iotdataplane.GetRetainedMessageInput{Topic: aws.String(p + "forged")}); !errors.As(err, &noMessage) {
				t.Fatalf("the publish with a wrong signature was retained or errs otherwise: %v", err)
			}

			if tg.client != nil {
				// The requests went through the ALPN port's HTTPS personality, which never
				// asks for a client certificate.
				transcriptFor(t, emu, func(r listener.Record) bool {
					return r.Listener == "alpn" && r.Personality == listener.PersonalityHTTPS && !r.ClientCertRequested &&
						slices.Equal(r.ALPNOffered, tg.offered) && r.ALPNSelected == tg.selected
				})
			}
		})
	}
}

// httpPublisherPolicy lets a device publish on telemetry/sensor-1/* over HTTPS and retain only on
// telemetry/sensor-1/state.
const httpPublisherPolicy = `{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:us-east-1:123456789012:topic/telemetry/sensor-1/*"},
 {"Effect":"Allow","Action":"iot:RetainPublish","Resource":"arn:aws:iot:us-east-1:123456789012:topic/telemetry/sensor-1/state"}]}`

// telemetrySubscriberPolicy lets clients named sub-* read everything under telemetry/.
const telemetrySubscriberPolicy = `{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-east-1:123456789012:client/sub-*"},
 {"Effect":"Allow","Action":"iot:Subscribe","Resource":"arn:aws:iot:us-east-1:123456789012:topicfilter/telemetry/*"},
 {"Effect":"Allow","Action":"iot:Receive","Resource":"arn:aws:iot:us-east-1:123456789012:topic/telemetry/*"}]}`

// TestHTTPSPublishWithDeviceCertificate publishes with the iot-data SDK authenticated by a
// device certificate, on 443 with x-amzn-http-ca and on 8443, to an MQTT subscriber on 8883;
// the certificate's policy decides iot:Publish and iot:RetainPublish.
func TestHTTPSPublishWithDeviceCertificate(t *testing.T) {
	emu := startEmulator(t, "")
	pub, err := emu.CreateDevice("sensor-1", httpPublisherPolicy)
	if err != nil {
		t.Fatal(err)
	}
	subDev, err := emu.CreateDevice("sub-a", telemetrySubscriberPolicy)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := connectPaho(t, emu.MQTTAddr(), "sub-a", tlsConfig(t, subDev), nil)
	if err != nil {
		t.Fatalf("subscriber connect: %v", err)
	}
	handler, messages := msgCollector()
	if err := wait(t, sub.Subscribe("telemetry/#", 1, handler)); err != nil {
		t.Fatal(err)
	}

	anonymous := func(hc *http.Client) aws.Config { return awsConfig(aws.AnonymousCredentials{}, hc) }
	on443 := dataClientAt(anonymous(httpsClientFor(t, tlsConfig(t, pub, listener.ProtocolHTTPCA))), "https://"+emu.ALPNAddr())
	on8443 := dataClientAt(anonymous(httpsClientFor(t, tlsConfig(t, pub))), "https://"+emu.HTTPSAddr())
	ctx := t.Context()

	for _, c := range []struct {
		port   string
		client *iotdataplane.Client
	}{{"443", on443}, {"8443", on8443}} {
		topic := "telemetry/sensor-1/temp"
		payload := "21.5 via " + c.port
		if _, err := c.client.Publish(ctx, &iotdataplane.PublishInput{Topic: aws.String(topic), Payload: []byte(payload), Qos: 1}); err != nil {
			t.Fatalf("Publish on %s: %v", c.port, err)
		}
		if m := nextMessage(t, messages, "the publish on "+c.port); m.topic != topic || m.payload != payload || m.retained {
			t.Fatalf("subscriber got %+v, want %q on %s", m, payload, topic)
		}

		// Outside the policy: another device's topic; a retained publish where only
		// iot:Publish is allowed.
		// The iot-data model lists no ForbiddenException for Publish, so the SDK reports it as
		// a generic API error with that code (not as *types.ForbiddenException).
		_, err := c.client.Publish(ctx, &iotdataplane.PublishInput{Topic: aws.String("telemetry/sensor-2/temp"), Payload: []byte("spoofed")})
		wantAWSError(t, err, "ForbiddenException", http.StatusForbidden)
		_, err = c.client.Publish(ctx, &iotdataplane.PublishInput{Topic: aws.String(topic), Payload: []byte("retained"), Retain: true})
		wantAWSError(t, err, "ForbiddenException", http.StatusForbidden)
		// DeleteConnection does model it: the certificate's policy has no iot:DeleteConnection.
		_, err = c.client.DeleteConnection(ctx, &iotdataplane.DeleteConnectionInput{ClientId: aws.String("sub-a")})
		var forbidden *datatypes.ForbiddenException
		if !errors.As(err, &forbidden) {
			t.Fatalf("DeleteConnection outside the policy on %s: %v, want *types.ForbiddenException", c.port, err)
		}
		wantHTTPStatus(t, err, http.StatusForbidden)
		// Neither refused message reached the subscriber, which is still connected: the next
		// message is this sentinel.
		sentinel := "sentinel via " + c.port
		if _, err := c.client.Publish(ctx, &iotdataplane.PublishInput{Topic: aws.String("telemetry/sensor-1/sentinel"), Payload: []byte(sentinel)}); err != nil {
			t.Fatalf("Publish on %s: %v", c.port, err)
		}
		if m := nextMessage(t, messages, "the sentinel on "+c.port); m.payload != sentinel {
			t.Fatalf("subscriber got %+v, want the sentinel %q (a refused publish was delivered)", m, sentinel)
		}
	}
	transcriptFor(t, emu, func(r listener.Record) bool {
		return r.Listener == "alpn" && r.Personality == listener.PersonalityHTTPSX509 && r.ClientCertRequested &&
			r.ALPNSelected == listener.ProtocolHTTPCA && r.CertificateID == pub.CertificateID
	})
	transcriptFor(t, emu, func(r listener.Record) bool {
		return r.Listener == "https" && r.Personality == listener.PersonalityHTTPSX509 && r.ClientCertRequested && r.CertificateID == pub.CertificateID
	})

	// A retained publish over HTTPS, then an exact MQTT subscription made afterwards gets it.
	state := "telemetry/sensor-1/state"
	if _, err := on8443.Publish(ctx, &iotdataplane.PublishInput{Topic: aws.String(state), Payload: []byte("online"), Qos: 1, Retain: true}); err != nil {
		t.Fatalf("retained Publish: %v", err)
	}
	if m := nextMessage(t, messages, "the retained publish, live"); m.topic != state || m.payload != "online" {
		t.Fatalf("subscriber got %+v, want the live copy of the retained publish", m)
	}
	late, err := connectPaho(t, emu.ALPNAddr(), "sub-b", tlsConfig(t, subDev, listener.ProtocolMQTTCA), nil)
	if err != nil {
		t.Fatalf("late subscriber connect: %v", err)
	}
	lateHandler, lateMessages := msgCollector()
	if err := wait(t, late.Subscribe(state, 1, lateHandler)); err != nil {
		t.Fatal(err)
	}
	if m := nextMessage(t, lateMessages, "the retained message on subscribe"); m.topic != state || m.payload != "online" || !m.retained {
		t.Fatalf("late subscriber got %+v, want the retained %q with the retain flag", m, "online")
	}
}

// TestDeleteConnection closes a live MQTT connection through the data plane's DeleteConnection;
// the client sees its connection lost and the disconnected lifecycle event gives the reason.
func TestDeleteConnection(t *testing.T) {
	emu := startEmulator(t, "")
	events := watchEvents(t, emu)
	d := device(t, emu, "victim")
	lost := make(chan error, 1)
	if _, err := connectPaho(t, emu.ALPNAddr(), "victim", tlsConfig(t, d, listener.ProtocolMQTTCA), func(err error) { lost <- err }); err != nil {
		t.Fatal(err)
	}
	connected := next(t, events, "victim")
	if connected.EventType != "connected" {
		t.Fatalf("first event %+v, want connected", connected)
	}

	data := dataClientAt(awsConfig(awsKey(sigv4Key, sigv4Secret), nil), emu.APIURL())
	if _, err := data.DeleteConnection(t.Context(), &iotdataplane.DeleteConnectionInput{ClientId: aws.String("victim")}); err != nil {
		t.Fatalf("DeleteConnection: %v", err)
	}
	select {
	case <-lost:
	case <-time.After(10 * time.Second):
		t.Fatal("the client did not lose its connection after DeleteConnection")
	}
	ev := next(t, events, "victim")
	if ev.Topic != "$aws/events/presence/disconnected/victim" || ev.DisconnectReason != "API_INITIATED_DISCONNECT" ||
		ev.ClientInitiatedDisconnect == nil || *ev.ClientInitiatedDisconnect || ev.SessionIdentifier != connected.SessionIdentifier ||
		ev.PrincipalIdentifier != d.CertificateID {
		t.Fatalf("disconnected event %+v, want API_INITIATED_DISCONNECT, clientInitiatedDisconnect false, session %s", ev, connected.SessionIdentifier)
	}

	_, err := data.DeleteConnection(t.Context(), &iotdataplane.DeleteConnectionInput{ClientId: aws.String("victim")})
	var notFound *datatypes.ResourceNotFoundException
	if !errors.As(err, &notFound) {
		t.Fatalf("DeleteConnection of a client that is not connected: %v, want ResourceNotFoundException", err)
	}
	wantHTTPStatus(t, err, http.StatusNotFound)
}
