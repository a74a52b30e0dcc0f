package listener

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// MQTT over WebSocket: AWS IoT Core serves it at GET /mqtt on 443 (no ALPN or http/1.1), the
// upgrade authenticated by a SigV4 signature (or a custom authorizer). The HTTP server of a
// Listener (or the plain API address) routes /mqtt to a WebSocket; the WebSocket checks the
// upgrade request, asks its authenticator who is calling, upgrades, and runs the MQTT session
// inside mochi on a *Conn that carries the identity, so the hooks decide every CONNECT,
// PUBLISH, SUBSCRIBE and delivery as on a certificate connection.

// WebSocketPath is where MQTT over WebSocket is served, as every AWS SDK requests it.
const WebSocketPath = "/mqtt"

// Personalities of MQTT over WebSocket connections, for the transcript.
const (
	PersonalityMQTTWSS = "mqtt-wss" // over TLS (443)
	PersonalityMQTTWS  = "mqtt-ws"  // over plain HTTP (the API address; an emulator convenience)
)

// Subprotocols the upgrade may echo: CRT-based SDKs and MQTT.js offer mqtt, the browser MQTT
// 3.1.1 client of aws-crt-nodejs and the v1 JavaScript SDK offer mqttv3.1.
var wsSubprotocols = []string{"mqtt", "mqttv3.1"}

// Bounds of an upgrade request, read before anyone is authenticated. The HTTP server bounds the
// time (ReadHeaderTimeout) and the header block as a whole; these bound what the handler reads.
const (
	maxUpgradeURL     = 16 << 10 // a presigned URL with a session token is about 2-3 KiB
	maxUpgradeHeaders = 32 << 10 // every header name and value, summed
)

// WebSocketAuthenticator decides an upgrade request before it is upgraded. It returns the
// identity the connection carries (Conn.Identity), or writes the refusal (status, AWS error
// headers and body) to w and returns false.
type WebSocketAuthenticator func(w http.ResponseWriter, r *http.Request) (identity any, ok bool)

// WebSocketConfig configures a WebSocket.
type WebSocketConfig struct {
	ID             string // the mochi listener id, also the Listener of transcripts; default "ws"
	Authenticate   WebSocketAuthenticator
	ConnectTimeout time.Duration // deadline for CONNECT after the upgrade; default DefaultConnectTimeout
	Transcripts    *Transcripts
	Logger         *slog.Logger
	// MaxConnectBytes and MaxPacketBytes bound the MQTT packets read, as Config's do for TLS
	// connections (0: DefaultMaxConnectBytes and no packet bound beyond the broker's).
	MaxConnectBytes, MaxPacketBytes int
	// CloseClients replaces the function mochi passes to Close, as Config.CloseClients does.
	CloseClients func(listenerID string)
}

// WebSocket is the mochi listener of every MQTT-over-WebSocket connection. It binds no socket:
// connections arrive through ServeHTTP, from the HTTP servers that route /mqtt to it.
type WebSocket struct {
	cfg      WebSocketConfig
	log      *slog.Logger
	upgrader websocket.Upgrader

	mu        sync.Mutex
	establish listeners.EstablishFn
	conns     map[*Conn]struct{}
	closing   bool
	handlers  sync.WaitGroup
	done      chan struct{} // closed by Close: Serve returns
	closeOnce sync.Once
}

var _ listeners.Listener = (*WebSocket)(nil)

