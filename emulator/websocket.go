package emulator

import (
	"fmt"
	"net/http"

	"github.com/iotcore-local/iotcore-local/api"
	"github.com/iotcore-local/iotcore-local/auth"
	"github.com/iotcore-local/iotcore-local/hooks"
	"github.com/iotcore-local/iotcore-local/listener"
	"github.com/iotcore-local/iotcore-local/registry"
)

// CredentialIdentity is what an access key is besides its secret: the IAM-style policy it is
// held to and the Cognito identity it belongs to. A key with neither is allowed everything.
type CredentialIdentity struct {
	Policy            string // an IAM-style policy document with iot: actions; "" for none
	CognitoIdentityID string // REGION:UUID; the IoT policies attached to it must allow too
}

// newWebSocket builds the mochi listener of MQTT over WebSocket, served at /mqtt on the ALPN
// port's HTTPS personality and on the API address.
func (e *Emulator) newWebSocket() *listener.WebSocket {
	return listener.NewWebSocket(listener.WebSocketConfig{
		ID:             "ws",
		Authenticate:   e.authenticateWebSocket,
		ConnectTimeout: e.cfg.ConnectTimeout,
		Transcripts:    e.transcripts,
		MaxPacketBytes: e.cfg.MaxPacketSize,
		CloseClients:   e.closeListenerClients,
		Logger:         e.log.With("component", "websocket"),
	})
}

// authenticateWebSocket decides an upgrade request: a SigV4 signature by a known key, the key's
// identity then carried by the connection to the hooks; or, unsigned while custom authorizers
// exist, custom authentication at CONNECT (AWS documents the upgrade going through before the
// authorizer runs: the event carries the MQTT client id).
func (e *Emulator) authenticateWebSocket(w http.ResponseWriter, r *http.Request) (any, bool) {
	if !api.HasSigV4(r) {
		if id, ok := e.customAuthUpgrade(r); ok {
			return id, true
		}
	}
	v := api.WebSocketVerifier{Credentials: e.cfg.Credentials, Region: e.cfg.Region, Console: e.consoleCred}
	who, err := v.Verify(r)
	if err != nil {
		refusal, ok := err.(*api.WebSocketRefusal)
		if !ok {
			refusal = &api.WebSocketRefusal{Status: http.StatusForbidden, Type: "ForbiddenException", Message: err.Error()}
		}
		e.log.Warn("websocket upgrade refused", "remote", r.RemoteAddr, "access_key", who.AccessKey, "status", refusal.Status, "error_type", refusal.Type, "reason", refusal.Message)
		refusal.Write(w)
		return nil, false
	}
	id := e.cfg.CredentialIdentities[who.AccessKey]
	return hooks.SigV4Identity{AccessKey: who.AccessKey, IdentityID: id.CognitoIdentityID, Policy: id.Policy}, true
}

// withWebSocket routes GET /mqtt to MQTT over WebSocket and everything else to next.
func withWebSocket(ws http.Handler, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == listener.WebSocketPath {
			ws.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// checkCredentialIdentities validates the policies and identity ids given to access keys.
func checkCredentialIdentities(ids map[string]CredentialIdentity) []error {
	var errs []error
	for key, id := range ids {
		if id.Policy != "" {
			if _, err := auth.ParseDocument(id.Policy); err != nil {
				errs = append(errs, fmt.Errorf("credentials %s: policy: %w", key, err))
			}
		}
		if id.CognitoIdentityID != "" && !isCognitoID(id.CognitoIdentityID) {
			errs = append(errs, fmt.Errorf("credentials %s: cognitoIdentityId %q is not REGION:UUID", key, id.CognitoIdentityID))
		}
	}
	return errs
}

// isCognitoID reports whether s is a Cognito identity id (REGION:UUID).
func isCognitoID(s string) bool { return registry.IsCognitoIdentityID(s) }
