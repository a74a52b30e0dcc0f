//go:build unix

package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/iotcore-local/iotcore-local/emulator"
	"github.com/iotcore-local/iotcore-local/listener"
)

// x509CertPolicy is the device certificate's own policy under CUSTOM_AUTH_X509: it grants no
// iot:Connect (the authorizer's answer does), only topics under certpol/<thing>/ and certhttp/.
const x509CertPolicy = `{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":["arn:aws:iot:us-east-1:123456789012:topic/certpol/${iot:Connection.Thing.ThingName}/*","arn:aws:iot:us-east-1:123456789012:topic/certhttp/*"]},
 {"Effect":"Allow","Action":"iot:Subscribe","Resource":["arn:aws:iot:us-east-1:123456789012:topicfilter/certpol/${iot:Connection.Thing.ThingName}/*","arn:aws:iot:us-east-1:123456789012:topicfilter/certhttp/*"]}]}`

// TestCustomAuthX509Domain checks authenticationType CUSTOM_AUTH_X509 end to end, with the
// authorizer function (e2e/lambdas/authorizer, token x509…) behind the real Runtime Interface
// Emulator: the handshake requires a client certificate; the certificate must be registered and
// ACTIVE; the function's event carries it (PEM) and its id, and the function only authenticates
// when they agree; its answer's principalId must be that id; the certificate's policies and the
// answer's hold the connection together, with the thing's policy variables; HTTPS publish works
// the same way.
func TestCustomAuthX509Domain(t *testing.T) {
	e := startCustomAuth(t)
	emu, ctx := e.emu, context.Background()
	if _, err := e.iot.CreateAuthorizer(ctx, &iot.CreateAuthorizerInput{AuthorizerName: aws.String("x509"),
		AuthorizerFunctionArn: aws.String(authorizerARN), TokenKeyName: aws.String("token"), SigningDisabled: aws.Bool(true)}); err != nil {
		t.Fatalf("CreateAuthorizer: %v", err)
	}
	for name, proto := range map[string]types.ApplicationProtocol{"cx": types.ApplicationProtocolSecureMqtt, "cxh": types.ApplicationProtocolHttps} {
		if _, err := e.iot.CreateDomainConfiguration(ctx, &iot.CreateDomainConfigurationInput{
			DomainConfigurationName: aws.String(name), DomainName: aws.String(name + ".devices.test"),
			ApplicationProtocol: proto, AuthenticationType: types.AuthenticationTypeCustomAuthX509,
			AuthorizerConfig: &types.AuthorizerConfig{DefaultAuthorizerName: aws.String("x509"), AllowAuthorizerOverride: aws.Bool(false)},
		}); err != nil {
			t.Fatalf("CreateDomainConfiguration %s: %v", name, err)
		}
	}
	dev, err := emu.CreateDevice("cx-thing", x509CertPolicy)
	if err != nil {
		t.Fatal(err)
	}
	top := t // the subscriber of the first subtest lives until the test ends
	connect := func(t *testing.T, clientID, token string, d *emulator.Device) (paho.Client, error) {
		t.Helper()
		opts := paho.NewClientOptions().AddBroker("ssl://" + emu.ALPNAddr()).SetClientID(clientID).
			SetTLSConfig(sniConfig(t, emu, "cx.devices.test", d, "mqtt")).SetProtocolVersion(4).
			SetUsername("device?token=" + token).SetAutoReconnect(false).SetConnectRetry(false).
			SetConnectTimeout(15 * time.Second)
		c := paho.NewClient(opts)
		tok := c.Connect()
		if !tok.WaitTimeout(20 * time.Second) {
			t.Fatal("connect timed out")
		}
		if err := tok.Error(); err != nil {
			return nil, err
		}
		top.Cleanup(func() { c.Disconnect(100) })
		return c, nil
	}
	handler, got := msgCollector()
	var sub paho.Client

	t.Run("MQTT: certificate in the event, both policy sets", func(t *testing.T) {
		c, err := connect(t, "cx-thing", "x509ok", dev)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		sub = c
		rec := transcriptFor(t, emu, func(r listener.Record) bool { return r.ClientID == "cx-thing" && r.Outcome != "" })
		if rec.Personality != listener.PersonalityMQTTCustomAuthX509 || !rec.ClientCertRequested || rec.CertificateID != dev.CertificateID {
			t.Fatalf("transcript: personality %q, certificate requested %v, certificate %q", rec.Personality, rec.ClientCertRequested, rec.CertificateID)
		}
		if !strings.Contains(rec.Detail, "CUSTOM_AUTH_X509") || !strings.Contains(rec.Detail, "principal "+dev.CertificateID) {
			t.Fatalf("transcript detail: %s", rec.Detail)
		}
		tok := c.SubscribeMultiple(map[string]byte{"fn/cx-thing/#": 1, "certpol/cx-thing/#": 1}, handler)
		if err := wait(t, tok); err != nil {
			t.Fatal(err)
		}
		codes := tok.(*paho.SubscribeToken).Result()
		if codes["fn/cx-thing/#"] != 1 || codes["certpol/cx-thing/#"] != 1 {
			t.Fatalf("SUBACK codes %v: want the function's and the certificate's filters granted", codes)
		}
		for _, topic := range []string{"fn/cx-thing/a", "certpol/cx-thing/b"} {
			if err := wait(t, c.Publish(topic, 1, false, "to "+topic)); err != nil {
				t.Fatalf("publish %s: %v", topic, err)
			}
			if m := nextMessage(t, got, topic); m.topic != topic {
				t.Fatalf("got %+v, want %s", m, topic)
			}
		}
	})

	t.Run("MQTT: principalId other than the certificate id is refused", func(t *testing.T) {
		if _, err := connect(t, "cx-wrong", "x509wrong", dev); err == nil {
			t.Fatal("connected although the answer's principalId is not the certificate id")
		}
		rec := transcriptFor(t, emu, func(r listener.Record) bool { return r.ClientID == "cx-wrong" && r.Outcome != "" })
		if rec.Outcome != "refused" || !strings.Contains(rec.Detail, "must be the client certificate's id "+dev.CertificateID) {
			t.Fatalf("transcript: %s: %s", rec.Outcome, rec.Detail)
		}
	})

	t.Run("MQTT: no certificate, no handshake", func(t *testing.T) {
		if _, err := connect(t, "cx-nocert", "x509ok", nil); err == nil {
			t.Fatal("connected without a client certificate")
		}
	})

	t.Run("MQTT: an INACTIVE certificate is refused before the authorizer", func(t *testing.T) {
		other, err := emu.CreateDevice("cx-other", x509CertPolicy)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.iot.UpdateCertificate(ctx, &iot.UpdateCertificateInput{CertificateId: aws.String(other.CertificateID),
			NewStatus: types.CertificateStatusInactive}); err != nil {
			t.Fatal(err)
		}
		if _, err := connect(t, "cx-other", "x509ok", other); err == nil {
			t.Fatal("connected with an INACTIVE certificate")
		}
		rec := transcriptFor(t, emu, func(r listener.Record) bool { return r.ClientID == "cx-other" && r.Outcome != "" })
		if !strings.Contains(rec.Detail, "CUSTOM_AUTH_X509") || !strings.Contains(rec.Detail, "INACTIVE") {
			t.Fatalf("transcript: %s", rec.Detail)
		}
	})

	t.Run("HTTPS publish", func(t *testing.T) {
		if sub == nil {
			t.Skip("the MQTT subscriber did not connect")
		}
		if err := wait(t, sub.Subscribe("certhttp/#", 1, handler)); err != nil {
			t.Fatal(err)
		}
		_, port, _ := net.SplitHostPort(emu.ALPNAddr())
		cfg := sniConfig(t, emu, "cxh.devices.test", dev)
		hc := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg,
			DialTLSContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&tls.Dialer{Config: cfg}).DialContext(ctx, network, emu.ALPNAddr())
			}}}
		post := func(topic, token string) int {
			t.Helper()
			req, _ := http.NewRequest(http.MethodPost, "https://cxh.devices.test:"+port+"/topics/"+topic+"?qos=1", bytes.NewBufferString("over https"))
			req.Header.Set("token", token)
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatalf("POST %s: %v", topic, err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		if code := post("certhttp/a", "x509ok"); code != 200 {
			t.Fatalf("publish allowed by the certificate's policy: %d", code)
		}
		if m := nextMessage(t, got, "https publish"); m.topic != "certhttp/a" || m.payload != "over https" {
			t.Fatalf("%+v", m)
		}
		if code := post("fnhttp/a", "x509ok"); code != 200 {
			t.Fatalf("publish allowed by the answer's policy: %d", code)
		}
		if code := post("nowhere/a", "x509ok"); code != 403 {
			t.Fatalf("publish allowed by neither: %d, want 403", code)
		}
		if code := post("certhttp/a", "deny"); code != 403 {
			t.Fatalf("publish the function did not authenticate: %d, want 403", code)
		}

		needTools(t, "curl")
		dir := t.TempDir()
		certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		if err := os.WriteFile(certFile, []byte(dev.CertificatePEM), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(keyFile, []byte(dev.PrivateKeyPEM), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := run(t, "curl", "-sS", "-f", "--cacert", emu.RootCAFile(), "--cert", certFile, "--key", keyFile,
			"--resolve", "cxh.devices.test:"+port+":127.0.0.1", "-H", "token: x509ok", "--data", "via curl",
			"https://cxh.devices.test:"+port+"/topics/certhttp%2Fcurl?qos=1")
		if err != nil {
			t.Fatalf("curl: %v\n%s", err, out)
		}
		if m := nextMessage(t, got, "curl publish"); m.topic != "certhttp/curl" || m.payload != "via curl" {
			t.Fatalf("%+v", m)
		}
	})

	t.Run("MQTT: a filter neither policy allows ends the connection", func(t *testing.T) {
		// Under profile aws an MQTT 3.1.1 client's refused subscription closes its connection,
		// as AWS IoT does; this runs last because it takes over the subscriber's client id.
		c, err := connect(t, "cx-thing", "x509ok", dev)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		tok := c.Subscribe("other/#", 1, handler)
		if !tok.WaitTimeout(10*time.Second) || tok.Error() == nil && tok.(*paho.SubscribeToken).Result()["other/#"] != 0x80 {
			t.Fatalf("subscribe other/#: %v %v; want it refused", tok.Error(), tok.(*paho.SubscribeToken).Result())
		}
	})
}
