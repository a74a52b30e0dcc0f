package listener

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"
)

// Outcomes a transcript ends with. On MQTT connections the listener sets all but OutcomeOK (and
// whatever the hooks choose for refusals); the hooks own the outcome once SetClient was called.
// On HTTPS connections the listener sets OutcomeOK itself, at the hand-off to the HTTP server.
// An MQTT connection that was accepted keeps OutcomeOK while it is open and after a clean
// DISCONNECT; any other end replaces it with the lifecycle disconnect reason (Disconnected).
const (
	OutcomeOK                  = "ok"                    // MQTT: CONNECT accepted (hooks); HTTPS: handed to the HTTP server
	OutcomeAlert               = "alert"                 // the TLS handshake failed; the detail names the alert or the error
	OutcomeTimeout             = "timeout"               // the handshake or the first MQTT packet missed its deadline
	OutcomeClosedBeforeConnect = "closed before CONNECT" // the connection ended before an MQTT CONNECT was read
	OutcomeClosed              = "closed"                // the connection ended and nobody set another outcome
)

// maxSteps bounds the steps of one transcript: a connection refused over and over (MQTT 5
// keeps a connection open after a refused QoS 1 publish) cannot grow its record without end.
const maxSteps = 32

// Step is one event of a connection, in the order it happened.
type Step struct {
	At     time.Time `json:"at"`
	Step   string    `json:"step"`
	Detail string    `json:"detail"`
}

// Step names the listener and the hooks record. Other code may record steps of its own names
// with Transcript.Step.
const (
	StepTCPAccepted        = "tcp accepted"
	StepClientHello        = "ClientHello"
	StepTLSFault           = "tls fault"
	StepServerHello        = "ServerHello"
	StepAlert              = "alert"
	StepCertificateRequest = "CertificateRequest"
	StepClientCertificate  = "client certificate"
	StepHandshakeDone      = "handshake complete"
	StepHTTP               = "https"
	StepMQTTOnHTTPS        = "MQTT on HTTPS"
	StepConnect            = "CONNECT"
	StepConnectDecision    = "iot:Connect"
	StepRefused            = "refused"
	StepDisconnect         = "disconnect"
	StepClosed             = "closed"
)

// Record is a snapshot of one TLS connection's transcript, JSON-encodable.
//
// Personality is what the ClientHello was given (PersonalityMQTT, PersonalityHTTPS,
// PersonalityHTTPSX509), set as soon as it is chosen, so a handshake that then fails (no client
// certificate) still says which personality asked for one; it is "" when the ClientHello was
// refused (alert 120) or never completely read.
//
// An HTTPS transcript is finished "ok" by the listener as soon as the handshake is over and the
// connection is handed to the HTTP server: from then on each request is the HTTP layer's to
// explain (its status code and log), and a keep-alive connection shows up at once rather than
// when a client pool finally closes it. Later events on the connection do not change the record.
//
// Steps are the connection's events in order with their times; they are recorded only when the
// transcript is kept (Config.Transcripts set).
type Record struct {
	ID                  string    `json:"id"`
	Listener            string    `json:"listener"`
	Remote              string    `json:"remote"`
	SNI                 string    `json:"sni"`
	ALPNOffered         []string  `json:"alpnOffered"`
	ALPNSelected        string    `json:"alpnSelected"`
	TLSVersion          string    `json:"tlsVersion"`
	CipherSuite         string    `json:"cipherSuite"`
	Personality         string    `json:"personality"`
	ClientCertRequested bool      `json:"clientCertRequested"`
	CertificateID       string    `json:"certificateId"`
	CertificateKnown    bool      `json:"certificateKnown"`
	CertificateStatus   string    `json:"certificateStatus"`
	ClientID            string    `json:"clientId"`
	TLSFaults           []string  `json:"tlsFaults"`
	Open                bool      `json:"open"`
	Outcome             string    `json:"outcome"`
	Detail              string    `json:"detail"`
	Started             time.Time `json:"started"`
	DurationMS          float64   `json:"durationMs"`
	Steps               []Step    `json:"steps"`
}

