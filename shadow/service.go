// Package shadow is the AWS IoT Device Shadow service of the emulator: the document engine
// (validation, merge, metadata, delta, versions) and its persistent store. It speaks neither MQTT
// nor HTTP: a caller hands it a request (a shadow, an operation, a payload) and gets back the
// answer (status and body, as the iot-data HTTP API returns them) and the MQTT publications the
// request causes. The MQTT service-topic hook and the iot-data HTTP API both call it, so a change
// made over HTTP reaches MQTT subscribers exactly as one made over MQTT.
//
// Where AWS's documentation leaves a rule open, the choice is explained beside the code and listed
// in testdata/shadow/README.md.
package shadow

import (
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/iotcore-local/iotcore-local/internal/dbfile"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/bbolt"
)

// Options configure a Service.
type Options struct {
	// Now is the clock of timestamps (epoch seconds) and of the 48-hour memory of deleted
	// versions; nil means time.Now.
	Now func() time.Time
	// MaxStateBytes limits desired+reported of the merged document; 0 means 8192, AWS's default.
	MaxStateBytes int
	// NoSync skips the fsync of each write: faster, but a machine crash may lose the last
	// writes. Meant for tests and CI, where the store is thrown away.
	NoSync bool
	// Logger receives the log; nil means slog.Default().
	Logger *slog.Logger
	// OnChange, when set, is called after each accepted update or delete of a shadow, outside
	// the store's transaction (fleet indexing follows shadows with it). It must be cheap.
	OnChange func(Key)
}

// openTimeout bounds the wait for the file lock, so a second process opening the same file fails
// with a clear error instead of hanging.
const openTimeout = 2 * time.Second

// Page sizes of ListNamed (ListNamedShadowsForThing): 1-100, default 25.
const (
	defaultListPage = 25
	maxListPage     = 100
)

// Service is the shadow service over one bbolt file. It is safe for concurrent use: writes run one
// transaction at a time, concurrent ones sharing a transaction and its fsync (commit.go), so
// concurrent updates of one shadow are serialised and each request version is checked against
// the stored one (including an earlier update of the same transaction).
type Service struct {
	db       *bbolt.DB
	now      func() time.Time
	maxState int
	log      *slog.Logger
	onChange func(Key)
	writer   *committer // every write transaction, group-committed (commit.go)
}

// Publication is one MQTT message a request causes.
type Publication struct {
	Topic   string
	Payload []byte
	// MQTTOnly marks the answer to the requester itself (…/rejected, get/accepted): published only
	// when the request came over MQTT. An HTTP caller gets that answer as the Result's Status and
	// Body instead, and publishes only the other publications (see Result.HTTPPublications).
	MQTTOnly bool
}

// Result is the answer to a request.
type Result struct {
	// Status is 200, or the error code (400, 404, 409, 413, 415, 500).
	Status int
	// Body is the accepted document, or the error document {"code","message","timestamp",
	// "clientToken"?}: the body of the iot-data HTTP response on success, and the payload of the
	// reply publication.
	Body []byte
	// Err is the refusal (nil on success). The iot-data HTTP API answers errors in AWS's HTTP
	// shape (x-amzn-ErrorType header and {"message":…}), not with the MQTT error document, so it
	// builds its answer from Err.Code and Err.Message.
	Err *Error
	// Publications are the messages to publish, in order. An accepted update gives
	// update/accepted, update/delta (when the document has a delta) and update/documents; an
	// accepted delete gives delete/accepted; an accepted get gives get/accepted (MQTTOnly); a
	// refusal gives {op}/rejected (MQTTOnly) when the shadow's names fit in a topic.
	Publications []Publication
}

// HTTPPublications returns the publications an HTTP request causes: all but the MQTT-only reply.
func (r Result) HTTPPublications() []Publication {
	var out []Publication
	for _, p := range r.Publications {
		if !p.MQTTOnly {
			out = append(out, p)
		}
	}
	return out
}

