package e2e

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane/types"
	"github.com/aws/smithy-go"
	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/iotcore-local/iotcore-local/emulator"
	"github.com/iotcore-local/iotcore-local/listener"
)

// shadowHTTPPolicy lets the thing lamp connect as itself, subscribe to and receive its shadow
// topics, and read and update its classic shadow over HTTPS.
const shadowHTTPPolicy = `{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-east-1:123456789012:client/lamp"},
 {"Effect":"Allow","Action":"iot:Subscribe","Resource":"arn:aws:iot:us-east-1:123456789012:topicfilter/$aws/things/lamp/shadow/*"},
 {"Effect":"Allow","Action":"iot:Receive","Resource":"arn:aws:iot:us-east-1:123456789012:topic/$aws/things/lamp/shadow/*"},
 {"Effect":"Allow","Action":["iot:GetThingShadow","iot:UpdateThingShadow"],"Resource":"arn:aws:iot:us-east-1:123456789012:thing/lamp"}
]}`

// shadowHTTPClock is the emulator's fixed clock in these tests, so documents compare exactly.
const shadowHTTPClock = 1700000000

// startShadowHTTP starts an emulator on the fixed clock with the device lamp, and an MQTT
// subscriber (the device's certificate) to $aws/things/lamp/shadow/#.
func startShadowHTTP(t *testing.T) (*emulator.Emulator, *emulator.Device, chan paho.Message) {
	t.Helper()
	emu := startEmulator(t, "", func(c *emulator.Config) {
		c.Now = func() time.Time { return time.Unix(shadowHTTPClock, 0) }
	})
	d, err := emu.CreateDevice("lamp", shadowHTTPPolicy)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan paho.Message, 16)
	sub, err := connectPaho(t, emu.MQTTAddr(), "lamp", tlsConfig(t, d), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := wait(t, sub.Subscribe("$aws/things/lamp/shadow/#", 1, collect(got))); err != nil {
		t.Fatal(err)
	}
	return emu, d, got
}

// shadowHTTPClient is an iotdataplane client for baseURL over hc, with retries off.
func shadowHTTPClient(hc *http.Client, baseURL string) *iotdataplane.Client {
	return iotdataplane.New(iotdataplane.Options{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		RetryMaxAttempts: 1,
		HTTPClient:       hc,
		BaseEndpoint:     aws.String(baseURL),
	})
}

// shadowHTTPNext returns the next message the subscriber receives and checks it.
func shadowHTTPNext(t *testing.T, got <-chan paho.Message, topic, payload string) {
	t.Helper()
	select {
	case m := <-got:
		if m.Topic() != topic || string(m.Payload()) != payload {
			t.Fatalf("received\n  %s %s\nwant\n  %s %s", m.Topic(), m.Payload(), topic, payload)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("nothing received on %s", topic)
	}
}

// TestShadowHTTPUpdateReachesMQTT: an UpdateThingShadow through the HTTP API (SigV4, the AWS SDK)
// is published to MQTT subscribers as update/accepted, update/delta and update/documents, exactly
// as an MQTT update would be; a refused HTTP update publishes nothing (no /rejected); a delete
// publishes delete/accepted.
func TestShadowHTTPUpdateReachesMQTT(t *testing.T) {
	emu, _, got := startShadowHTTP(t)
	client := shadowHTTPClient(&http.Client{Timeout: 30 * time.Second}, emu.APIURL())
	ctx := t.Context()

	out, err := client.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{
		ThingName: aws.String("lamp"),
		Payload:   []byte(`{"state":{"desired":{"color":"red"},"reported":{"color":"green"}},"clientToken":"app-1"}`),
	})
	if err != nil {
		t.Fatalf("UpdateThingShadow: %v", err)
	}
	accepted := `{"state":{"desired":{"color":"red"},"reported":{"color":"green"}},"metadata":{"desired":{"color":{"timestamp":1700000000}},"reported":{"color":{"timestamp":1700000000}}},"version":1,"timestamp":1700000000,"clientToken":"app-1"}`
	if string(out.Payload) != accepted {
		t.Fatalf("UpdateThingShadow answered\n  %s\nwant\n  %s", out.Payload, accepted)
	}
	shadowHTTPNext(t, got, "$aws/things/lamp/shadow/update/accepted", accepted)
	shadowHTTPNext(t, got, "$aws/things/lamp/shadow/update/delta",
		`{"version":1,"timestamp":1700000000,"state":{"color":"red"},"metadata":{"color":{"timestamp":1700000000}},"clientToken":"app-1"}`)
	shadowHTTPNext(t, got, "$aws/things/lamp/shadow/update/documents",
		`{"current":{"state":{"desired":{"color":"red"},"reported":{"color":"green"}},"metadata":{"desired":{"color":{"timestamp":1700000000}},"reported":{"color":{"timestamp":1700000000}}},"version":1},"timestamp":1700000000,"clientToken":"app-1"}`)

	// The HTTP get sees what MQTT clients see.
	gs, err := client.GetThingShadow(ctx, &iotdataplane.GetThingShadowInput{ThingName: aws.String("lamp")})
	if err != nil || !strings.Contains(string(gs.Payload), `"delta":{"color":"red"}`) {
		t.Fatalf("GetThingShadow: %v %s", err, gs.Payload)
	}

	// A version conflict is a ConflictException to the HTTP caller and nothing on MQTT.
	_, err = client.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{
		ThingName: aws.String("lamp"),
		Payload:   []byte(`{"state":{"reported":{"color":"red"}},"version":5}`),
	})
	var conflict *types.ConflictException
	if !errors.As(err, &conflict) || aws.ToString(conflict.Message) != "Version conflict" {
		t.Fatalf("update at a stale version: %v, want ConflictException \"Version conflict\"", err)
	}
	expectNothing(t, got, 300*time.Millisecond, "after a refused HTTP update")

	// A delete publishes delete/accepted with the deleted version.
	if _, err := client.DeleteThingShadow(ctx, &iotdataplane.DeleteThingShadowInput{ThingName: aws.String("lamp")}); err != nil {
		t.Fatalf("DeleteThingShadow: %v", err)
	}
	shadowHTTPNext(t, got, "$aws/things/lamp/shadow/delete/accepted", `{"version":1,"timestamp":1700000000}`)
}