// Transcript is the record of one TLS connection: the listener fills in the handshake, the
// broker hooks add the client id and, once they have decided, the outcome. It is safe for
// concurrent use, and every method is a no-op on a nil *Transcript, so code that may run
// outside a listener (tests, inline clients) can call it unconditionally. The first Finish
// completes the decision: one log record and one entry in the store; later steps (refusals,
// the disconnect) still update the stored record.
type Transcript struct {
	log   *slog.Logger
	store *Transcripts // nil: nothing is kept, and no step is recorded

	mu        sync.Mutex
	rec       Record
	lazy      []func() string // per step of rec.Steps: its detail, made on the first read; nil once made
	started   time.Time       // with the monotonic reading, for the duration
	clientSet bool
	finished  bool
	ended     bool // the connection has ended (MQTT) or was handed off (HTTPS)
	seq       uint64
}

// newTranscript starts the transcript of a connection accepted now.
func newTranscript(listenerID, remote string, log *slog.Logger, store *Transcripts) *Transcript {
	now := time.Now()
	t := &Transcript{
		log:     log,
		store:   store,
		started: now,
		rec:     Record{ID: newTranscriptID(), Listener: listenerID, Remote: remote, Started: now.Round(0), Open: true},
	}
	if store != nil {
		t.rec.Steps = make([]Step, 0, 8)
		t.rec.Steps = append(t.rec.Steps, Step{At: t.rec.Started, Step: StepTCPAccepted, Detail: "from " + remote + " on listener " + listenerID})
	}
	return t
}

// newTranscriptID is a short random hex id; unique enough to tell connections apart in logs.
func newTranscriptID() string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// id is the transcript's id, set when it was made and never changed.
func (t *Transcript) id() string { return t.rec.ID }

// TranscriptOf returns the transcript of a connection the listener handed over (a *Conn, or any
// connection with a Transcript method), or nil. Code that only has a net.Conn — a hook, a
// WebSocket personality, a custom authorizer — records a step with
// listener.TranscriptOf(conn).Step(name, detail).
func TranscriptOf(c net.Conn) *Transcript {
	if tc, ok := c.(interface{ Transcript() *Transcript }); ok {
		return tc.Transcript()
	}
	return nil
}

// Step appends an event to the transcript with the current time. It records nothing when the
// transcript is not kept, and at most maxSteps steps (the last one says so). Steps belong to
// connection events (handshake, CONNECT, refusals, the disconnect), never to every message.
func (t *Transcript) Step(step, detail string) {
	t.step(step, detail, nil)
}

// StepLazy is Step with a detail that is made when the transcript is first read (the API, the
// console, a log record), not on the connection's path: most transcripts of a busy fleet are
// never read. detail must give the same text whenever it is called, so it must capture values
// that do not change (not the connection, which keeps changing and would be kept alive).
func (t *Transcript) StepLazy(step string, detail func() string) {
	t.step(step, "", detail)
}

func (t *Transcript) step(step, detail string, lazy func() string) {
	if t == nil || t.store == nil {
		return
	}
	t.mu.Lock()
	t.addStepLocked(step, detail, lazy)
	notify := t.finished
	t.mu.Unlock()
	if notify {
		t.store.updated(t)
	}
}

func (t *Transcript) addStepLocked(step, detail string, lazy func() string) {
	if t.store == nil {
		return
	}
	switch n := len(t.rec.Steps); {
	case n > maxSteps:
		return
	case n == maxSteps:
		step, detail, lazy = "truncated", "later steps of this connection are not recorded", nil
	}
	if lazy != nil || t.lazy != nil {
		if t.lazy == nil {
			t.lazy = make([]func() string, len(t.rec.Steps), cap(t.rec.Steps))
		}
		t.lazy = append(t.lazy, lazy)
	}
	t.rec.Steps = append(t.rec.Steps, Step{At: time.Now().Round(0), Step: step, Detail: detail})
}

