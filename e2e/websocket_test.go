package e2e

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	autopaho "github.com/eclipse/paho.golang/paho"
	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/gorilla/websocket"

	"github.com/iotcore-local/iotcore-local/emulator"
	"github.com/iotcore-local/iotcore-local/listener"
)

const (
	wsKeyOpen    = "AKIDWSOPEN"
	wsKeyPolicy  = "AKIDWSPOLICY"
	wsKeyCognito = "AKIDWSCOGNITO"
	wsSecret     = "ws-secret"
	wsIdentity   = "us-east-1:0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"
	emptySHA256  = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// wsPolicy is the IAM-style policy of wsKeyPolicy: connect as ws-*, use topics under ws/policy/.
const wsPolicy = `{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-east-1:123456789012:client/ws-*"},
 {"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":"arn:aws:iot:us-east-1:123456789012:topic/ws/policy/*"},
 {"Effect":"Allow","Action":"iot:Subscribe","Resource":"arn:aws:iot:us-east-1:123456789012:topicfilter/ws/policy/*"}]}`

// startWSEmulator runs an emulator that knows three keys: one without policy, one with wsPolicy,
// one of a Cognito identity.
func startWSEmulator(t *testing.T, mutate ...func(*emulator.Config)) *emulator.Emulator {
	t.Helper()
	return startEmulator(t, "", append([]func(*emulator.Config){func(c *emulator.Config) {
		c.Demo = false
		c.Credentials = map[string]string{wsKeyOpen: wsSecret, wsKeyPolicy: wsSecret, wsKeyCognito: wsSecret}
		c.CredentialIdentities = map[string]emulator.CredentialIdentity{
			wsKeyPolicy:  {Policy: wsPolicy},
			wsKeyCognito: {CognitoIdentityID: wsIdentity},
		}
	}}, mutate...)...)
}

// presignWS returns the wss:// (or ws://) URL of /mqtt on addr presigned with SigV4 for
// iotdevicegateway as the AWS SDKs do it; token, when set, is appended after signing.
func presignWS(t testing.TB, scheme, addr, key, secret, token string, at time.Time) string {
	t.Helper()
	u := scheme + "://" + addr + "/mqtt"
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	signed, _, err := v4.NewSigner().PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: key, SecretAccessKey: secret},
		req, emptySHA256, "iotdevicegateway", "us-east-1", at)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		signed += "&X-Amz-Security-Token=" + url.QueryEscape(token)
	}
	return signed
}

// dialWS opens MQTT over WebSocket on a presigned URL, offering the subprotocols given.
func dialWS(t *testing.T, emu *emulator.Emulator, u string, protocols ...string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	d := websocket.Dialer{
		TLSClientConfig:  trustEmulator(t, emu, nil),
		Subprotocols:     protocols,
		HandshakeTimeout: 10 * time.Second,
	}
	c, resp, err := d.Dial(u, nil)
	if resp != nil && resp.Body != nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body = io.NopCloser(strings.NewReader(string(body)))
	}
	return c, resp, err
}

