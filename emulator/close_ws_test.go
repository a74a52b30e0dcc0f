package emulator

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/gorilla/websocket"

	"github.com/iotcore-local/iotcore-local/authorizers"
)

// TestCloseLeavesNoGoroutineWithWebSocketAndCustomAuth closes an emulator holding a SigV4
// WebSocket connection (with its lifetime timer) and a custom-auth connection (with its
// disconnect and refresh timers), and checks that every goroutine it started has ended.
func TestCloseLeavesNoGoroutineWithWebSocketAndCustomAuth(t *testing.T) {
	fn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"isAuthenticated":true,"principalId":"p1","disconnectAfterInSeconds":3600,"refreshAfterInSeconds":300,
			"policyDocuments":[{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}]}`)
	}))
	defer fn.Close()
	before := runtime.NumGoroutine()
	cfg := TestConfig(t.TempDir())
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.Demo = false
	cfg.Credentials = map[string]string{"AKIDCLOSE": "secret"}
	cfg.Functions = map[string]string{"fn": fn.URL}
	emu, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := emu.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := emu.Authorizers().Create(authorizers.CreateInput{Name: "a", FunctionARN: "fn", TokenKeyName: "tok", SigningDisabled: true}); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(emu.RootCAPEM())
	trust := &tls.Config{RootCAs: pool, ServerName: "localhost"}

	req, _ := http.NewRequest(http.MethodGet, "wss://"+emu.ALPNAddr()+"/mqtt", nil)
	u, _, err := v4.NewSigner().PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKIDCLOSE", SecretAccessKey: "secret"},
		req, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "iotdevicegateway", "us-east-1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	d := websocket.Dialer{TLSClientConfig: trust, Subprotocols: []string{"mqtt"}}
	ws, _, err := d.Dial(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	body := []byte{0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, 2, 'w', 's'}
	ws.WriteMessage(websocket.BinaryMessage, append([]byte{0x10, byte(len(body))}, body...))
	if _, msg, err := ws.ReadMessage(); err != nil || len(msg) != 4 || msg[3] != 0 {
		t.Fatalf("WebSocket CONNACK %x %v", msg, err)
	}

	ca := trust.Clone()
	ca.NextProtos = []string{"mqtt"}
	c, err := tls.Dial("tcp", emu.ALPNAddr(), ca)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	user := "u?x-amz-customauthorizer-name=a&tok=t"
	body = []byte{0, 4, 'M', 'Q', 'T', 'T', 4, 0x82, 0, 60, 0, 2, 'c', 'a', 0, byte(len(user))}
	body = append(body, user...)
	c.Write(append([]byte{0x10, byte(len(body))}, body...))
	ack := make([]byte, 4)
	if _, err := io.ReadFull(c, ack); err != nil || ack[3] != 0 {
		t.Fatalf("custom-auth CONNACK %x %v", ack, err)
	}

	if err := emu.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		var ours []string
		for _, g := range strings.Split(stacks, "\n\n") {
			if strings.Contains(g, "iotcore-local") || strings.Contains(g, "mochi-mqtt") || strings.Contains(g, "websocket") {
				ours = append(ours, g)
			}
		}
		t.Fatalf("%d goroutines after Close, %d before; still running:\n%s", n, before, strings.Join(ours, "\n\n"))
	}
}