// detailsLocked makes the details of lazy steps; t.mu held.
func (t *Transcript) detailsLocked() {
	for i, f := range t.lazy {
		if f != nil {
			t.rec.Steps[i].Detail = f()
			t.lazy[i] = nil
		}
	}
	t.lazy = nil
}

// SetClient records the MQTT client id once CONNECT is read. From then on the hooks own the
// outcome: the listener no longer decides timeout or closed-before-CONNECT for this connection.
func (t *Transcript) SetClient(clientID string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rec.ClientID = clientID
	t.clientSet = true
}

// Finish completes the transcript with an outcome and a human explanation. The first call wins;
// it logs the record ("tls connection", Info for ok, Warn otherwise) and adds it to the store.
func (t *Transcript) Finish(outcome, detail string) {
	t.finish(outcome, detail, false)
}

// finishUnlessClient finishes only if SetClient was never called, deciding under the same lock
// so a concurrent SetClient cannot slip in between. It reports whether it finished.
func (t *Transcript) finishUnlessClient(outcome, detail string) bool {
	return t.finish(outcome, detail, true)
}

func (t *Transcript) finish(outcome, detail string, unlessClient bool) bool {
	if t == nil {
		return false
	}
	t.mu.Lock()
	if t.finished || (unlessClient && t.clientSet) {
		t.mu.Unlock()
		return false
	}
	t.finished = true
	t.rec.Outcome, t.rec.Detail = outcome, detail
	t.rec.DurationMS = float64(time.Since(t.started)) / float64(time.Millisecond)
	if outcome != OutcomeOK {
		// Only an accepted connection stays open in the record's sense; every other finish is
		// the end of the story.
		t.rec.Open = false
	}
	level := slog.LevelWarn
	if outcome == OutcomeOK {
		level = slog.LevelInfo
	}
	// The record is copied for the log only when the log takes it (a broker at level warn
	// skips every accepted connection's).
	logged := t.log != nil && t.log.Enabled(context.Background(), level)
	var rec Record
	if logged {
		rec = t.snapshotLocked()
	}
	clientID := t.rec.ClientID
	t.mu.Unlock()

	if logged {
		t.log.LogAttrs(context.Background(), level, "tls connection", rec.attrs()...)
	}
	if t.store != nil {
		t.store.add(t, clientID)
	}
	return true
}

// Disconnected records how an accepted MQTT connection ended, with AWS's lifecycle
// disconnectReason (CLIENT_INITIATED_DISCONNECT, AUTH_ERROR, DUPLICATE_CLIENTID, …) and a
// human explanation. The outcome stays "ok" after a clean DISCONNECT; any other reason becomes
// the outcome. An outcome other than ok (a refused CONNECT) is never replaced.
func (t *Transcript) Disconnected(reason, detail string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	text := reason
	if detail != "" {
		text += ": " + detail
	}
	t.addStepLocked(StepDisconnect, text, nil)
	if t.rec.Outcome == OutcomeOK && reason != "CLIENT_INITIATED_DISCONNECT" {
		t.rec.Outcome, t.rec.Detail = reason, text
	}
	t.endLocked()
	notify := t.finished
	t.mu.Unlock()
	if notify && t.store != nil {
		t.store.updated(t)
	}
}

// connectionEnded marks the connection closed once the listener has finished with it, with a
// closing step unless the hooks recorded the disconnect.
func (t *Transcript) connectionEnded() {
	t.mu.Lock()
	if t.ended {
		t.mu.Unlock()
		return
	}
	if n := len(t.rec.Steps); n == 0 || t.rec.Steps[n-1].Step != StepDisconnect {
		t.addStepLocked(StepClosed, "the connection is closed", nil)
	}
	t.endLocked()
	notify := t.finished
	t.mu.Unlock()
	if notify && t.store != nil {
		t.store.updated(t)
	}
}

// handedOff ends the record's story at the hand-off of an HTTPS connection to the HTTP server.
func (t *Transcript) handedOff() {
	t.mu.Lock()
	t.endLocked()
	t.mu.Unlock()
}

