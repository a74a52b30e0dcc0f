package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/iotcore-local/iotcore-local/emulator"
	"github.com/iotcore-local/iotcore-local/listener"
)

// Issue 11, item 6: the Embedded C SDK's shadow demo publishes its JSON with the string's
// terminating NUL (strlen + 1 bytes); AWS accepts it, and so must the emulator, over MQTT and
// HTTPS. Garbage after the NUL stays refused.

// nulShadowPolicy lets the thing nul-demo use its classic shadow over MQTT and HTTPS.
const nulShadowPolicy = `{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-east-1:123456789012:client/nul-demo"},
 {"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:us-east-1:123456789012:topic/$aws/things/nul-demo/shadow/*"},
 {"Effect":"Allow","Action":"iot:Subscribe","Resource":"arn:aws:iot:us-east-1:123456789012:topicfilter/$aws/things/nul-demo/shadow/*"},
 {"Effect":"Allow","Action":"iot:Receive","Resource":"arn:aws:iot:us-east-1:123456789012:topic/$aws/things/nul-demo/shadow/*"},
 {"Effect":"Allow","Action":["iot:GetThingShadow","iot:UpdateThingShadow"],"Resource":"arn:aws:iot:us-east-1:123456789012:thing/nul-demo"}
]}`

// nextShadowMessage returns the next message on got, failing after a bounded wait.
func nextShadowMessage(t *testing.T, got <-chan paho.Message, what string) paho.Message {
	t.Helper()
	select {
	case m := <-got:
		return m
	case <-time.After(10 * time.Second):
		t.Fatalf("nothing received: %s", what)
		return nil
	}
}

func TestShadowTrailingNULOverMQTTAndHTTPS(t *testing.T) {
	emu := startEmulator(t, "", func(c *emulator.Config) {
		c.Now = func() time.Time { return time.Unix(1700000000, 0) }
	})
	d, err := emu.CreateDevice("nul-demo", nulShadowPolicy)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan paho.Message, 16)
	c, err := connectPaho(t, emu.MQTTAddr(), "nul-demo", tlsConfig(t, d), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"update/accepted", "update/rejected", "update/delta"} {
		if err := wait(t, c.Subscribe("$aws/things/nul-demo/shadow/"+f, 1, collect(got))); err != nil {
			t.Fatal(err)
		}
	}
	const prefix = "$aws/things/nul-demo/shadow/"

	// The demo's report, as it goes on the wire: the JSON and its terminating NUL.
	doc := `{"state":{"desired":{"powerOn":1}},"clientToken":"021909-1"}`
	if err := wait(t, c.Publish(prefix+"update", 1, false, []byte(doc+"\x00"))); err != nil {
		t.Fatal(err)
	}
	m := nextShadowMessage(t, got, "the answer to an update with a trailing NUL")
	if m.Topic() != prefix+"update/accepted" {
		t.Fatalf("update with a trailing NUL answered on %s: %s", m.Topic(), m.Payload())
	}
	var accepted struct {
		Version     int
		ClientToken string
	}
	if err := json.Unmarshal(m.Payload(), &accepted); err != nil || accepted.Version != 1 || accepted.ClientToken != "021909-1" {
		t.Fatalf("update/accepted = %s (%v)", m.Payload(), err)
	}
	if m := nextShadowMessage(t, got, "the delta"); m.Topic() != prefix+"update/delta" || !strings.Contains(string(m.Payload()), `"powerOn":1`) {
		t.Fatalf("after the update: %s %s, want update/delta", m.Topic(), m.Payload())
	}

	// A second document after the NUL is not a trailing NUL: rejected as invalid JSON.
	if err := wait(t, c.Publish(prefix+"update", 1, false, []byte(doc+"\x00{\"x\":1}"))); err != nil {
		t.Fatal(err)
	}
	m = nextShadowMessage(t, got, "the answer to garbage after the NUL")
	if m.Topic() != prefix+"update/rejected" || !strings.Contains(string(m.Payload()), `"code":400`) ||
		!strings.Contains(string(m.Payload()), "Invalid JSON") {
		t.Fatalf("garbage after the NUL answered on %s: %s, want update/rejected 400 Invalid JSON", m.Topic(), m.Payload())
	}

	// HTTPS: UpdateThingShadow with the device's certificate on 443 (x-amzn-http-ca) and on 8443,
	// the body ending in NULs; the SDK's own answer, and the MQTT publications, say accepted.
	for i, port := range []struct {
		name string
		url  string
		tls  *http.Client
	}{
		{"443", "https://" + emu.ALPNAddr(), httpsClientFor(t, tlsConfig(t, d, listener.ProtocolHTTPCA))},
		{"8443", "https://" + emu.HTTPSAddr(), httpsClientFor(t, tlsConfig(t, d))},
	} {
		client := dataClientAt(awsConfig(aws.AnonymousCredentials{}, port.tls), port.url)
		body := `{"state":{"reported":{"powerOn":1}}}` + strings.Repeat("\x00", i+1)
		out, err := client.UpdateThingShadow(t.Context(), &iotdataplane.UpdateThingShadowInput{
			ThingName: aws.String("nul-demo"), Payload: []byte(body)})
		if err != nil {
			t.Fatalf("UpdateThingShadow on %s with a trailing NUL: %v", port.name, err)
		}
		if !strings.Contains(string(out.Payload), `"reported":{"powerOn":1}`) {
			t.Fatalf("UpdateThingShadow on %s answered %s", port.name, out.Payload)
		}
		if m := nextShadowMessage(t, got, "update/accepted of the HTTPS update"); m.Topic() != prefix+"update/accepted" {
			t.Fatalf("HTTPS update on %s published on %s: %s", port.name, m.Topic(), m.Payload())
		}
	}
	// And through the API address with the SDK (SigV4).
	api := dataClientAt(awsConfig(awsKey("AKIDANY", "secret"), nil), emu.APIURL())
	if _, err := api.UpdateThingShadow(t.Context(), &iotdataplane.UpdateThingShadowInput{
		ThingName: aws.String("nul-demo"), Payload: []byte("{\"state\":{\"desired\":{\"powerOn\":0}}}\x00")}); err != nil {
		t.Fatalf("UpdateThingShadow on the API address with a trailing NUL: %v", err)
	}
	gs, err := api.GetThingShadow(t.Context(), &iotdataplane.GetThingShadowInput{ThingName: aws.String("nul-demo")})
	if err != nil || !strings.Contains(string(gs.Payload), `"desired":{"powerOn":0}`) {
		t.Fatalf("GetThingShadow after the NUL-terminated updates: %v %s", err, gs.Payload)
	}
}
