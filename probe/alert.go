package probe

import (
	"errors"
	"net"
	"reflect"
	"strings"
)

// Alert is a TLS alert the server sent: its number and RFC name.
type Alert struct {
	Code int    `json:"code"`
	Name string `json:"name"`
}

// alertNames are the TLS alert descriptions of RFC 8446 §6 and RFC 5246 §7.2, by number.
var alertNames = map[int]string{
	0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 21: "decryption_failed",
	22: "record_overflow", 30: "decompression_failure", 40: "handshake_failure", 42: "bad_certificate",
	43: "unsupported_certificate", 44: "certificate_revoked", 45: "certificate_expired",
	46: "certificate_unknown", 47: "illegal_parameter", 48: "unknown_ca", 49: "access_denied",
	50: "decode_error", 51: "decrypt_error", 60: "export_restriction", 70: "protocol_version",
	71: "insufficient_security", 80: "internal_error", 86: "inappropriate_fallback", 90: "user_canceled",
	100: "no_renegotiation", 109: "missing_extension", 110: "unsupported_extension",
	111: "certificate_unobtainable", 112: "unrecognized_name", 113: "bad_certificate_status_response",
	114: "bad_certificate_hash_value", 115: "unknown_psk_identity", 116: "certificate_required",
	120: "no_application_protocol", 121: "ech_required",
}

// alertMeanings explain, for the narrative, what a server alert usually means to a device.
var alertMeanings = map[int]string{
	40:  "the server found nothing it could agree to (no shared cipher suite or version, or a required client certificate was missing)",
	42:  "the server did not accept the client certificate",
	48:  "the server does not trust the client certificate's issuer",
	70:  "the server does not speak the offered TLS version",
	80:  "the server failed internally while choosing how to answer",
	112: "the server has no certificate for the requested SNI",
	116: "the server requires a client certificate and none was sent",
	120: "the server serves none of the offered ALPN protocols",
}

// remoteAlert extracts the alert the server sent from a crypto/tls error, if that is what the
// error is: crypto/tls reports it as a *net.OpError with Op "remote error" whose Err is the
// alert number (an unexported uint8 type).
func remoteAlert(err error) *Alert {
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "remote error" || op.Err == nil {
		return nil
	}
	v := reflect.ValueOf(op.Err)
	if v.Kind() != reflect.Uint8 {
		return nil
	}
	code := int(v.Uint())
	name, ok := alertNames[code]
	if !ok {
		name = strings.ReplaceAll(strings.TrimPrefix(op.Err.Error(), "tls: "), " ", "_")
	}
	return &Alert{Code: code, Name: name}
}
