package emulator

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	packets5 "github.com/eclipse/paho.golang/packets"
	paho5 "github.com/eclipse/paho.golang/paho"
	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/iotcore-local/iotcore-local/api"
)

// brokerPolicy lets a device connect with any client ID, subscribe to anything, publish and
// retain under ok/, and receive everything but no/*.
const brokerPolicy = `{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":["iot:Connect","iot:Subscribe","iot:Receive"],"Resource":"*"},
 {"Effect":"Deny","Action":"iot:Receive","Resource":"arn:aws:iot:us-east-1:123456789012:topic/no/*"},
 {"Effect":"Allow","Action":["iot:Publish","iot:RetainPublish"],"Resource":"arn:aws:iot:us-east-1:123456789012:topic/ok/*"}
]}`

// adapterEnv is a running emulator, a broker adapter on it, the HTTP API using that adapter
// and a device allowed by brokerPolicy.
type adapterEnv struct {
	emu     *Emulator
	adapter *brokerAdapter
	api     *httptest.Server
	device  *Device
}

func startAdapterEnv(t *testing.T) *adapterEnv {
	t.Helper()
	cfg := TestConfig(t.TempDir())
	cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
	emu, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := emu.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := emu.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	adapter, err := newBrokerAdapter(brokerAdapterOptions{Server: emu.broker, Logger: cfg.Logger.With("component", "http-broker")})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.New(api.Config{
		Registry: emu.registry, Region: "us-east-1", Account: "123456789012", Broker: adapter,
		Logger: cfg.Logger.With("component", "api"),
	}))
	t.Cleanup(srv.Close)
	d, err := emu.CreateDevice("dev", brokerPolicy)
	if err != nil {
		t.Fatal(err)
	}
	return &adapterEnv{emu: emu, adapter: adapter, api: srv, device: d}
}

func (e *adapterEnv) tls(t *testing.T) *tls.Config {
	t.Helper()
	cfg, err := e.device.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// connect5 opens an MQTT 5 session and subscribes to filters; messages and a server
// DISCONNECT are reported on the returned channels.
func (e *adapterEnv) connect5(t *testing.T, clientID string, filters ...string) (<-chan *paho5.Publish, <-chan *paho5.Disconnect) {
	t.Helper()
	msgs, disc, err := e.tryConnect5(t, clientID, filters)
	if err != nil {
		t.Fatalf("MQTT 5 session %s: %v", clientID, err)
	}
	return msgs, disc
}

func (e *adapterEnv) tryConnect5(t *testing.T, clientID string, filters []string) (<-chan *paho5.Publish, <-chan *paho5.Disconnect, error) {
	t.Helper()
	conn, err := tls.Dial("tcp", e.emu.MQTTAddr(), e.tls(t))
	if err != nil {
		return nil, nil, err
	}
	t.Cleanup(func() { conn.Close() })
	msgs := make(chan *paho5.Publish, 16)
	disc := make(chan *paho5.Disconnect, 1)
	c := paho5.NewClient(paho5.ClientConfig{
		// tls.Conn is not safe for concurrent writes; paho.golang writes from several goroutines.
		Conn: packets5.NewThreadSafeConn(conn),
		OnPublishReceived: []func(paho5.PublishReceived) (bool, error){func(p paho5.PublishReceived) (bool, error) {
			msgs <- p.Packet
			return true, nil
		}},
		OnServerDisconnect: func(d *paho5.Disconnect) { disc <- d },
	})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := c.Connect(ctx, &paho5.Connect{ClientID: clientID, KeepAlive: 30, CleanStart: true}); err != nil {
		return nil, nil, fmt.Errorf("connect: %w", err)
	}
	var subs []paho5.SubscribeOptions
	for _, f := range filters {
		subs = append(subs, paho5.SubscribeOptions{Topic: f, QoS: 1})
	}
	if len(subs) > 0 {
		if _, err := c.Subscribe(ctx, &paho5.Subscribe{Subscriptions: subs}); err != nil {
			conn.Close()
			return nil, nil, fmt.Errorf("subscribe %v: %w", filters, err)
		}
	}
	return msgs, disc, nil
}

// connect3 opens an MQTT 3.1.1 session (persistent unless clean) with an optional will, and
// subscribes to filters; messages go to the returned channel and the loss of the connection
// closes lost.
func (e *adapterEnv) connect3(t *testing.T, clientID string, clean bool, will string, filters ...string) (paho.Client, <-chan paho.Message, <-chan struct{}) {
	t.Helper()
	msgs := make(chan paho.Message, 16)
	lost := make(chan struct{})
	opts := paho.NewClientOptions().AddBroker("ssl://" + e.emu.MQTTAddr()).SetClientID(clientID).
		SetTLSConfig(e.tls(t)).SetProtocolVersion(4).SetCleanSession(clean).SetAutoReconnect(false).
		SetConnectRetry(false).SetKeepAlive(30 * time.Second).
		SetConnectionLostHandler(func(paho.Client, error) { close(lost) })
	if will != "" {
		opts.SetWill(will, "gone", 1, false)
	}
	c := paho.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", clientID, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(50) })
	for _, f := range filters {
		tok := c.Subscribe(f, 1, func(_ paho.Client, m paho.Message) { msgs <- m })
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("subscribe %s: %v", f, tok.Error())
		}
	}
	return c, msgs, lost
}

