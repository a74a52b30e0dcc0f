//go:build unix

package e2e

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	autopaho "github.com/eclipse/paho.golang/paho"
	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/gorilla/websocket"

	"github.com/iotcore-local/iotcore-local/emulator"
	"github.com/iotcore-local/iotcore-local/listener"
)

// customAuthEnv is an emulator whose authorizers call e2e/lambdas/authorizer behind the real
// Runtime Interface Emulator: "signed" (token key "token", signatures by key) and "open"
// (signing disabled, the default authorizer).
type customAuthEnv struct {
	emu *emulator.Emulator
	iot *iot.Client
	key *rsa.PrivateKey
}

func startCustomAuth(t *testing.T, mutate ...func(*emulator.Config)) *customAuthEnv {
	t.Helper()
	rie := startRIE(t)
	emu := startEmulator(t, "", append([]func(*emulator.Config){func(c *emulator.Config) {
		c.Demo = false
		c.Functions = map[string]string{authorizerARN: rie}
	}}, mutate...)...)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	pub := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	ic := iotClientAt(awsConfig(awsKey("AKIDADMIN", "admin"), nil), emu.APIURL())
	ctx := context.Background()
	if _, err := ic.CreateAuthorizer(ctx, &iot.CreateAuthorizerInput{AuthorizerName: aws.String("signed"),
		AuthorizerFunctionArn: aws.String(authorizerARN), TokenKeyName: aws.String("token"),
		TokenSigningPublicKeys: map[string]string{"k1": pub}, Status: types.AuthorizerStatusActive}); err != nil {
		t.Fatalf("CreateAuthorizer: %v", err)
	}
	if _, err := ic.CreateAuthorizer(ctx, &iot.CreateAuthorizerInput{AuthorizerName: aws.String("open"),
		AuthorizerFunctionArn: aws.String(authorizerARN), TokenKeyName: aws.String("token"), SigningDisabled: aws.Bool(true)}); err != nil {
		t.Fatalf("CreateAuthorizer open: %v", err)
	}
	if _, err := ic.SetDefaultAuthorizer(ctx, &iot.SetDefaultAuthorizerInput{AuthorizerName: aws.String("open")}); err != nil {
		t.Fatalf("SetDefaultAuthorizer: %v", err)
	}
	return &customAuthEnv{emu: emu, iot: ic, key: key}
}

// sign is the token's signature as AWS documents it: RSA SHA-256, base64.
func (e *customAuthEnv) sign(token string) string {
	sum := sha256.Sum256([]byte(token))
	sig, _ := rsa.SignPKCS1v15(rand.Reader, e.key, crypto.SHA256, sum[:])
	return base64.StdEncoding.EncodeToString(sig)
}

// username is the SDKs' username for the signed authorizer.
func (e *customAuthEnv) username(token string) string {
	return "device?x-amz-customauthorizer-name=signed&x-amz-customauthorizer-signature=" + url.QueryEscape(e.sign(token)) + "&token=" + token + "&SDK=Go&Version=1"
}

// alpnMQTT is a client TLS configuration offering ALPN mqtt, trusting the emulator.
func (e *customAuthEnv) alpnMQTT(t *testing.T) *tls.Config {
	return trustEmulator(t, e.emu, []string{"mqtt"})
}

