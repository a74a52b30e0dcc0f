package e2e

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"
	paho5 "github.com/eclipse/paho.golang/paho"
	"github.com/google/uuid"
)

// TestRuleMQTT5PropertiesAndHeaders: an MQTT 5 publish's properties reach the SQL
// (get_mqtt_property, get_user_properties) and a republish action's headers reach an MQTT 5
// subscriber as properties.
func TestRuleMQTT5PropertiesAndHeaders(t *testing.T) {
	emu := startEmulator(t, "")
	ctx := context.Background()
	cp := iotClientAt(awsConfig(awsKey(sigv4Key, sigv4Secret), nil), emu.APIURL())
	_, err := cp.CreateTopicRule(ctx, &iot.CreateTopicRuleInput{
		RuleName: aws.String("props"),
		TopicRulePayload: &iottypes.TopicRulePayload{
			Sql:              aws.String("SELECT get_mqtt_property('content_type') AS ct, get_mqtt_property('format_indicator') AS fmt, get_user_properties('k') AS ks, sourceip() AS ip, principal() AS p, traceid() AS tr FROM 'things/+/props'"),
			AwsIotSqlVersion: aws.String("2016-03-23"),
			Actions: []iottypes.Action{{Republish: &iottypes.RepublishAction{
				RoleArn: aws.String(roleArn), Topic: aws.String("things/m5/out"), Qos: aws.Int32(1),
				Headers: &iottypes.MqttHeaders{
					ContentType: aws.String("application/json"), ResponseTopic: aws.String("things/${topic(2)}/reply"),
					CorrelationData: aws.String("Y29ycg=="), MessageExpiry: aws.String("120"), PayloadFormatIndicator: aws.String("UTF8_DATA"),
					UserProperties: []iottypes.UserProperty{{Key: aws.String("via"), Value: aws.String("${clientid()}")}},
				},
			}}},
		},
	})
	if err != nil {
		t.Fatalf("CreateTopicRule: %v", err)
	}
	d := ruleDevice(t, emu, "m5")
	got := make(chan *paho5.Publish, 4)
	c, _, err := connect5(t, emu.MQTTAddr(), "m5", tlsConfig(t, d))
	if err != nil {
		t.Fatal(err)
	}
	c.AddOnPublishReceived(func(p paho5.PublishReceived) (bool, error) {
		got <- p.Packet
		return true, nil
	})
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := c.Subscribe(cctx, &paho5.Subscribe{Subscriptions: []paho5.SubscribeOptions{{Topic: "things/m5/out", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	utf8 := byte(1)
	if _, err := c.Publish(cctx, &paho5.Publish{Topic: "things/m5/props", QoS: 1, Payload: []byte(`{}`), Properties: &paho5.PublishProperties{
		ContentType: "text/plain", PayloadFormat: &utf8, User: paho5.UserProperties{{Key: "k", Value: "a"}, {Key: "k", Value: "b"}},
	}}); err != nil {
		t.Fatal(err)
	}
	var p *paho5.Publish
	select {
	case p = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("no republished message")
	}
	var res map[string]any
	json.Unmarshal(p.Payload, &res)
	tr, _ := res["tr"].(string)
	if _, err := uuid.Parse(tr); err != nil {
		t.Errorf("traceid() %q is not a UUID", tr)
	}
	delete(res, "tr")
	if b, _ := json.Marshal(res); string(b) != `{"ct":"text/plain","fmt":"UTF8_DATA","ip":"127.0.0.1","ks":["a","b"],"p":"`+d.CertificateID+`"}` {
		t.Errorf("payload %s", p.Payload)
	}
	pr := p.Properties
	if pr == nil || pr.ContentType != "application/json" || pr.ResponseTopic != "things/m5/reply" || string(pr.CorrelationData) != "corr" ||
		pr.MessageExpiry == nil || *pr.MessageExpiry == 0 || *pr.MessageExpiry > 120 || pr.PayloadFormat == nil || *pr.PayloadFormat != 1 || pr.User.Get("via") != "m5" {
		t.Errorf("properties %+v", pr)
	}
}
