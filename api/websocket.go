package api

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// MQTT over WebSocket: the upgrade request (GET /mqtt) is signed with SigV4 for the service
// iotdevicegateway, in the query (presigned, what every AWS SDK and browser client sends) or in
// the Authorization header. The session token is accepted appended after signing (as every AWS
// SDK does) or signed. AWS refuses a bad signature, an unknown key or a stale date with 403
// ForbiddenException, and a malformed credential with 400 InvalidRequestException; the body is
// not parsed by any client, so the emulator's says what was wrong.

// WebSocketVerifier verifies the SigV4 signature of MQTT-over-WebSocket upgrades.
type WebSocketVerifier struct {
	// Credentials are the key pairs the emulator knows (access key id → secret). An unknown
	// key is refused.
	Credentials map[string]string
	// Region is the emulator's region; a signature scoped to another is refused.
	Region string
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Console is the web console's key pair (consolemqtt.go), verified like a key of
	// Credentials; nil for none.
	Console *ConsoleCredential
}

// WebSocketCaller is who signed an upgrade.
type WebSocketCaller struct {
	AccessKey     string
	SecurityToken string // X-Amz-Security-Token, "" when none was sent
}

// WebSocketRefusal is a refused upgrade, written as AWS answers it.
type WebSocketRefusal struct {
	Status  int
	Type    string // x-amzn-ErrorType, e.g. ForbiddenException
	Message string
}

func (e *WebSocketRefusal) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, e.Type, e.Message)
}

// Write answers the upgrade request with the refusal.
func (e *WebSocketRefusal) Write(w http.ResponseWriter) {
	var id [16]byte
	_, _ = rand.Read(id[:])
	trace := hex.EncodeToString(id[:])
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("x-amzn-RequestId", trace)
	h.Set("x-amzn-ErrorType", e.Type+":")
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Expose-Headers", "x-amzn-ErrorMessage,x-amzn-RequestId,x-amzn-ErrorType,Date")
	w.WriteHeader(e.Status)
	body, _ := json.Marshal(map[string]string{"message": e.Message, "traceId": trace})
	_, _ = w.Write(append(body, '\n'))
}

func wsForbidden(format string, args ...any) *WebSocketRefusal {
	return &WebSocketRefusal{Status: http.StatusForbidden, Type: "ForbiddenException", Message: "Forbidden: " + fmt.Sprintf(format, args...)}
}

// HasSigV4 reports whether the request carries a SigV4 signature (header or query), signed or
// not well-formed: a request without one goes to custom authentication.
func HasSigV4(r *http.Request) bool {
	sig, err := parseSigV4(r)
	return sig != nil || err != nil
}

// Verify checks the SigV4 signature of an upgrade request.
func (v WebSocketVerifier) Verify(r *http.Request) (WebSocketCaller, error) {
	sig, err := parseSigV4(r)
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.status == http.StatusForbidden {
			return WebSocketCaller{}, wsForbidden("%s", ae.message)
		}
		msg := err.Error()
		if errors.As(err, &ae) {
			msg = ae.message
		}
		return WebSocketCaller{}, &WebSocketRefusal{Status: http.StatusBadRequest, Type: "InvalidRequestException", Message: msg}
	}
	if sig == nil {
		return WebSocketCaller{}, wsForbidden("the upgrade request is not signed: sign it with SigV4 for the service iotdevicegateway (X-Amz-* query parameters or an Authorization header)")
	}
	who := WebSocketCaller{AccessKey: sig.accessKey, SecurityToken: sig.securityToken}
	if sig.service != "iotdevicegateway" && sig.service != "iotdata" {
		return who, wsForbidden("the signature is scoped to the service %q; MQTT over WebSocket is signed for iotdevicegateway", sig.service)
	}
	if v.Region != "" && sig.region != v.Region {
		return who, wsForbidden("the signature is scoped to the region %q; this endpoint serves %q", sig.region, v.Region)
	}
	secret, known := v.Credentials[sig.accessKey]
	if !known {
		secret, known = v.Console.secretFor(sig.accessKey)
	}
	if !known && strings.HasPrefix(sig.accessKey, consoleKeyPrefix) {
		return who, wsForbidden("the access key %s is unknown: it looks like a console key of an earlier start of the emulator (console keys live in memory); reload the console to get a new URL", sig.accessKey)
	}
	if !known {
		return who, wsForbidden("the access key %s is unknown: give it to the emulator with --credentials %s:SECRET or in the seed's credentials", sig.accessKey, sig.accessKey)
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	if err := sig.checkTime(now()); err != nil {
		return who, wsForbidden("%s", err.(*apiError).message)
	}
	if err := sig.verify(r, secret); err != nil {
		var ae *apiError
		if errors.As(err, &ae) {
			return who, wsForbidden("%s", ae.message)
		}
		return who, wsForbidden("%v", err)
	}
	return who, nil
}
