package hooks

import (
	"testing"

	mqtt "github.com/mochi-mqtt/server/v2"

	"github.com/iotcore-local/iotcore-local/auth"
	"github.com/iotcore-local/iotcore-local/registry"
)

// BenchmarkTopicLimit is the profile's per-publish check of AWS's topic size and depth.
func BenchmarkTopicLimit(b *testing.B) {
	for _, topic := range []string{"things/sensor-1/telemetry", "$aws/rules/ingest/a/b/c/d/e/f/g"} {
		b.Run(topic, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if topicLimit(topic) != "" {
					b.Fatal("within limits")
				}
			}
		})
	}
}

// BenchmarkReceiveCheck is the authorizer's iot:Receive decision for one delivery: the session
// lookup, the subscribe-window check and the compiled policy.
func BenchmarkReceiveCheck(b *testing.B) {
	doc, err := auth.ParseDocument(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:*:*:client/${iot:Connection.Thing.ThingName}"},
		{"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":"arn:aws:iot:*:*:topic/things/${iot:Connection.Thing.ThingName}/*"},
		{"Effect":"Deny","Action":"iot:Receive","Resource":"arn:aws:iot:*:*:topic/things/${iot:Connection.Thing.ThingName}/secret"}]}`)
	if err != nil {
		b.Fatal(err)
	}
	env := auth.Environment{Partition: "aws", Region: "us-east-1", Account: "123456789012", ClientID: "sensor-1", ThingName: "sensor-1"}
	a := NewAuthorizer(AuthorizerOptions{Profile: "aws"})
	cl := &mqtt.Client{ID: "sensor-1"}
	s := &session{client: cl, who: &principal{view: registry.CertificateView{}, env: env}}
	s.policy.Store(auth.Compile([]auth.NamedDocument{{Name: "p", Document: doc}}, env))
	a.sessions.put(s)
	b.ReportAllocs()
	for b.Loop() {
		if !a.OnACLCheck(cl, "things/sensor-1/telemetry", false) {
			b.Fatal("receive denied")
		}
	}
}
