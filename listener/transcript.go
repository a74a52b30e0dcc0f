package listener

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Outcomes a transcript ends with. On MQTT connections the listener sets all but OutcomeOK (and
// whatever the hooks choose for refusals); the hooks own the outcome once SetClient was called.
// On HTTPS connections the listener sets OutcomeOK itself, at the hand-off to the HTTP server.
const (
	OutcomeOK                  = "ok"                    // MQTT: CONNECT accepted (hooks); HTTPS: handed to the HTTP server
	OutcomeAlert               = "alert"                 // the TLS handshake failed; the detail names the alert or the error
	OutcomeTimeout             = "timeout"               // the handshake or the first MQTT packet missed its deadline
	OutcomeClosedBeforeConnect = "closed before CONNECT" // the connection ended before an MQTT CONNECT was read
	OutcomeClosed              = "closed"                // the connection ended and nobody set another outcome
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
type Record struct {
	ID                  string    `json:"id"`
	Listener            string    `json:"listener"`
	Remote              string    `json:"remote"`
	SNI                 string    `json:"sni"`
	ALPNOffered         []string  `json:"alpnOffered"`
	ALPNSelected        string    `json:"alpnSelected"`
	Personality         string    `json:"personality"`
	ClientCertRequested bool      `json:"clientCertRequested"`
	CertificateID       string    `json:"certificateId"`
	CertificateKnown    bool      `json:"certificateKnown"`
	CertificateStatus   string    `json:"certificateStatus"`
	ClientID            string    `json:"clientId"`
	Outcome             string    `json:"outcome"`
	Detail              string    `json:"detail"`
	Started             time.Time `json:"started"`
	DurationMS          float64   `json:"durationMs"`
}

// Transcript is the record of one TLS connection: the listener fills in the handshake, the
// broker hooks add the client id and, once they have decided, the outcome. It is safe for
// concurrent use. The first Finish completes it: one log record and one entry in the ring.
type Transcript struct {
	log  *slog.Logger
	ring *Transcripts

	mu        sync.Mutex
	rec       Record
	started   time.Time // with the monotonic reading, for the duration
	clientSet bool
	finished  bool
}

// newTranscript starts the transcript of a connection accepted now.
func newTranscript(listenerID, remote string, log *slog.Logger, ring *Transcripts) *Transcript {
	now := time.Now()
	return &Transcript{
		log:     log,
		ring:    ring,
		started: now,
		rec:     Record{ID: newTranscriptID(), Listener: listenerID, Remote: remote, Started: now.Round(0)},
	}
}

// newTranscriptID is a short random hex id; unique enough to tell connections apart in logs.
func newTranscriptID() string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// SetClient records the MQTT client id once CONNECT is read. From then on the hooks own the
// outcome: the listener no longer decides timeout or closed-before-CONNECT for this connection.
func (t *Transcript) SetClient(clientID string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rec.ClientID = clientID
	t.clientSet = true
}

// Finish completes the transcript with an outcome and a human explanation. The first call wins;
// it logs the record ("tls connection", Info for ok, Warn otherwise) and adds it to the ring.
func (t *Transcript) Finish(outcome, detail string) {
	t.finish(outcome, detail, false)
}

// finishUnlessClient finishes only if SetClient was never called, deciding under the same lock
// so a concurrent SetClient cannot slip in between. It reports whether it finished.
func (t *Transcript) finishUnlessClient(outcome, detail string) bool {
	return t.finish(outcome, detail, true)
}

func (t *Transcript) finish(outcome, detail string, unlessClient bool) bool {
	t.mu.Lock()
	if t.finished || (unlessClient && t.clientSet) {
		t.mu.Unlock()
		return false
	}
	t.finished = true
	t.rec.Outcome, t.rec.Detail = outcome, detail
	t.rec.DurationMS = float64(time.Since(t.started)) / float64(time.Millisecond)
	rec := t.snapshotLocked()
	t.mu.Unlock()

	if t.log != nil {
		level := slog.LevelWarn
		if outcome == OutcomeOK {
			level = slog.LevelInfo
		}
		t.log.LogAttrs(context.Background(), level, "tls connection", rec.attrs()...)
	}
	if t.ring != nil {
		t.ring.add(rec)
	}
	return true
}

// Record returns a snapshot of the transcript; Outcome is empty while it is unfinished.
func (t *Transcript) Record() Record {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.snapshotLocked()
}

func (t *Transcript) snapshotLocked() Record {
	r := t.rec
	r.ALPNOffered = slices.Clone(r.ALPNOffered)
	if r.ALPNOffered == nil {
		r.ALPNOffered = []string{} // JSON [] rather than null when no ALPN was offered
	}
	return r
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

// setHandshake records the result of a completed handshake.
func (t *Transcript) setHandshake(alpnSelected, certID, status string, known bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rec.ALPNSelected = alpnSelected
	t.rec.CertificateID = certID
	t.rec.CertificateStatus = status
	t.rec.CertificateKnown = known
}

// attrs are the log attributes of a record: every field, under its JSON name.
func (r Record) attrs() []slog.Attr {
	return []slog.Attr{
		slog.String("id", r.ID),
		slog.String("listener", r.Listener),
		slog.String("remote", r.Remote),
		slog.String("sni", r.SNI),
		slog.Any("alpnOffered", r.ALPNOffered),
		slog.String("alpnSelected", r.ALPNSelected),
		slog.String("personality", r.Personality),
		slog.Bool("clientCertRequested", r.ClientCertRequested),
		slog.String("certificateId", r.CertificateID),
		slog.Bool("certificateKnown", r.CertificateKnown),
		slog.String("certificateStatus", r.CertificateStatus),
		slog.String("clientId", r.ClientID),
		slog.String("outcome", r.Outcome),
		slog.String("detail", r.Detail),
		slog.Time("started", r.Started),
		slog.Float64("durationMs", r.DurationMS),
	}
}

// Transcripts is a bounded in-memory ring of finished transcripts, safe for concurrent use. When
// full, the oldest record is dropped.
type Transcripts struct {
	mu   sync.Mutex
	buf  []Record
	next int  // where the next record goes
	full bool // buf has wrapped at least once
}

// NewTranscripts returns a ring holding the last capacity records (at least one).
func NewTranscripts(capacity int) *Transcripts {
	return &Transcripts{buf: make([]Record, max(capacity, 1))}
}

// Records returns copies of the held records, oldest first.
func (r *Transcripts) Records() []Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Record
	if r.full {
		out = make([]Record, 0, len(r.buf))
		out = append(out, r.buf[r.next:]...)
	} else {
		out = make([]Record, 0, r.next)
	}
	out = append(out, r.buf[:r.next]...)
	for i := range out {
		out[i].ALPNOffered = slices.Clone(out[i].ALPNOffered)
	}
	return out
}

// add stores a finished record, dropping the oldest when full.
func (r *Transcripts) add(rec Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf[r.next] = rec
	r.next++
	if r.next == len(r.buf) {
		r.next, r.full = 0, true
	}
}