func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s within 10s", what)
	}
	var zero T
	return zero
}

func nothing[T any](t *testing.T, ch <-chan T, what string) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("unexpected %s: %+v", what, v)
	case <-time.After(300 * time.Millisecond):
	}
}

// TestBrokerAdapterPublish: a message published over HTTP reaches MQTT 5 subscribers with its
// MQTT 5 properties and MQTT 3.1.1 subscribers with its payload; a subscriber whose policy
// denies iot:Receive on the topic does not get it.
func TestBrokerAdapterPublish(t *testing.T) {
	e := startAdapterEnv(t)
	msgs5, _ := e.connect5(t, "sub5", "ok/#", "no/#")
	_, msgs3, _ := e.connect3(t, "sub3", true, "", "ok/#")

	props := base64.StdEncoding.EncodeToString([]byte(`[{"deviceName":"alpha"},{"deviceCnt":"45"}]`))
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost,
		e.api.URL+"/topics/ok%2Fa?qos=1&contentType=application%2Fjson&responseTopic=ok%2Freply&messageExpiry=120",
		strings.NewReader(`{"v":1}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("x-amz-mqtt5-user-properties", props)
	req.Header.Set("x-amz-mqtt5-payload-format-indicator", "UTF8_DATA")
	req.Header.Set("x-amz-mqtt5-correlation-data", base64.StdEncoding.EncodeToString([]byte("corr")))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("Publish over HTTP: %d %s", resp.StatusCode, body)
	}

	p := receive(t, msgs5, "MQTT 5 delivery")
	if p.Topic != "ok/a" || string(p.Payload) != `{"v":1}` || p.QoS != 1 {
		t.Fatalf("MQTT 5 delivery %+v", p)
	}
	pp := p.Properties
	if pp == nil || pp.ContentType != "application/json" || pp.ResponseTopic != "ok/reply" || string(pp.CorrelationData) != "corr" ||
		pp.PayloadFormat == nil || *pp.PayloadFormat != 1 || pp.MessageExpiry == nil || *pp.MessageExpiry == 0 || *pp.MessageExpiry > 120 {
		t.Fatalf("MQTT 5 properties %+v", pp)
	}
	wantUser := paho5.UserProperties{{Key: "deviceName", Value: "alpha"}, {Key: "deviceCnt", Value: "45"}}
	if !slices.Equal(pp.User, wantUser) {
		t.Fatalf("user properties %v, want %v", pp.User, wantUser)
	}
	m := receive(t, msgs3, "MQTT 3.1.1 delivery")
	if m.Topic() != "ok/a" || string(m.Payload()) != `{"v":1}` {
		t.Fatalf("MQTT 3.1.1 delivery %s %q", m.Topic(), m.Payload())
	}

	// iot:Receive is denied on no/*: the subscription matches, the delivery is withheld.
	if err := e.adapter.Publish(t.Context(), api.Message{Topic: "no/x", Payload: []byte("secret")}); err != nil {
		t.Fatal(err)
	}
	if err := e.adapter.Publish(t.Context(), api.Message{Topic: "ok/after", Payload: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if p := receive(t, msgs5, "delivery after the denied one"); p.Topic != "ok/after" {
		t.Fatalf("got %s, want ok/after (no/x must not be delivered)", p.Topic)
	}
}

// TestBrokerAdapterRetained: retained messages published over HTTP are listed and read back
// with their user properties, are sent to a later exact subscriber, and an empty retained
// publish deletes them.
func TestBrokerAdapterRetained(t *testing.T) {
	e := startAdapterEnv(t)
	before := time.Now().Truncate(time.Second)
	for _, topic := range []string{"ok/r2", "ok/r1"} {
		err := e.adapter.Publish(t.Context(), api.Message{Topic: topic, Payload: []byte("v-" + topic), QoS: 1, Retain: true,
			UserProperties: [][2]string{{"k", "v"}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	list := e.adapter.ListRetained()
	if len(list) != 2 || list[0].Topic != "ok/r1" || list[1].Topic != "ok/r2" {
		t.Fatalf("ListRetained = %+v", list)
	}
	m, ok := e.adapter.Retained("ok/r1")
	if !ok || string(m.Payload) != "v-ok/r1" || m.QoS != 1 || !slices.Equal(m.UserProperties, [][2]string{{"k", "v"}}) ||
		m.LastModified.Before(before) || m.LastModified.After(time.Now()) {
		t.Fatalf("Retained(ok/r1) = %+v, %t", m, ok)
	}

	resp, err := http.Get(e.api.URL + "/retainedMessage/ok%2Fr1")
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Topic          string `json:"topic"`
		Payload        []byte `json:"payload"`
		QoS            int    `json:"qos"`
		LastModified   int64  `json:"lastModifiedTime"`
		UserProperties []byte `json:"userProperties"`
	}
	err = json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if err != nil || out.Topic != "ok/r1" || string(out.Payload) != "v-ok/r1" || string(out.UserProperties) != `[{"k":"v"}]` ||
		out.LastModified != m.LastModified.UnixMilli() {
		t.Fatalf("GetRetainedMessage over HTTP: %+v, %v", out, err)
	}

	// A later exact subscriber gets the retained message (AWS sends retained messages to exact
	// filters only).
	_, msgs, _ := e.connect3(t, "late", true, "", "ok/r1")
	if got := receive(t, msgs, "retained message on subscribe"); string(got.Payload()) != "v-ok/r1" || !got.Retained() {
		t.Fatalf("retained on subscribe: %q retained=%t", got.Payload(), got.Retained())
	}

	if err := e.adapter.Publish(t.Context(), api.Message{Topic: "ok/r1", Retain: true}); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.adapter.Retained("ok/r1"); ok {
		t.Fatal("empty retained publish did not delete the retained message")
	}
	if list := e.adapter.ListRetained(); len(list) != 1 || list[0].Topic != "ok/r2" {
		t.Fatalf("ListRetained after delete = %+v", list)
	}
}

// TestBrokerAdapterDeleteConnection: DeleteConnection closes a live MQTT 5 client with
// DISCONNECT 0x98 and sends its will; closes an MQTT 3.1.1 client without its will when asked,
// keeping its persistent session; drops that session with cleanSession; and reports clients
// that are not connected.
func TestBrokerAdapterDeleteConnection(t *testing.T) {
	e := startAdapterEnv(t)
	_, watch, _ := e.connect3(t, "watcher", true, "", "ok/#")

	// MQTT 5, with a will, over HTTP.
	conn, err := tls.Dial("tcp", e.emu.MQTTAddr(), e.tls(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	disc := make(chan *paho5.Disconnect, 1)
	c5 := paho5.NewClient(paho5.ClientConfig{Conn: packets5.NewThreadSafeConn(conn), OnServerDisconnect: func(d *paho5.Disconnect) { disc <- d }})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := c5.Connect(ctx, &paho5.Connect{ClientID: "five", KeepAlive: 30, CleanStart: true, WillMessage: &paho5.WillMessage{Topic: "ok/will/five", Payload: []byte("gone"), QoS: 1}}); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodDelete, e.api.URL+"/connections/five", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("DeleteConnection over HTTP: %d", resp.StatusCode)
	}
	if d := receive(t, disc, "DISCONNECT"); d.ReasonCode != 0x98 {
		t.Fatalf("DISCONNECT reason %#x, want 0x98", d.ReasonCode)
	}
	if m := receive(t, watch, "will of five"); m.Topic() != "ok/will/five" {
		t.Fatalf("got %s, want the will", m.Topic())
	}

	// MQTT 3.1.1, persistent, will prevented.
	_, _, lost := e.connect3(t, "three", false, "ok/will/three", "ok/three/#")
	if err := e.adapter.DeleteConnection("three", false, true); err != nil {
		t.Fatal(err)
	}
	receive(t, lost, "connection loss of three")
	nothing(t, watch, "will of three")
	cl, ok := e.emu.broker.Clients.Get("three")
	if !ok {
		t.Fatal("persistent session of three was dropped without cleanSession")
	}
	var cause *api.APIInitiatedDisconnect
	if !errors.As(cl.StopCause(), &cause) || !cause.PreventWill || cause.CleanSession {
		t.Fatalf("stop cause %v, want an APIInitiatedDisconnect", cl.StopCause())
	}
	var reason interface{ DisconnectReason() string }
	if !errors.As(cl.StopCause(), &reason) || reason.DisconnectReason() != "API_INITIATED_DISCONNECT" {
		t.Fatalf("stop cause %v does not tell API_INITIATED_DISCONNECT", cl.StopCause())
	}
	if err := e.adapter.DeleteConnection("three", false, false); !errors.Is(err, api.ErrNoSuchClient) {
		t.Fatalf("DeleteConnection of a disconnected client: %v, want ErrNoSuchClient", err)
	}

	// Reconnect to the kept session, then delete it with cleanSession.
	_, _, lost = e.connect3(t, "three", false, "", "ok/three/#")
	if _, ok := e.emu.broker.Clients.Get("three"); !ok {
		t.Fatal("three is not connected")
	}
	if err := e.adapter.DeleteConnection("three", true, false); err != nil {
		t.Fatal(err)
	}
	receive(t, lost, "connection loss of three")
	if _, ok := e.emu.broker.Clients.Get("three"); ok {
		t.Fatal("cleanSession=true kept the session")
	}
	if _, ok := e.emu.broker.Topics.Subscribers("ok/three/x").Subscriptions["three"]; ok {
		t.Fatal("the subscriptions of the dropped session remain")
	}

	if err := e.adapter.DeleteConnection("nobody", false, false); !errors.Is(err, api.ErrNoSuchClient) {
		t.Fatalf("DeleteConnection of an unknown client: %v", err)
	}
	resp, err = http.DefaultClient.Do(mustRequest(t, http.MethodDelete, e.api.URL+"/connections/nobody"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("x-amzn-ErrorType") != "ResourceNotFoundException" || !bytes.Contains(body, []byte("nobody")) {
		t.Fatalf("DeleteConnection of an unknown client over HTTP: %d %s %s", resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"), body)
	}
}

func mustRequest(t *testing.T, method, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
