package listener

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// wsTestConnect is an MQTT 3.1.1 CONNECT with client id "ws".
var wsTestConnect = []byte{0x10, 14, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, 2, 'w', 's'}

// TestWebSocketStream runs a fake broker behind a WebSocket listener: binary frames reach it as
// one byte stream (a packet split over frames), what it writes comes back as
// binary messages, the identity the authenticator returned rides on the Conn, and a text frame
// ends the connection.
func TestWebSocketStream(t *testing.T) {
	identities := make(chan any, 4)
	ws := NewWebSocket(WebSocketConfig{
		Authenticate: func(w http.ResponseWriter, r *http.Request) (any, bool) {
			if r.Header.Get("X-Deny") != "" {
				http.Error(w, "denied", http.StatusForbidden)
				return nil, false
			}
			return "who", true
		},
		ConnectTimeout: 5 * time.Second,
	})
	go ws.Serve(func(id string, c net.Conn) error {
		identities <- c.(*Conn).Identity()
		buf := make([]byte, len(wsTestConnect))
		for {
			if _, err := io.ReadFull(c, buf); err != nil {
				return err
			}
			if _, err := c.Write(buf); err != nil {
				return err
			}
		}
	})
	srv := httptest.NewServer(ws)
	defer func() { srv.Close(); ws.Close(nil) }()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + WebSocketPath

	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) { // until Serve has taken establish
		ws.mu.Lock()
		ready := ws.establish != nil
		ws.mu.Unlock()
		if ready || time.Now().After(deadline) {
			break
		}
	}
	d := websocket.Dialer{Subprotocols: []string{"mqttv3.1"}}
	c, resp, err := d.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if resp.Header.Get("Sec-WebSocket-Protocol") != "mqttv3.1" {
		t.Fatalf("subprotocol %q", resp.Header.Get("Sec-WebSocket-Protocol"))
	}
	if id := <-identities; id != "who" {
		t.Fatalf("identity %v", id)
	}
	// A CONNECT split over two frames reaches the broker whole (the listener's packet guard
	// applies to WebSocket connections too).
	c.WriteMessage(websocket.BinaryMessage, wsTestConnect[:5])
	c.WriteMessage(websocket.BinaryMessage, wsTestConnect[5:])
	got := ""
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for len(got) < len(wsTestConnect) {
		_, m, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		got += string(m)
	}
	if got != string(wsTestConnect) {
		t.Fatalf("echo %x", got)
	}
	c.WriteMessage(websocket.TextMessage, []byte("nope"))
	if _, _, err := c.ReadMessage(); err == nil {
		t.Fatal("a text frame did not end the connection")
	}

	for _, tc := range []struct {
		name   string
		req    func() *http.Request
		status int
	}{
		{"not an upgrade", func() *http.Request { r, _ := http.NewRequest(http.MethodGet, srv.URL+"/mqtt", nil); return r }, 400},
		{"POST", func() *http.Request {
			r, _ := http.NewRequest(http.MethodPost, srv.URL+"/mqtt", nil)
			r.Header.Set("Upgrade", "websocket")
			r.Header.Set("Connection", "Upgrade")
			return r
		}, 400},
		{"headers too large", func() *http.Request {
			r, _ := http.NewRequest(http.MethodGet, srv.URL+"/mqtt", nil)
			for i := range 40 {
				r.Header.Set("X-Pad-"+string(rune('a'+i%26))+string(rune('a'+i/26)), strings.Repeat("x", 1000))
			}
			return r
		}, 431},
	} {
		resp, err := http.DefaultClient.Do(tc.req())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %d, want %d", tc.name, resp.StatusCode, tc.status)
		}
	}
	if _, resp, err := d.Dial(url, http.Header{"X-Deny": {"1"}}); err == nil || resp.StatusCode != 403 {
		t.Fatalf("authenticator refusal: %v %v", err, resp)
	}
}
