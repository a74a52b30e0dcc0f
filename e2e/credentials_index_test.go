package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"

	"github.com/iotcore-local/iotcore-local/emulator"
	"github.com/iotcore-local/iotcore-local/listener"
)

// credentialsDevicePolicy is thingPolicy plus the right to exchange the certificate for the
// credentials of the role alias "device-role".
const credentialsDevicePolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": "iot:Connect", "Resource": "arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}"},
    {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": "arn:aws:iot:us-east-1:123456789012:topic/*"},
    {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": "arn:aws:iot:us-east-1:123456789012:topicfilter/*"},
    {"Effect": "Allow", "Action": "iot:AssumeRoleWithCertificate", "Resource": "arn:aws:iot:us-east-1:123456789012:rolealias/device-role"}
  ]
}`

// TestCredentialsProviderOverMTLS fetches credentials with a device certificate on 443
// (x-amzn-http-ca) and 8443, then publishes through iot-data with them, signed with SigV4,
// under --sigv4-strict, to a paho subscriber.
func TestCredentialsProviderOverMTLS(t *testing.T) {
	emu := startEmulator(t, "", func(c *emulator.Config) {
		c.SigV4Strict = true
		c.Credentials = map[string]string{"AKIDADMIN": "admin-secret"}
	})
	ctx := t.Context()
	admin := iotClientAt(awsConfig(awsKey("AKIDADMIN", "admin-secret"), nil), emu.APIURL())
	_, err := admin.CreateRoleAlias(ctx, &iot.CreateRoleAliasInput{RoleAlias: aws.String("device-role"),
		RoleArn: aws.String("arn:aws:iam::123456789012:role/device"), CredentialDurationSeconds: aws.Int32(900)})
	if err != nil {
		t.Fatal(err)
	}
	ep, err := admin.DescribeEndpoint(ctx, &iot.DescribeEndpointInput{EndpointType: aws.String("iot:CredentialProvider")})
	if err != nil || aws.ToString(ep.EndpointAddress) == "" {
		t.Fatalf("DescribeEndpoint iot:CredentialProvider: %v %+v", err, ep)
	}
	dev, err := emu.CreateDevice("cred-dev", credentialsDevicePolicy)
	if err != nil {
		t.Fatal(err)
	}
	watcher, err := emu.CreateDevice("watcher", credentialsDevicePolicy)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := connectPaho(t, emu.MQTTAddr(), "watcher", tlsConfig(t, watcher), nil)
	if err != nil {
		t.Fatal(err)
	}
	handler, messages := msgCollector()
	if err := wait(t, sub.Subscribe("creds/#", 1, handler)); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		port string
		url  string
		hc   *http.Client
	}{
		{"443", "https://" + emu.ALPNAddr(), httpsClientFor(t, tlsConfig(t, dev, listener.ProtocolHTTPCA))},
		{"8443", "https://" + emu.HTTPSAddr(), httpsClientFor(t, tlsConfig(t, dev))},
	} {
		req, err := http.NewRequestWithContext(ctx, "GET", c.url+"/role-aliases/device-role/credentials", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("x-amzn-iot-thingname", "cred-dev")
		resp, err := c.hc.Do(req)
		if err != nil {
			t.Fatalf("credentials on %s: %v", c.port, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("credentials on %s: %d %s", c.port, resp.StatusCode, body)
		}
		var got struct {
			Credentials struct{ AccessKeyID, SecretAccessKey, SessionToken, Expiration string } `json:"credentials"`
		}
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		cr := got.Credentials
		data := dataClientAt(awsConfig(credentials.NewStaticCredentialsProvider(cr.AccessKeyID, cr.SecretAccessKey, cr.SessionToken), nil), emu.APIURL())
		payload := "via credentials from " + c.port
		if _, err := data.Publish(ctx, &iotdataplane.PublishInput{Topic: aws.String("creds/" + c.port), Payload: []byte(payload)}); err != nil {
			t.Fatalf("publish with the credentials from %s: %v", c.port, err)
		}
		if m := nextMessage(t, messages, "the publish signed with credentials from "+c.port); m.payload != payload {
			t.Fatalf("got %+v", m)
		}
		// Without the session token, the strict check refuses the key.
		bare := dataClientAt(awsConfig(credentials.NewStaticCredentialsProvider(cr.AccessKeyID, cr.SecretAccessKey, ""), nil), emu.APIURL())
		_, err = bare.Publish(ctx, &iotdataplane.PublishInput{Topic: aws.String("creds/x"), Payload: []byte("x")})
		wantHTTPStatus(t, err, http.StatusForbidden)
	}
}

// TestFleetIndexFollowsDevices enables fleet indexing and watches a real MQTT device's
// connects, disconnects and shadow updates reach SearchIndex and a dynamic thing group.
func TestFleetIndexFollowsDevices(t *testing.T) {
	emu := startEmulator(t, "")
	ctx := t.Context()
	admin := iotClientAt(awsConfig(awsKey("AKID", "SECRET"), nil), emu.APIURL())
	dev, err := emu.CreateDevice("idx-dev", credentialsDevicePolicy)
	if err != nil {
		t.Fatal(err)
	}
	_, err = admin.UpdateIndexingConfiguration(ctx, &iot.UpdateIndexingConfigurationInput{
		ThingIndexingConfiguration: &types.ThingIndexingConfiguration{
			ThingIndexingMode:             types.ThingIndexingModeRegistryAndShadow,
			ThingConnectivityIndexingMode: types.ThingConnectivityIndexingModeStatus,
		}})
	if err != nil {
		t.Fatal(err)
	}
	search := func(q string) []types.ThingDocument {
		t.Helper()
		out, err := admin.SearchIndex(ctx, &iot.SearchIndexInput{QueryString: aws.String(q)})
		if err != nil {
			t.Fatalf("SearchIndex %q: %v", q, err)
		}
		return out.Things
	}
	// waitFor polls a query until it finds exactly the names, within a bound.
	waitFor := func(q string, names ...string) []types.ThingDocument {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			docs := search(q)
			var got []string
			for _, d := range docs {
				got = append(got, aws.ToString(d.ThingName))
			}
			if slices.Equal(got, names) {
				return docs
			}
			if time.Now().After(deadline) {
				t.Fatalf("search %q = %v, want %v", q, got, names)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("connectivity.connected:false", "idx-dev")
	if _, err := admin.CreateDynamicThingGroup(ctx, &iot.CreateDynamicThingGroupInput{ThingGroupName: aws.String("online"),
		QueryString: aws.String("connectivity.connected:true")}); err != nil {
		t.Fatal(err)
	}
	// online waits for the dynamic group's members to be want.
	online := func(want ...string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			l, err := admin.ListThingsInThingGroup(ctx, &iot.ListThingsInThingGroupInput{ThingGroupName: aws.String("online")})
			if err != nil {
				t.Fatal(err)
			}
			if slices.Equal(l.Things, want) || len(l.Things)+len(want) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("online members %v, want %v", l.Things, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	online()
	c, err := connectPaho(t, emu.MQTTAddr(), "idx-dev", tlsConfig(t, dev), nil)
	if err != nil {
		t.Fatal(err)
	}
	docs := waitFor("connectivity.connected:true", "idx-dev")
	online("idx-dev")
	if docs[0].Connectivity == nil || aws.ToInt64(docs[0].Connectivity.Timestamp) == 0 {
		t.Fatalf("connectivity %+v", docs[0].Connectivity)
	}
	if err := wait(t, c.Publish("$aws/things/idx-dev/shadow/update", 1, false, `{"state":{"reported":{"battery":87}}}`)); err != nil {
		t.Fatal(err)
	}
	waitFor("shadow.reported.battery>80", "idx-dev")
	c.Disconnect(100)
	docs = waitFor("connectivity.connected:false AND connectivity.disconnectReason:CLIENT_INITIATED_DISCONNECT", "idx-dev")
	online()
	if docs[0].Connectivity.DisconnectReason == nil {
		t.Fatalf("connectivity %+v", docs[0].Connectivity)
	}
}