// connect311 connects paho over 443 with ALPN mqtt.
func (e *customAuthEnv) connect311(t *testing.T, clientID, username, password string, onLost func(error)) (paho.Client, error) {
	t.Helper()
	opts := paho.NewClientOptions().AddBroker("ssl://" + e.emu.ALPNAddr()).SetClientID(clientID).
		SetTLSConfig(e.alpnMQTT(t)).SetProtocolVersion(4).SetUsername(username).SetPassword(password).
		SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(15 * time.Second)
	if onLost != nil {
		opts.SetConnectionLostHandler(func(_ paho.Client, err error) { onLost(err) })
	}
	c := paho.NewClient(opts)
	tok := c.Connect()
	if !tok.WaitTimeout(20 * time.Second) {
		return nil, errors.New("connect timed out")
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c, nil
}

// TestCustomAuthorizers drives the control plane with the AWS SDK for Go v2 and connects with
// custom authentication over MQTT on 443 (ALPN mqtt, MQTT 3.1.1 and 5) and over WebSocket,
// against the authorizer function running behind the real Lambda Runtime Interface Emulator.
func TestCustomAuthorizers(t *testing.T) {
	e := startCustomAuth(t, func(c *emulator.Config) { c.CustomAuthSecond = 10 * time.Millisecond })
	ctx := context.Background()
	emu := e.emu

	t.Run("control plane", func(t *testing.T) {
		d, err := e.iot.DescribeAuthorizer(ctx, &iot.DescribeAuthorizerInput{AuthorizerName: aws.String("signed")})
		if err != nil || aws.ToString(d.AuthorizerDescription.AuthorizerArn) != "arn:aws:iot:us-east-1:123456789012:authorizer/signed" ||
			d.AuthorizerDescription.Status != types.AuthorizerStatusActive || d.AuthorizerDescription.CreationDate == nil {
			t.Fatalf("DescribeAuthorizer: %+v %v", d, err)
		}
		l, err := e.iot.ListAuthorizers(ctx, &iot.ListAuthorizersInput{})
		if err != nil || len(l.Authorizers) != 2 {
			t.Fatalf("ListAuthorizers: %+v %v", l, err)
		}
		def, err := e.iot.DescribeDefaultAuthorizer(ctx, &iot.DescribeDefaultAuthorizerInput{})
		if err != nil || aws.ToString(def.AuthorizerDescription.AuthorizerName) != "open" {
			t.Fatalf("DescribeDefaultAuthorizer: %+v %v", def, err)
		}
		_, err = e.iot.CreateAuthorizer(ctx, &iot.CreateAuthorizerInput{AuthorizerName: aws.String("signed"), AuthorizerFunctionArn: aws.String(authorizerARN), SigningDisabled: aws.Bool(true)})
		wantAWSError(t, err, "ResourceAlreadyExistsException", 409)
		_, err = e.iot.CreateAuthorizer(ctx, &iot.CreateAuthorizerInput{AuthorizerName: aws.String("nokeys"), AuthorizerFunctionArn: aws.String(authorizerARN)})
		wantAWSError(t, err, "InvalidRequestException", 400)
		_, err = e.iot.DeleteAuthorizer(ctx, &iot.DeleteAuthorizerInput{AuthorizerName: aws.String("signed")})
		wantAWSError(t, err, "DeleteConflictException", 409)
		_, err = e.iot.DescribeAuthorizer(ctx, &iot.DescribeAuthorizerInput{AuthorizerName: aws.String("missing")})
		wantAWSError(t, err, "ResourceNotFoundException", 404)

		out, err := e.iot.TestInvokeAuthorizer(ctx, &iot.TestInvokeAuthorizerInput{AuthorizerName: aws.String("signed"),
			Token: aws.String("allow5"), TokenSignature: aws.String(e.sign("allow5")),
			MqttContext: &types.MqttContext{Username: aws.String("u"), Password: []byte("pw"), ClientId: aws.String("c")},
			TlsContext:  &types.TlsContext{ServerName: aws.String("localhost")}})
		if err != nil || !aws.ToBool(out.IsAuthenticated) || aws.ToString(out.PrincipalId) != "dev5" || len(out.PolicyDocuments) != 1 ||
			!strings.Contains(out.PolicyDocuments[0], "iot:Connect") || aws.ToInt32(out.DisconnectAfterInSeconds) != 86400 {
			t.Fatalf("TestInvokeAuthorizer: %+v %v", out, err)
		}
		_, err = e.iot.TestInvokeAuthorizer(ctx, &iot.TestInvokeAuthorizerInput{AuthorizerName: aws.String("open"), Token: aws.String("garbage")})
		wantAWSError(t, err, "InvalidResponseException", 400)
	})

	t.Run("mqtt 3.1.1 on 443 with ALPN mqtt", func(t *testing.T) {
		c, err := e.connect311(t, "ca-1", e.username("allow1"), "", nil)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		handler, got := msgCollector()
		if err := wait(t, c.Subscribe("custom/dev1/+", 1, handler)); err != nil {
			t.Fatal(err)
		}
		if err := wait(t, c.Publish("custom/dev1/x", 1, false, "hello")); err != nil {
			t.Fatal(err)
		}
		if m := nextMessage(t, got, "custom-auth publish"); m.payload != "hello" {
			t.Fatalf("%+v", m)
		}
		rec := transcriptFor(t, emu, func(r listener.Record) bool { return r.ClientID == "ca-1" })
		if rec.Personality != "mqtt-customauth" || rec.ClientCertRequested || rec.ALPNSelected != "mqtt" || rec.SNI != "localhost" ||
			!strings.Contains(rec.Detail, "custom authorizer signed as principal dev1") {
			t.Fatalf("transcript %+v", rec)
		}
		// The same credentials again: the answer comes from the cache.
		if _, err := e.connect311(t, "ca-1b", e.username("allow1"), "", nil); err != nil {
			t.Fatal(err)
		}
		// A publish outside the answer's policies closes the connection.
		lost := make(chan error, 1)
		c2, err := e.connect311(t, "ca-2", e.username("allow2"), "", func(err error) { lost <- err })
		if err != nil {
			t.Fatal(err)
		}
		c2.Publish("custom/dev1/x", 1, false, "not mine")
		select {
		case <-lost:
		case <-time.After(10 * time.Second):
			t.Fatal("a publish outside the authorizer's policy did not close the connection")
		}
	})

	t.Run("default authorizer and the password", func(t *testing.T) {
		if _, err := e.connect311(t, "ca-pw", "someone", "letmein", nil); err != nil {
			t.Fatalf("password checked by the default authorizer: %v", err)
		}
		if _, err := e.connect311(t, "ca-pw2", "someone", "wrong", nil); err == nil {
			t.Fatal("a wrong password connected")
		}
	})

	t.Run("refusals", func(t *testing.T) {
		for _, tc := range []struct {
			name, username, detail string
		}{
			{"bad signature", "d?x-amz-customauthorizer-name=signed&token=allow1&x-amz-customauthorizer-signature=" + url.QueryEscape(e.sign("other")), "does not verify"},
			{"not authenticated", "d?x-amz-customauthorizer-name=open&token=deny", "isAuthenticated: false"},
			{"function error", "d?x-amz-customauthorizer-name=open&token=error", "raised an error"},
			{"garbage answer", "d?x-amz-customauthorizer-name=open&token=garbage", "malformed JSON"},
			{"unknown authorizer", "d?x-amz-customauthorizer-name=nope&token=allow", "no such authorizer"},
			{"two question marks", "d?x-amz-customauthorizer-name=signed&token=allow1&x-amz-customauthorizer-signature=" + url.QueryEscape(e.sign("allow1")) + "?SDK=Java", "token signature"},
			{"oversized username", "d?x-amz-customauthorizer-name=open&token=allow&pad=" + strings.Repeat("x", 20<<10), "at most"},
		} {
			id := "ref-" + strings.ReplaceAll(tc.name, " ", "-")
			connack, err := rawConnectUser(t, emu.ALPNAddr(), id, tc.username, e.alpnMQTT(t), 4)
			if err != nil || len(connack) != 0 {
				t.Errorf("%s: MQTT 3.1.1 got %x %v, want the connection closed without CONNACK", tc.name, connack, err)
				continue
			}
			rec := transcriptFor(t, emu, func(r listener.Record) bool { return r.ClientID == id })
			if rec.Outcome != "refused" || !strings.Contains(rec.Detail, tc.detail) {
				t.Errorf("%s: transcript %q %q, want it to say %q", tc.name, rec.Outcome, rec.Detail, tc.detail)
			}
		}
		// MQTT 5: CONNACK 0x86.
		conn, err := tls.Dial("tcp", emu.ALPNAddr(), e.alpnMQTT(t))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		cl := autopaho.NewClient(autopaho.ClientConfig{Conn: conn})
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		ack, err := cl.Connect(cctx, &autopaho.Connect{ClientID: "v5-deny", CleanStart: true, UsernameFlag: true, Username: "d?x-amz-customauthorizer-name=open&token=deny"})
		if ack == nil || ack.ReasonCode != 0x86 {
			t.Fatalf("MQTT 5 refusal: %+v %v, want CONNACK 0x86", ack, err)
		}
	})

	t.Run("mqtt 5 on 443 with ALPN mqtt", func(t *testing.T) {
		conn, err := tls.Dial("tcp", emu.ALPNAddr(), e.alpnMQTT(t))
		if err != nil {
			t.Fatal(err)
		}
		cl := autopaho.NewClient(autopaho.ClientConfig{Conn: conn})
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		ack, err := cl.Connect(cctx, &autopaho.Connect{ClientID: "v5-ok", CleanStart: true, UsernameFlag: true, Username: e.username("allow9")})
		if err != nil || ack.ReasonCode != 0 {
			t.Fatalf("MQTT 5 connect: %+v %v", ack, err)
		}
		cl.Disconnect(&autopaho.Disconnect{})
	})

	t.Run("websocket with credentials in headers and in the username", func(t *testing.T) {
		d := websocket.Dialer{TLSClientConfig: trustEmulator(t, emu, nil), Subprotocols: []string{"mqtt"}, HandshakeTimeout: 10 * time.Second}
		h := http.Header{"x-amz-customauthorizer-name": {"signed"}, "x-amz-customauthorizer-signature": {e.sign("allow3")}, "token": {"allow3"}}
		c, _, err := d.Dial("wss://"+emu.ALPNAddr()+"/mqtt", h)
		if err != nil {
			t.Fatalf("upgrade: %v", err)
		}
		defer c.Close()
		if got := wsConnack(t, c, "ws-ca-1", ""); string(got) != string(connackAccepted) {
			t.Fatalf("CONNACK %x", got)
		}
		rec := transcriptFor(t, emu, func(r listener.Record) bool { return r.ClientID == "ws-ca-1" })
		if !strings.Contains(rec.Detail, "over WebSocket, authenticated by custom authorizer signed as principal dev3") {
			t.Fatalf("transcript %+v", rec)
		}
		c2, _, err := d.Dial("wss://"+emu.ALPNAddr()+"/mqtt?x-amz-customauthorizer-name=open&token=deny", nil)
		if err != nil {
			t.Fatalf("upgrade: %v", err)
		}
		defer c2.Close()
		if got := wsConnack(t, c2, "ws-ca-2", ""); len(got) != 0 {
			t.Fatalf("denied by the query's token, got CONNACK %x", got)
		}
		c3, _, err := d.Dial("wss://"+emu.ALPNAddr()+"/mqtt", nil)
		if err != nil {
			t.Fatalf("upgrade: %v", err)
		}
		defer c3.Close()
		if got := wsConnack(t, c3, "ws-ca-3", e.username("allow4")); string(got) != string(connackAccepted) {
			t.Fatalf("credentials in the username over WebSocket: CONNACK %x", got)
		}
	})

	t.Run("CUSTOMAUTH_TTL_EXPIRATION", func(t *testing.T) {
		events := watchEvents(t, emu)
		if _, err := e.connect311(t, "ca-ttl", e.username("ttl6"), "", nil); err != nil {
			t.Fatal(err)
		}
		ev := next(t, events, "ca-ttl")
		if ev.EventType != "connected" || ev.PrincipalIdentifier != "dev6" {
			t.Fatalf("connected event %+v", ev)
		}
		ev = next(t, events, "ca-ttl")
		if ev.EventType != "disconnected" || ev.DisconnectReason != "CUSTOMAUTH_TTL_EXPIRATION" {
			t.Fatalf("disconnected event %+v", ev)
		}
	})

	t.Run("mosquitto_pub with --tls-alpn mqtt and a username", func(t *testing.T) {
		needTools(t, "mosquitto_pub")
		_, port, _ := net.SplitHostPort(emu.ALPNAddr())
		out, err := run(t, "mosquitto_pub", "-h", "localhost", "-p", port, "--cafile", emu.RootCAFile(), "--tls-alpn", "mqtt",
			"-i", "mosq-ca", "-u", e.username("allow7"), "-t", "custom/dev7/m", "-m", "from mosquitto", "-q", "1")
		if err != nil {
			t.Fatalf("mosquitto_pub: %v\n%s", err, out)
		}
		rec := transcriptFor(t, emu, func(r listener.Record) bool { return r.ClientID == "mosq-ca" })
		if rec.Outcome != "ok" || rec.Personality != "mqtt-customauth" {
			t.Fatalf("transcript %+v", rec)
		}
	})

	t.Run("https publish with the token header", func(t *testing.T) {
		sub, err := e.connect311(t, "ca-https-sub", e.username("allow8"), "", nil)
		if err != nil {
			t.Fatal(err)
		}
		handler, got := msgCollector()
		if err := wait(t, sub.Subscribe("custom/dev8/h", 1, handler)); err != nil {
			t.Fatal(err)
		}
		hc := httpsClientFor(t, trustEmulator(t, emu, nil))
		post := func(topic, token, sig string) *http.Response {
			req, _ := http.NewRequest(http.MethodPost, "https://"+emu.ALPNAddr()+"/topics/"+url.PathEscape(topic)+"?qos=1", strings.NewReader("via https"))
			req.Header.Set("x-amz-customauthorizer-name", "signed")
			req.Header.Set("x-amz-customauthorizer-signature", sig)
			req.Header.Set("token", token)
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return resp
		}
		if resp := post("custom/dev8/h", "allow8", e.sign("allow8")); resp.StatusCode != 200 {
			t.Fatalf("publish: %d", resp.StatusCode)
		}
		if m := nextMessage(t, got, "https publish with a token"); m.payload != "via https" {
			t.Fatalf("%+v", m)
		}
		if resp := post("custom/other/h", "allow8", e.sign("allow8")); resp.StatusCode != 403 || resp.Header.Get("x-amzn-ErrorType") != "ForbiddenException" {
			t.Fatalf("publish outside the policy: %d %s", resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"))
		}
		if resp := post("custom/dev8/h", "allow8", e.sign("other")); resp.StatusCode != 403 {
			t.Fatalf("bad signature: %d", resp.StatusCode)
		}
		if _, err := exec.LookPath("curl"); err == nil {
			_, port, _ := net.SplitHostPort(emu.ALPNAddr())
			out, err := run(t, "curl", "-sS", "-f", "--cacert", emu.RootCAFile(), "-X", "POST",
				"-H", "x-amz-customauthorizer-name: signed", "-H", "x-amz-customauthorizer-signature: "+e.sign("allow8"),
				"-H", "token: allow8", "--data", "via curl", "https://localhost:"+port+"/topics/custom%2Fdev8%2Fh?qos=1")
			if err != nil {
				t.Fatalf("curl: %v\n%s", err, out)
			}
			if m := nextMessage(t, got, "curl publish with a token"); m.payload != "via curl" {
				t.Fatalf("%+v", m)
			}
		}
	})

	t.Run("aws-iot-device-sdk-v2 and MQTT.js", func(t *testing.T) {
		_, port, _ := net.SplitHostPort(emu.ALPNAddr())
		for _, tc := range []struct{ mode, client, token string }{
			{"direct3", "node-ca-3", "allow11"},
			{"direct5", "node-ca-5", "allow12"},
			{"ws3", "node-ca-ws", "allow13"},
		} {
			principal := "dev" + strings.TrimPrefix(tc.token, "allow")
			env := map[string]string{"IOT_HOST": "localhost", "IOT_PORT": port, "IOT_CA": emu.RootCAFile(),
				"CLIENT_ID": tc.client, "TOPIC": "custom/" + principal + "/n", "AUTH_NAME": "signed",
				"AUTH_SIGNATURE": e.sign(tc.token), "TOKEN_KEY": "token", "TOKEN": tc.token}
			out, err := runNode(t, env, "customauth-sdk.js", tc.mode)
			if err != nil || !strings.Contains(out, "OK hello from aws-iot-device-sdk-v2 with a custom authorizer") {
				t.Fatalf("%s: %v\n%s", tc.mode, err, out)
			}
		}
		env := map[string]string{"URL": "wss://localhost:" + port + "/mqtt", "IOT_CA": emu.RootCAFile(),
			"USERNAME": e.username("allow14"), "CLIENT_ID": "mqttjs-ca", "TOPIC": "custom/dev14/j"}
		if out, err := runNode(t, env, "ws-mqttjs.js"); err != nil || !strings.Contains(out, "OK hello from MQTT.js") {
			t.Fatalf("MQTT.js with a custom authorizer: %v\n%s", err, out)
		}
	})

	t.Run("function timeout", func(t *testing.T) {
		connack, err := rawConnectUser(t, emu.ALPNAddr(), "ca-slow", "d?x-amz-customauthorizer-name=open&token=slow", e.alpnMQTT(t), 4)
		if err != nil || len(connack) != 0 {
			t.Fatalf("slow function: %x %v", connack, err)
		}
		rec := transcriptFor(t, emu, func(r listener.Record) bool { return r.ClientID == "ca-slow" })
		if !strings.Contains(rec.Detail, "timed out") {
			t.Fatalf("transcript %q", rec.Detail)
		}
	})
}

// wsConnack sends an MQTT 3.1.1 CONNECT (with a username when given) over the WebSocket and
// returns the CONNACK, or nothing when the server closed the connection.
func wsConnack(t *testing.T, c *websocket.Conn, clientID, username string) []byte {
	t.Helper()
	if err := c.WriteMessage(websocket.BinaryMessage, connectPacketUser(clientID, username, 4)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, msg, err := c.ReadMessage()
	if err != nil {
		return nil
	}
	return msg
}

// rawConnectUser is rawConnect with a username (and ALPN from cfg).
func rawConnectUser(t *testing.T, addr, clientID, username string, cfg *tls.Config, version byte) ([]byte, error) {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if _, err := conn.Write(connectPacketUser(clientID, username, version)); err != nil {
		return nil, err
	}
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	buf := make([]byte, 4)
	n, err := io.ReadFull(conn, buf)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return buf[:n], errors.New("server neither answered CONNECT nor closed the connection")
	}
	return buf[:n], nil
}

// connectPacketUser is an MQTT 3.1.1 CONNECT with a username when one is given.
func connectPacketUser(clientID, username string, version byte) []byte {
	flags := byte(0x02)
	if username != "" {
		flags |= 0x80
	}
	body := []byte{0, 4, 'M', 'Q', 'T', 'T', version, flags, 0, 60, byte(len(clientID) >> 8), byte(len(clientID))}
	body = append(body, clientID...)
	if username != "" {
		body = append(body, byte(len(username)>>8), byte(len(username)))
		body = append(body, username...)
	}
	return append(append([]byte{0x10}, remainingLength(len(body))...), body...)
}