// wsPaho connects an MQTT 3.1.1 paho client over a presigned WebSocket URL.
func wsPaho(t *testing.T, emu *emulator.Emulator, u, clientID string, onLost func(error)) (paho.Client, error) {
	t.Helper()
	opts := paho.NewClientOptions().AddBroker(u).SetClientID(clientID).
		SetTLSConfig(trustEmulator(t, emu, nil)).SetProtocolVersion(4).
		SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(10 * time.Second).
		SetKeepAlive(30 * time.Second)
	if onLost != nil {
		opts.SetConnectionLostHandler(func(_ paho.Client, err error) { onLost(err) })
	}
	c := paho.NewClient(opts)
	tok := c.Connect()
	if !tok.WaitTimeout(15 * time.Second) {
		return nil, errors.New("connect timed out")
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c, nil
}

// TestWebSocketSigV4 connects MQTT 3.1.1 and 5 clients over WebSocket on 443 (presigned URL,
// session token appended after signing or signed, Authorization header) and on the plain API
// address, with every policy check, and refuses bad upgrades with AWS's status and error type.
func TestWebSocketSigV4(t *testing.T) {
	emu := startWSEmulator(t)
	alpn := emu.ALPNAddr()
	now := time.Now()

	t.Run("mqtt 3.1.1 over wss, open key", func(t *testing.T) {
		u := presignWS(t, "wss", alpn, wsKeyOpen, wsSecret, "", now)
		c, err := wsPaho(t, emu, u, "open-1", nil)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		handler, got := msgCollector()
		if err := wait(t, c.Subscribe("any/topic", 1, handler)); err != nil {
			t.Fatal(err)
		}
		if err := wait(t, c.Publish("any/topic", 1, false, "over websocket")); err != nil {
			t.Fatal(err)
		}
		if m := nextMessage(t, got, "own publish over websocket"); m.payload != "over websocket" {
			t.Fatalf("got %+v", m)
		}
		rec := transcriptFor(t, emu, func(r listener.Record) bool { return r.ClientID == "open-1" })
		if rec.Personality != "mqtt-wss" || rec.SNI != "localhost" {
			t.Fatalf("transcript %+v", rec)
		}
	})

	t.Run("session token appended after signing and signed", func(t *testing.T) {
		u := presignWS(t, "wss", alpn, wsKeyOpen, wsSecret, "FwoGZXIvYXdzEXAMPLETOKEN/+=", now)
		if _, err := wsPaho(t, emu, u, "token-after", nil); err != nil {
			t.Fatalf("token appended after signing: %v", err)
		}
		req, _ := http.NewRequest(http.MethodGet, "wss://"+alpn+"/mqtt", nil)
		signed, _, err := v4.NewSigner().PresignHTTP(context.Background(),
			aws.Credentials{AccessKeyID: wsKeyOpen, SecretAccessKey: wsSecret, SessionToken: "signed-token"},
			req, emptySHA256, "iotdevicegateway", "us-east-1", now)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(signed, "X-Amz-Security-Token=signed-token") {
			t.Fatalf("the SDK did not put the token in the query: %s", signed)
		}
		if _, err := wsPaho(t, emu, signed, "token-signed", nil); err != nil {
			t.Fatalf("token signed: %v", err)
		}
	})

	t.Run("authorization header", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, "https://"+alpn+"/mqtt", nil)
		req.Header.Set("X-Amz-Date", now.UTC().Format("20060102T150405Z"))
		if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: wsKeyOpen, SecretAccessKey: wsSecret},
			req, emptySHA256, "iotdevicegateway", "us-east-1", now); err != nil {
			t.Fatal(err)
		}
		d := websocket.Dialer{TLSClientConfig: trustEmulator(t, emu, nil), Subprotocols: []string{"mqtt"}}
		c, resp, err := d.Dial("wss://"+alpn+"/mqtt", http.Header{"Authorization": req.Header["Authorization"], "X-Amz-Date": req.Header["X-Amz-Date"]})
		if err != nil {
			t.Fatalf("header-signed upgrade: %v (%v)", err, resp)
		}
		defer c.Close()
		if resp.Header.Get("Sec-WebSocket-Protocol") != "mqtt" {
			t.Fatalf("subprotocol echo %q", resp.Header.Get("Sec-WebSocket-Protocol"))
		}
		// A raw CONNECT over the socket gets a CONNACK.
		if err := c.WriteMessage(websocket.BinaryMessage, connectPacket("hdr-1")); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, msg, err := c.ReadMessage()
		if err != nil || string(msg) != string(connackAccepted) {
			t.Fatalf("CONNACK %x %v", msg, err)
		}
	})

	t.Run("subprotocol echo", func(t *testing.T) {
		for _, offered := range [][]string{{"mqttv3.1"}, {"wamp", "mqtt"}} {
			c, resp, err := dialWS(t, emu, presignWS(t, "wss", alpn, wsKeyOpen, wsSecret, "", now), offered...)
			if err != nil {
				t.Fatalf("%v: %v", offered, err)
			}
			want := offered[len(offered)-1]
			if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != want {
				t.Errorf("offered %v, echoed %q", offered, got)
			}
			c.Close()
		}
	})

	t.Run("mqtt 5 over wss", func(t *testing.T) {
		c, _, err := dialWS(t, emu, presignWS(t, "wss", alpn, wsKeyPolicy, wsSecret, "", now), "mqtt")
		if err != nil {
			t.Fatal(err)
		}
		received := make(chan string, 4)
		cl := autopaho.NewClient(autopaho.ClientConfig{Conn: &wsNetConn{c: c}, OnPublishReceived: []func(autopaho.PublishReceived) (bool, error){
			func(p autopaho.PublishReceived) (bool, error) { received <- p.Packet.Topic; return true, nil }}})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ack, err := cl.Connect(ctx, &autopaho.Connect{ClientID: "ws-v5", CleanStart: true, KeepAlive: 30})
		if err != nil || ack.ReasonCode != 0 {
			t.Fatalf("MQTT 5 connect: %v %+v", err, ack)
		}
		defer cl.Disconnect(&autopaho.Disconnect{})
		sub, err := cl.Subscribe(ctx, &autopaho.Subscribe{Subscriptions: []autopaho.SubscribeOptions{{Topic: "ws/policy/a", QoS: 1}, {Topic: "ws/other", QoS: 1}}})
		if sub == nil || len(sub.Reasons) != 2 || sub.Reasons[0] != 1 || sub.Reasons[1] != 0x87 {
			t.Fatalf("SUBACK %+v %v: want 1 (allowed) and 0x87 (the key's policy does not allow ws/other)", sub, err)
		}
		if _, err := cl.Publish(ctx, &autopaho.Publish{Topic: "ws/policy/a", QoS: 1, Payload: []byte("v5")}); err != nil {
			t.Fatal(err)
		}
		select {
		case topic := <-received:
			if topic != "ws/policy/a" {
				t.Fatalf("received on %s", topic)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no message over MQTT 5")
		}
		pr, err := cl.Publish(ctx, &autopaho.Publish{Topic: "ws/other", QoS: 1, Payload: []byte("x")})
		if err == nil && (pr == nil || pr.ReasonCode != 0x87) {
			t.Fatalf("publish outside the key's policy: %+v", pr)
		}
	})

	t.Run("policy of the key: connect and publish refused", func(t *testing.T) {
		if _, err := wsPaho(t, emu, presignWS(t, "wss", alpn, wsKeyPolicy, wsSecret, "", now), "not-ws-prefixed", nil); err == nil {
			t.Fatal("a client id outside the key's policy connected")
		}
		lost := make(chan error, 1)
		c, err := wsPaho(t, emu, presignWS(t, "wss", alpn, wsKeyPolicy, wsSecret, "", now), "ws-3", func(err error) { lost <- err })
		if err != nil {
			t.Fatal(err)
		}
		c.Publish("forbidden/topic", 1, false, "x")
		select {
		case <-lost:
		case <-time.After(10 * time.Second):
			t.Fatal("publish outside the key's policy did not close the connection")
		}
	})

	t.Run("cognito identity needs its attached IoT policy", func(t *testing.T) {
		u := func() string { return presignWS(t, "wss", alpn, wsKeyCognito, wsSecret, "", time.Now()) }
		if _, err := wsPaho(t, emu, u(), "cog-1", nil); err == nil {
			t.Fatal("a Cognito identity without attached IoT policy connected")
		}
		ctx := context.Background()
		ic := iotClientAt(awsConfig(awsKey(wsKeyOpen, wsSecret), nil), emu.APIURL())
		if _, err := ic.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String("cognito-p"), PolicyDocument: aws.String(
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-east-1:123456789012:client/cog-*"},{"Effect":"Allow","Action":["iot:Publish","iot:Receive","iot:Subscribe"],"Resource":"*"}]}`)}); err != nil {
			t.Fatal(err)
		}
		if _, err := ic.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String("cognito-p"), Target: aws.String(wsIdentity)}); err != nil {
			t.Fatalf("AttachPolicy to a Cognito identity: %v", err)
		}
		if _, err := wsPaho(t, emu, u(), "cog-1", nil); err != nil {
			t.Fatalf("with the attached policy: %v", err)
		}
		if _, err := wsPaho(t, emu, u(), "other-1", nil); err == nil {
			t.Fatal("the attached policy allows only cog-*; other-1 connected")
		}
	})

	t.Run("ws on the API address", func(t *testing.T) {
		api := strings.TrimPrefix(emu.APIURL(), "http://")
		if _, err := wsPaho(t, emu, presignWS(t, "ws", api, wsKeyOpen, wsSecret, "", now), "plain-1", nil); err != nil {
			t.Fatalf("ws:// on the API address: %v", err)
		}
		rec := transcriptFor(t, emu, func(r listener.Record) bool { return r.ClientID == "plain-1" })
		if rec.Personality != "mqtt-ws" {
			t.Fatalf("transcript %+v", rec)
		}
		if _, resp, err := dialWS(t, emu, presignWS(t, "ws", api, wsKeyOpen, "wrong", "", now), "mqtt"); err == nil || resp == nil || resp.StatusCode != 403 {
			t.Fatalf("bad signature on the API address: %v %v", err, resp)
		}
	})

	t.Run("refused upgrades", func(t *testing.T) {
		valid := presignWS(t, "wss", alpn, wsKeyOpen, wsSecret, "", now)
		for _, tc := range []struct {
			name      string
			url       string
			protocols []string
			status    int
			errType   string
		}{
			{"wrong secret", presignWS(t, "wss", alpn, wsKeyOpen, "not-the-secret", "", now), []string{"mqtt"}, 403, "ForbiddenException:"},
			{"unknown key", presignWS(t, "wss", alpn, "AKIDUNKNOWN", wsSecret, "", now), []string{"mqtt"}, 403, "ForbiddenException:"},
			{"stale date", presignWS(t, "wss", alpn, wsKeyOpen, wsSecret, "", now.Add(-20*time.Minute)), []string{"mqtt"}, 403, "ForbiddenException:"},
			{"date in the future", presignWS(t, "wss", alpn, wsKeyOpen, wsSecret, "", now.Add(20*time.Minute)), []string{"mqtt"}, 403, "ForbiddenException:"},
			{"unsigned", "wss://" + alpn + "/mqtt", []string{"mqtt"}, 403, "ForbiddenException:"},
			{"malformed credential", strings.Replace(valid, "%2Fiotdevicegateway%2F", "%2F", 1), []string{"mqtt"}, 400, "InvalidRequestException:"},
			{"malformed signature", strings.Replace(valid, "X-Amz-Signature=", "X-Amz-Signature=zz", 1), []string{"mqtt"}, 400, "InvalidRequestException:"},
			{"missing subprotocol", valid, nil, 400, "BadRequestException:"},
			{"other subprotocol", valid, []string{"wamp"}, 400, "BadRequestException:"},
			{"oversized URL", valid + "&pad=" + strings.Repeat("a", 20<<10), []string{"mqtt"}, 414, "BadRequestException:"},
		} {
			_, resp, err := dialWS(t, emu, tc.url, tc.protocols...)
			if err == nil || resp == nil {
				t.Errorf("%s: upgraded (%v)", tc.name, err)
				continue
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || resp.Header.Get("x-amzn-ErrorType") != tc.errType {
				t.Errorf("%s: %d %q %s, want %d %s", tc.name, resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"), body, tc.status, tc.errType)
			}
		}
		// An upgrade to another path is not MQTT: the API answers it.
		u := strings.Replace(valid, "/mqtt?", "/other?", 1)
		if _, resp, err := dialWS(t, emu, u, "mqtt"); err == nil || resp == nil || resp.StatusCode == http.StatusSwitchingProtocols {
			t.Fatalf("upgrade to /other: %v %v", err, resp)
		}
		// The emulator still serves.
		if _, err := wsPaho(t, emu, presignWS(t, "wss", alpn, wsKeyOpen, wsSecret, "", time.Now()), "after-bad", nil); err != nil {
			t.Fatalf("after bad upgrades: %v", err)
		}
	})
}

// TestWebSocketLifetime ends a SigV4 WebSocket connection after --websocket-ttl with the
// lifecycle reason WEBSOCKET_TTL_EXPIRATION and the access key as principal.
func TestWebSocketLifetime(t *testing.T) {
	emu := startWSEmulator(t, func(c *emulator.Config) { c.WebSocketTTL = 2 * time.Second })
	events := watchEvents(t, emu)
	lost := make(chan error, 1)
	if _, err := wsPaho(t, emu, presignWS(t, "wss", emu.ALPNAddr(), wsKeyOpen, wsSecret, "", time.Now()), "ttl-1", func(err error) { lost <- err }); err != nil {
		t.Fatal(err)
	}
	ev := next(t, events, "ttl-1")
	if ev.EventType != "connected" || ev.PrincipalIdentifier != wsKeyOpen {
		t.Fatalf("connected event %+v", ev)
	}
	ev = next(t, events, "ttl-1")
	if ev.EventType != "disconnected" || ev.DisconnectReason != "WEBSOCKET_TTL_EXPIRATION" || ev.PrincipalIdentifier != wsKeyOpen {
		t.Fatalf("disconnected event %+v", ev)
	}
	select {
	case <-lost:
	case <-time.After(10 * time.Second):
		t.Fatal("the client did not see its connection end")
	}
}

// wsNetConn is a client-side net.Conn over a gorilla WebSocket, for paho.golang (MQTT 5).
type wsNetConn struct {
	c   *websocket.Conn
	r   io.Reader
	wmu sync.Mutex
}

func (w *wsNetConn) Read(p []byte) (int, error) {
	for {
		if w.r == nil {
			_, r, err := w.c.NextReader()
			if err != nil {
				return 0, err
			}
			w.r = r
		}
		n, err := w.r.Read(p)
		if errors.Is(err, io.EOF) {
			w.r = nil
			if n == 0 {
				continue
			}
			return n, nil
		}
		return n, err
	}
}

func (w *wsNetConn) Write(p []byte) (int, error) {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	return len(p), w.c.WriteMessage(websocket.BinaryMessage, p)
}
func (w *wsNetConn) Close() error                       { return w.c.Close() }
func (w *wsNetConn) LocalAddr() net.Addr                { return w.c.LocalAddr() }
func (w *wsNetConn) RemoteAddr() net.Addr               { return w.c.RemoteAddr() }
func (w *wsNetConn) SetDeadline(t time.Time) error      { return w.c.UnderlyingConn().SetDeadline(t) }
func (w *wsNetConn) SetReadDeadline(t time.Time) error  { return w.c.SetReadDeadline(t) }
func (w *wsNetConn) SetWriteDeadline(t time.Time) error { return w.c.SetWriteDeadline(t) }