// NewWebSocket returns the listener; add it to mochi with AddListener.
func NewWebSocket(cfg WebSocketConfig) *WebSocket {
	if cfg.ID == "" {
		cfg.ID = "ws"
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.MaxConnectBytes == 0 {
		cfg.MaxConnectBytes = DefaultMaxConnectBytes
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &WebSocket{
		cfg:   cfg,
		log:   log,
		conns: map[*Conn]struct{}{},
		done:  make(chan struct{}),
		upgrader: websocket.Upgrader{
			HandshakeTimeout: DefaultHTTPReadHeaderTimeout,
			ReadBufferSize:   1024,
			WriteBufferSize:  1024,
			// Devices and browser pages of any origin connect, as on AWS.
			CheckOrigin: func(*http.Request) bool { return true },
			Error: func(w http.ResponseWriter, r *http.Request, status int, reason error) {
				http.Error(w, reason.Error(), status)
			},
		},
	}
}

// ID is the mochi listener id.
func (ws *WebSocket) ID() string { return ws.cfg.ID }

// Address names where connections come from: the HTTP servers' /mqtt.
func (ws *WebSocket) Address() string { return WebSocketPath }

// Protocol is the network of the listener.
func (ws *WebSocket) Protocol() string { return "ws" }

// Init does nothing: there is no socket to bind.
func (ws *WebSocket) Init(*slog.Logger) error { return nil }

// Serve keeps mochi's establish function for the connections ServeHTTP upgrades, until Close.
func (ws *WebSocket) Serve(establish listeners.EstablishFn) {
	ws.mu.Lock()
	if ws.closing {
		ws.mu.Unlock()
		return
	}
	ws.establish = establish
	ws.mu.Unlock()
	<-ws.done
}

// Close lets mochi disconnect this listener's clients (bounded by closeGrace), closes every
// connection still open and returns once every session ServeHTTP started has ended.
func (ws *WebSocket) Close(closeClients listeners.CloseFn) {
	first := false
	ws.closeOnce.Do(func() {
		first = true
		ws.mu.Lock()
		ws.closing = true
		ws.mu.Unlock()
		close(ws.done)
	})
	if ws.cfg.CloseClients != nil && closeClients != nil {
		closeClients = ws.cfg.CloseClients
	}
	if first && closeClients != nil {
		disconnected := make(chan struct{})
		go func() { defer close(disconnected); closeClients(ws.cfg.ID) }()
		select {
		case <-disconnected:
		case <-time.After(closeGrace):
		}
	}
	ws.mu.Lock()
	for c := range ws.conns {
		_ = c.nc.Close()
	}
	ws.mu.Unlock()
	ws.handlers.Wait()
}

// upgradeRefusal answers a request that cannot be upgraded, before authentication.
func upgradeRefusal(w http.ResponseWriter, status int, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("x-amzn-ErrorType", "BadRequestException:")
	w.WriteHeader(status)
	fmt.Fprintf(w, "{\"message\":%q}\n", message)
}

// ServeHTTP upgrades GET /mqtt to MQTT over WebSocket and runs the MQTT session; it returns
// when the session has ended.
func (ws *WebSocket) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if len(r.RequestURI) > maxUpgradeURL {
		upgradeRefusal(w, http.StatusRequestURITooLong, fmt.Sprintf("the request URL is %d bytes; at most %d are accepted", len(r.RequestURI), maxUpgradeURL))
		return
	}
	size := 0
	for k, vs := range r.Header {
		for _, v := range vs {
			size += len(k) + len(v)
		}
	}
	if size > maxUpgradeHeaders {
		upgradeRefusal(w, http.StatusRequestHeaderFieldsTooLarge, fmt.Sprintf("the request headers are %d bytes; at most %d are accepted", size, maxUpgradeHeaders))
		return
	}
	if r.Method != http.MethodGet || !websocket.IsWebSocketUpgrade(r) {
		upgradeRefusal(w, http.StatusBadRequest, "MQTT over WebSocket: "+WebSocketPath+" takes a GET with Upgrade: websocket")
		return
	}
	offered := websocket.Subprotocols(r)
	proto := ""
	for _, p := range offered {
		if slices.Contains(wsSubprotocols, p) {
			proto = p
			break
		}
	}
	if proto == "" {
		upgradeRefusal(w, http.StatusBadRequest, fmt.Sprintf("MQTT over WebSocket: Sec-WebSocket-Protocol must offer mqtt or mqttv3.1 (offered: %q)", offered))
		return
	}
	var identity any
	if ws.cfg.Authenticate != nil {
		var ok bool
		if identity, ok = ws.cfg.Authenticate(w, r); !ok {
			return
		}
	}
	ws.mu.Lock()
	establish, closing := ws.establish, ws.closing
	if !closing && establish != nil {
		ws.handlers.Add(1)
	}
	ws.mu.Unlock()
	if closing || establish == nil {
		upgradeRefusal(w, http.StatusServiceUnavailable, "the MQTT broker is not serving")
		return
	}
	defer ws.handlers.Done()

	up := ws.upgrader
	up.Subprotocols = []string{proto} // echo exactly the one chosen: clients check it
	wc, err := up.Upgrade(w, r, nil)
	if err != nil {
		ws.log.Debug("websocket upgrade failed", "remote", r.RemoteAddr, "error", err)
		return // the upgrader has answered
	}
	ws.serve(wc, r, identity, establish)
}

// serve runs the MQTT session of an upgraded connection inside mochi.
func (ws *WebSocket) serve(wc *websocket.Conn, r *http.Request, identity any, establish listeners.EstablishFn) {
	t := newTranscript(ws.cfg.ID, r.RemoteAddr, ws.log, ws.cfg.Transcripts)
	personality := PersonalityMQTTWS
	var state *tls.ConnectionState
	if r.TLS != nil {
		personality = PersonalityMQTTWSS
		st := *r.TLS
		state = &st
		t.setHello(st.ServerName, nil)
	}
	t.setPersonality(personality, false)
	if state != nil {
		t.setHandshake(state.NegotiatedProtocol, "", "", false)
	}
	stream := &wsStream{c: wc}
	c := &Conn{nc: stream, wsState: state, identity: identity, transcript: t,
		connectTimeout: ws.cfg.ConnectTimeout, ended: make(chan struct{}),
		guard:    newPacketGuard(ws.cfg.MaxConnectBytes, ws.cfg.MaxPacketBytes),
		stopping: func() bool { ws.mu.Lock(); defer ws.mu.Unlock(); return ws.closing }}

	ws.mu.Lock()
	if ws.closing {
		ws.mu.Unlock()
		t.Finish(OutcomeClosed, "listener closed before the MQTT session started")
		_ = stream.Close()
		return
	}
	ws.conns[c] = struct{}{}
	ws.mu.Unlock()
	defer func() {
		ws.mu.Lock()
		delete(ws.conns, c)
		ws.mu.Unlock()
	}()

	// The HTTP server's deadlines no longer apply; CONNECT must come within ConnectTimeout.
	_ = wc.UnderlyingConn().SetWriteDeadline(time.Time{})
	if err := wc.UnderlyingConn().SetReadDeadline(time.Now().Add(ws.cfg.ConnectTimeout)); err != nil {
		t.Finish(OutcomeClosed, fmt.Sprintf("setting the CONNECT deadline failed: %v", err))
		_ = c.Close()
		return
	}
	sessionErr := establish(ws.cfg.ID, c)
	c.end()
	_ = c.Close()
	if sessionErr != nil {
		t.finishUnlessClient(OutcomeClosedBeforeConnect, fmt.Sprintf("no MQTT CONNECT accepted: %v", sessionErr))
	} else {
		t.finishUnlessClient(OutcomeClosedBeforeConnect, "connection ended without an MQTT CONNECT")
	}
	t.Finish(OutcomeClosed, "connection closed")
	t.connectionEnded()
}

// errTextFrame ends a connection whose client sent a text frame: MQTT travels in binary frames.
var errTextFrame = errors.New("websocket: MQTT travels in binary frames; a text frame was received")

// wsStream is the byte stream of MQTT packets carried in WebSocket binary messages: a packet may
// span messages and a message may hold several packets.
type wsStream struct {
	c   *websocket.Conn
	r   io.Reader // the message being read, nil between messages
	wmu sync.Mutex
}

var _ net.Conn = (*wsStream)(nil)

func (s *wsStream) Read(p []byte) (int, error) {
	for {
		if s.r == nil {
			op, r, err := s.c.NextReader()
			if err != nil {
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					return 0, io.EOF
				}
				return 0, err
			}
			if op != websocket.BinaryMessage {
				return 0, errTextFrame
			}
			s.r = r
		}
		n, err := s.r.Read(p)
		if errors.Is(err, io.EOF) {
			s.r = nil
			if n == 0 {
				continue
			}
			return n, nil
		}
		return n, err
	}
}

// Write sends p as one binary message. mochi may write from more than one goroutine; gorilla
// allows one writer at a time.
func (s *wsStream) Write(p []byte) (int, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.c.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (s *wsStream) Close() error                      { return s.c.Close() }
func (s *wsStream) LocalAddr() net.Addr               { return s.c.LocalAddr() }
func (s *wsStream) RemoteAddr() net.Addr              { return s.c.RemoteAddr() }
func (s *wsStream) SetReadDeadline(t time.Time) error { return s.c.UnderlyingConn().SetReadDeadline(t) }
func (s *wsStream) SetWriteDeadline(t time.Time) error {
	return s.c.UnderlyingConn().SetWriteDeadline(t)
}
func (s *wsStream) SetDeadline(t time.Time) error {
	return errors.Join(s.SetReadDeadline(t), s.SetWriteDeadline(t))
}
