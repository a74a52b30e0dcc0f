package e2e

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/iotcore-local/iotcore-local/authorizers"
	"github.com/iotcore-local/iotcore-local/emulator"
)

// TestCustomAuthRefresh checks refreshAfterInSeconds: the emulator calls the authorizer again
// after the period (here shortened with CustomAuthSecond) and ends the connection when the new
// answer refuses, with lifecycle reason AUTH_ERROR.
func TestCustomAuthRefresh(t *testing.T) {
	var calls atomic.Int32
	fn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if calls.Add(1) == 1 {
			io.WriteString(w, `{"isAuthenticated":true,"principalId":"refresher","refreshAfterInSeconds":300,
				"policyDocuments":["{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"iot:*\",\"Resource\":\"*\"}]}"]}`)
			return
		}
		io.WriteString(w, `{"isAuthenticated":false}`)
	}))
	defer fn.Close()
	emu := startEmulator(t, "", func(c *emulator.Config) {
		c.Demo = false
		c.Functions = map[string]string{"refresh-fn": fn.URL}
		c.CustomAuthSecond = 10 * time.Millisecond // refreshAfterInSeconds 300 → 3 s
	})
	if _, err := emu.Authorizers().Create(authorizers.CreateInput{Name: "r", FunctionARN: "refresh-fn", TokenKeyName: "tok", SigningDisabled: true}); err != nil {
		t.Fatal(err)
	}
	events := watchEvents(t, emu)
	lost := make(chan error, 1)
	opts := paho.NewClientOptions().AddBroker("ssl://" + emu.ALPNAddr()).SetClientID("refreshed").
		SetTLSConfig(trustEmulator(t, emu, []string{"mqtt"})).SetProtocolVersion(4).
		SetUsername("u?x-amz-customauthorizer-name=r&tok=t").SetAutoReconnect(false).
		SetConnectionLostHandler(func(_ paho.Client, err error) { lost <- err })
	c := paho.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	if ev := next(t, events, "refreshed"); ev.EventType != "connected" || ev.PrincipalIdentifier != "refresher" {
		t.Fatalf("connected event %+v", ev)
	}
	select {
	case <-lost:
	case <-time.After(15 * time.Second):
		t.Fatal("the refused refresh did not end the connection")
	}
	ev := next(t, events, "refreshed")
	if ev.EventType != "disconnected" || ev.DisconnectReason != "AUTH_ERROR" {
		t.Fatalf("disconnected event %+v", ev)
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("the function was called %d times, want 2 (connect, refresh)", n)
	}
}

// TestCustomAuthPolicyVariables checks the policy variables of custom-auth principals in the
// authorizer's answer: ${iot:ClientId} and ${iot:DomainName} resolve for the connection.
func TestCustomAuthPolicyVariables(t *testing.T) {
	fn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, `{"isAuthenticated":true,"principalId":"vars","policyDocuments":[{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-east-1:123456789012:client/*"},
			{"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":"arn:aws:iot:us-east-1:123456789012:topic/${iot:DomainName}/${iot:ClientId}/*"},
			{"Effect":"Allow","Action":"iot:Subscribe","Resource":"arn:aws:iot:us-east-1:123456789012:topicfilter/${iot:DomainName}/${iot:ClientId}/*"}]}]}`)
	}))
	defer fn.Close()
	emu := startEmulator(t, "", func(c *emulator.Config) {
		c.Demo = false
		c.Functions = map[string]string{"vars-fn": fn.URL}
	})
	if _, err := emu.Authorizers().Create(authorizers.CreateInput{Name: "v", FunctionARN: "vars-fn", SigningDisabled: true}); err != nil {
		t.Fatal(err)
	}
	lost := make(chan error, 1)
	opts := paho.NewClientOptions().AddBroker("ssl://" + emu.ALPNAddr()).SetClientID("var-client").
		SetTLSConfig(trustEmulator(t, emu, []string{"mqtt"})).SetProtocolVersion(4).
		SetUsername("u?x-amz-customauthorizer-name=v").SetAutoReconnect(false).
		SetConnectionLostHandler(func(_ paho.Client, err error) { lost <- err })
	c := paho.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	handler, got := msgCollector()
	if err := wait(t, c.Subscribe("localhost/var-client/+", 1, handler)); err != nil {
		t.Fatal(err)
	}
	if err := wait(t, c.Publish("localhost/var-client/t", 1, false, "resolved")); err != nil {
		t.Fatal(err)
	}
	if m := nextMessage(t, got, "publish under the resolved variables"); m.payload != "resolved" {
		t.Fatalf("%+v", m)
	}
	c.Publish("localhost/other-client/t", 1, false, "not mine")
	select {
	case <-lost:
	case <-time.After(10 * time.Second):
		t.Fatal("a publish outside ${iot:ClientId} did not close the connection")
	}
}
