package listener

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// describeHandshakeFailure turns a failed server handshake into a transcript outcome and a
// detail a user can act on.
func describeHandshakeFailure(err error, timeout time.Duration, version uint16) (outcome, detail string) {
	var refusal *noApplicationProtocolError
	var opErr *net.OpError
	switch {
	case errors.As(err, &refusal):
		return OutcomeAlert, refusal.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return OutcomeTimeout, fmt.Sprintf("TLS handshake not completed within %s", timeout)
	case errors.Is(err, context.Canceled):
		return OutcomeClosed, "listener closed during the TLS handshake"
	case strings.Contains(err.Error(), "client didn't provide a certificate"):
		alert := "handshake_failure"
		if version == tls.VersionTLS13 {
			alert = "certificate_required"
		}
		return OutcomeAlert, fmt.Sprintf("handshake_failed: client certificate required: the client sent none (alert %s)", alert)
	case errors.As(err, &opErr) && opErr.Op == "remote error":
		alert := strings.TrimPrefix(opErr.Err.Error(), "tls: ")
		detail := fmt.Sprintf("handshake_failed: the client aborted with alert %q", alert)
		if strings.Contains(alert, "certificate") || strings.Contains(alert, "unknown ca") {
			detail += " (the client rejected the server certificate: does it trust the emulator's root CA?)"
		}
		return OutcomeAlert, detail
	case strings.Contains(err.Error(), "bad record MAC"):
		// A TLS 1.3 client that rejects the server certificate sends its alert in the clear
		// while the server already expects encrypted records: the server reads it as a record
		// that does not decrypt. Clients with a certificate configured that get no
		// CertificateRequest (s2n, in AWS's device SDKs) end the same way.
		return OutcomeAlert, "handshake_failed: bad record MAC: the client most likely rejected the server certificate (wrong CA file, or a host name the certificate does not name); a client set up with a certificate that was not asked for one can also end this way"
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return OutcomeAlert, "handshake_failed: the client closed the connection during the handshake"
	}
	return OutcomeAlert, "handshake_failed: " + err.Error()
}

// recordHandshake copies the result of a completed handshake into the transcript: the selected
// protocol, version and suite, the presented certificate's id and registry status, and the
// steps of the server's side (ServerHello, CertificateRequest, client certificate).
func (l *Listener) recordHandshake(t *Transcript, st tls.ConnectionState, p personality) {
	var certID, status string
	var known bool
	if len(st.PeerCertificates) > 0 {
		certID = certificateID(st.PeerCertificates[0].Raw)
		if l.cfg.CertificateStatus != nil {
			status, known = l.cfg.CertificateStatus(certID)
		}
	}
	t.setHandshake(st.NegotiatedProtocol, certID, status, known)
	t.setTLS(tls.VersionName(st.Version), cipherName(st.CipherSuite))
	if !t.keepsSteps() {
		return
	}
	// The details are made when the transcript is read, from copies of what they describe.
	version, suite, curve, alpn := st.Version, st.CipherSuite, st.CurveID, st.NegotiatedProtocol
	t.StepLazy(StepServerHello, func() string { return serverHelloText(version, suite, curve, alpn) })
	if p.clientAuth == tls.NoClientCert {
		return
	}
	t.Step(StepCertificateRequest, "the server asked for a client certificate (personality "+p.name+")")
	if len(st.PeerCertificates) > 0 {
		var thing string
		if known && l.cfg.CertificateThing != nil {
			thing = l.cfg.CertificateThing(certID)
		}
		c := certFactsOf(st.PeerCertificates[0])
		t.StepLazy(StepClientCertificate, func() string { return c.step(certID, status, known, thing) })
	}
}

// certificateID is AWS IoT's certificate id: the lowercase hex SHA-256 of the DER.
func certificateID(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}