// Open opens (creating if needed) the shadow store at path.
func Open(path string, opts Options) (*Service, error) {
	if path == "" {
		return nil, errors.New("shadow: open: empty path")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxStateBytes <= 0 {
		opts.MaxStateBytes = DefaultMaxStateBytes
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("shadow: create folder of %s: %w", path, err)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: openTimeout, NoSync: opts.NoSync})
	if err != nil {
		return nil, fmt.Errorf("shadow: open %s%s: %w", path, dbfile.OpenHint(err), err)
	}
	if err := db.Update(initSchema); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("shadow: initialise %s: %w", path, err)
	}
	return &Service{db: db, now: opts.Now, maxState: opts.MaxStateBytes, log: opts.Logger, onChange: opts.OnChange,
		writer: newCommitter(db)}, nil
}

// Durable reports whether every write is fsynced before it is answered (Options.NoSync unset).
// Benchmarks read it to show that what they measured is the durable store.
func (s *Service) Durable() bool { return !s.db.NoSync }

// Close closes the store. Requests after Close fail with 500.
func (s *Service) Close() error {
	s.writer.close()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("shadow: close: %w", err)
	}
	return nil
}

// Handle runs the operation op (OpGet, OpUpdate or OpDelete, as returned by ParseTopic) on a
// shadow.
func (s *Service) Handle(key Key, op string, payload []byte) Result {
	switch op {
	case OpGet:
		return s.Get(key, payload)
	case OpUpdate:
		return s.Update(key, payload)
	case OpDelete:
		return s.Delete(key, payload)
	}
	return s.reject(key, op, newError(http.StatusBadRequest, "Unknown shadow operation '%s'", op), payload, s.now().Unix())
}

// Update creates or updates a shadow with a request state document.
func (s *Service) Update(key Key, payload []byte) Result {
	now := s.now().Unix()
	if e := key.validate(); e != nil {
		return s.reject(key, OpUpdate, e, payload, now)
	}
	req, e := parseUpdate(payload)
	if e != nil {
		return s.rejectWith(key, OpUpdate, e, req.hasToken, req.token, now)
	}
	var out *updateOutcome
	err := s.writer.update(func(tx *bbolt.Tx) error {
		cur, tomb, err := load(tx, key)
		if err != nil {
			return err
		}
		if out, e = applyUpdate(cur, tomb, req, now, s.maxState); e != nil {
			return nil // refused: nothing is written
		}
		return save(tx, key, out.doc)
	})
	if err != nil {
		s.log.Error("shadow update failed", "thing", key.Thing, "shadow", key.Name, "err", err)
		return s.rejectWith(key, OpUpdate, errInternal, req.hasToken, req.token, now)
	}
	if e != nil {
		return s.rejectWith(key, OpUpdate, e, req.hasToken, req.token, now)
	}
	s.log.Debug("shadow updated", "thing", key.Thing, "shadow", key.Name, "version", out.doc.Version,
		"delta", out.delta != nil)
	if s.onChange != nil {
		s.onChange(key)
	}
	pubs := make([]Publication, 0, 3)
	pubs = append(pubs, Publication{Topic: Topic(key, "update/accepted"), Payload: out.accepted})
	if out.delta != nil {
		pubs = append(pubs, Publication{Topic: Topic(key, "update/delta"), Payload: out.delta})
	}
	pubs = append(pubs, Publication{Topic: Topic(key, "update/documents"), Payload: out.documents})
	return Result{Status: http.StatusOK, Body: out.accepted, Publications: pubs}
}

// Get returns a shadow's document, with its delta. The payload may be empty or carry a
// clientToken.
func (s *Service) Get(key Key, payload []byte) Result {
	now := s.now().Unix()
	if e := key.validate(); e != nil {
		return s.reject(key, OpGet, e, payload, now)
	}
	token, hasToken, e := parseToken(payload)
	if e != nil {
		return s.rejectWith(key, OpGet, e, false, "", now)
	}
	var body []byte
	err := s.db.View(func(tx *bbolt.Tx) error {
		cur, _, err := load(tx, key)
		if err != nil {
			return err
		}
		body, e = getShadow(cur, key, now, hasToken, token)
		return nil
	})
	if err != nil {
		s.log.Error("shadow get failed", "thing", key.Thing, "shadow", key.Name, "err", err)
		return s.rejectWith(key, OpGet, errInternal, hasToken, token, now)
	}
	if e != nil {
		return s.rejectWith(key, OpGet, e, hasToken, token, now)
	}
	return Result{Status: http.StatusOK, Body: body, Publications: []Publication{
		{Topic: Topic(key, "get/accepted"), Payload: body, MQTTOnly: true},
	}}
}