func (t *Transcript) endLocked() {
	t.ended = true
	t.rec.Open = false
	t.rec.DurationMS = float64(time.Since(t.started)) / float64(time.Millisecond)
}

// isOpen reports whether the connection is still open (for the store's eviction).
func (t *Transcript) isOpen() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.rec.Open
}

// Record returns a snapshot of the transcript; Outcome is empty while it is unfinished.
func (t *Transcript) Record() Record {
	if t == nil {
		return Record{}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.snapshotLocked()
}

func (t *Transcript) snapshotLocked() Record {
	t.detailsLocked()
	r := t.rec
	r.ALPNOffered = slices.Clone(r.ALPNOffered)
	if r.ALPNOffered == nil {
		r.ALPNOffered = []string{} // JSON [] rather than null when no ALPN was offered
	}
	r.TLSFaults = slices.Clone(r.TLSFaults)
	if r.TLSFaults == nil {
		r.TLSFaults = []string{}
	}
	r.Steps = slices.Clone(r.Steps)
	if r.Steps == nil {
		r.Steps = []Step{}
	}
	if r.Open {
		r.DurationMS = float64(time.Since(t.started)) / float64(time.Millisecond)
	}
	return r
}

// Personality returns the personality the ClientHello was given ("" before one was, and for a
// nil transcript).
func (t *Transcript) Personality() string {
	if t == nil {
		return ""
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.rec.Personality
}

// hasClient reports whether SetClient was called.
func (t *Transcript) hasClient() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.clientSet
}

// setHello records what the ClientHello asked for.
func (t *Transcript) setHello(sni string, offered []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rec.SNI = sni
	t.rec.ALPNOffered = slices.Clone(offered)
}

// setPersonality records the personality chosen for the ClientHello and whether it requests a
// client certificate.
func (t *Transcript) setPersonality(name string, certRequested bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rec.Personality = name
	t.rec.ClientCertRequested = certRequested
}

// setFaults records the TLS faults applied to the connection.
func (t *Transcript) setFaults(names []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rec.TLSFaults = names
}

// setHandshake records the result of a completed handshake.
func (t *Transcript) setHandshake(alpnSelected, certID, status string, known bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rec.ALPNSelected = alpnSelected
	t.rec.CertificateID = certID
	t.rec.CertificateStatus = status
	t.rec.CertificateKnown = known
}

// setTLS records the negotiated version and cipher suite.
func (t *Transcript) setTLS(version, cipher string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rec.TLSVersion = version
	t.rec.CipherSuite = cipher
}

// keepsSteps reports whether steps are recorded, so callers can skip building their details.
func (t *Transcript) keepsSteps() bool { return t != nil && t.store != nil }

// KeepsSteps reports whether steps are recorded, so callers can skip building their details.
func (t *Transcript) KeepsSteps() bool { return t.keepsSteps() }

// attrs are the log attributes of a record: every field but the steps, under its JSON name.
func (r Record) attrs() []slog.Attr {
	return []slog.Attr{
		slog.String("id", r.ID),
		slog.String("listener", r.Listener),
		slog.String("remote", r.Remote),
		slog.String("sni", r.SNI),
		slog.Any("alpnOffered", r.ALPNOffered),
		slog.String("alpnSelected", r.ALPNSelected),
		slog.String("tlsVersion", r.TLSVersion),
		slog.String("cipherSuite", r.CipherSuite),
		slog.String("personality", r.Personality),
		slog.Bool("clientCertRequested", r.ClientCertRequested),
		slog.String("certificateId", r.CertificateID),
		slog.Bool("certificateKnown", r.CertificateKnown),
		slog.String("certificateStatus", r.CertificateStatus),
		slog.String("clientId", r.ClientID),
		slog.Any("tlsFaults", r.TLSFaults),
		slog.Bool("open", r.Open),
		slog.String("outcome", r.Outcome),
		slog.String("detail", r.Detail),
		slog.Time("started", r.Started),
		slog.Float64("durationMs", r.DurationMS),
	}
}