// TestShadowHTTPSWithDeviceCertificate: over the ALPN port with x-amzn-http-ca, the device's
// certificate authorizes UpdateThingShadow by its policy: allowed for its own thing (and the
// update reaches MQTT), 403 ForbiddenException for another thing.
func TestShadowHTTPSWithDeviceCertificate(t *testing.T) {
	emu, d, got := startShadowHTTP(t)
	_, port, err := net.SplitHostPort(emu.ALPNAddr())
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: tlsConfig(t, d, listener.ProtocolHTTPCA),
	}}
	t.Cleanup(hc.CloseIdleConnections)
	client := shadowHTTPClient(hc, "https://localhost:"+port)
	ctx := t.Context()

	out, err := client.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{
		ThingName: aws.String("lamp"),
		Payload:   []byte(`{"state":{"reported":{"on":true}}}`),
	})
	if err != nil {
		t.Fatalf("UpdateThingShadow of its own thing: %v", err)
	}
	shadowHTTPNext(t, got, "$aws/things/lamp/shadow/update/accepted", string(out.Payload))
	shadowHTTPNext(t, got, "$aws/things/lamp/shadow/update/documents",
		`{"current":{"state":{"reported":{"on":true}},"metadata":{"reported":{"on":{"timestamp":1700000000}}},"version":1},"timestamp":1700000000}`)

	_, err = client.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{
		ThingName: aws.String("other"),
		Payload:   []byte(`{"state":{"reported":{"on":true}}}`),
	})
	var ae smithy.APIError
	var re *awshttp.ResponseError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ForbiddenException" || !errors.As(err, &re) || re.HTTPStatusCode() != 403 {
		t.Fatalf("UpdateThingShadow of another thing: %v, want 403 ForbiddenException", err)
	}
	if !strings.Contains(ae.ErrorMessage(), "iot:UpdateThingShadow") || !strings.Contains(ae.ErrorMessage(), "thing/other") {
		t.Errorf("refusal does not name the action and resource: %q", ae.ErrorMessage())
	}
	// Its policy does not allow deleting the shadow either.
	_, err = client.DeleteThingShadow(ctx, &iotdataplane.DeleteThingShadowInput{ThingName: aws.String("lamp")})
	if !errors.As(err, &ae) || ae.ErrorCode() != "ForbiddenException" {
		t.Fatalf("DeleteThingShadow without iot:DeleteThingShadow: %v", err)
	}
	expectNothing(t, got, 300*time.Millisecond, "after refused HTTPS requests")
}