// Delete deletes a shadow. Its version is remembered for 48 hours: a shadow recreated in that
// time continues the numbering. The payload may be empty or carry a clientToken.
func (s *Service) Delete(key Key, payload []byte) Result {
	now := s.now().Unix()
	if e := key.validate(); e != nil {
		return s.reject(key, OpDelete, e, payload, now)
	}
	token, hasToken, e := parseToken(payload)
	if e != nil {
		return s.rejectWith(key, OpDelete, e, false, "", now)
	}
	var body []byte
	err := s.writer.update(func(tx *bbolt.Tx) error {
		cur, _, err := load(tx, key)
		if err != nil {
			return err
		}
		var tomb *tombstone
		if body, tomb, e = deleteShadow(cur, key, now, hasToken, token); e != nil {
			return nil
		}
		return bury(tx, key, tomb)
	})
	if err != nil {
		s.log.Error("shadow delete failed", "thing", key.Thing, "shadow", key.Name, "err", err)
		return s.rejectWith(key, OpDelete, errInternal, hasToken, token, now)
	}
	if e != nil {
		return s.rejectWith(key, OpDelete, e, hasToken, token, now)
	}
	s.log.Debug("shadow deleted", "thing", key.Thing, "shadow", key.Name)
	if s.onChange != nil {
		s.onChange(key)
	}
	return Result{Status: http.StatusOK, Body: body, Publications: []Publication{
		{Topic: Topic(key, "delete/accepted"), Payload: body},
	}}
}

// ListNamed lists the names of a thing's named shadows in name order, pageSize at a time (0 means
// 25; at most 100), from the page that nextToken (returned by the previous call; "" for the first)
// designates. next is "" on the last page. The classic shadow and deleted shadows are not listed;
// an unknown thing has an empty list. Invalid arguments give an *Error with code 400.
func (s *Service) ListNamed(thing string, nextToken string, pageSize int) (names []string, next string, err error) {
	if e := (Key{Thing: thing}).validate(); e != nil {
		return nil, "", e
	}
	switch {
	case pageSize == 0:
		pageSize = defaultListPage
	case pageSize < 0 || pageSize > maxListPage:
		return nil, "", newError(http.StatusBadRequest, "Invalid pageSize %d: it must be between 1 and %d", pageSize, maxListPage)
	}
	after := ""
	if nextToken != "" {
		raw, derr := base64.RawURLEncoding.DecodeString(nextToken)
		if derr != nil || !validName(string(raw), maxShadowName, true) {
			return nil, "", newError(http.StatusBadRequest, "Invalid nextToken: it was not returned by this operation")
		}
		after = string(raw)
	}
	var more bool
	err = s.db.View(func(tx *bbolt.Tx) error {
		names, more = namedShadows(tx, thing, after, pageSize)
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("shadow: list named shadows of %q: %w", thing, err)
	}
	if more {
		next = base64.RawURLEncoding.EncodeToString([]byte(names[len(names)-1]))
	}
	return names, next, nil
}

// reject answers a request refused before its payload was examined, echoing the payload's
// clientToken when it has a valid one.
func (s *Service) reject(key Key, op string, e *Error, payload []byte, now int64) Result {
	token, has := peekToken(payload)
	return s.rejectWith(key, op, e, has, token, now)
}

// rejectWith builds the error answer and its /rejected publication.
func (s *Service) rejectWith(key Key, op string, e *Error, hasToken bool, token string, now int64) Result {
	s.log.Debug("shadow request refused", "thing", key.Thing, "shadow", key.Name, "op", op,
		"code", e.Code, "message", e.Message)
	body := encodeJSON(errorDoc(e, now, hasToken, token))
	r := Result{Status: e.Code, Body: body, Err: e}
	if key.topicSafe() && (op == OpGet || op == OpUpdate || op == OpDelete) {
		r.Publications = []Publication{{Topic: Topic(key, op+"/rejected"), Payload: body, MQTTOnly: true}}
	}
	return r
}
