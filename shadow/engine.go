package shadow

import "net/http"

// The engine: the pure operations on one shadow. They read a stored document and a request and
// return the next document and the response documents; the Service wraps each in one storage
// transaction.

// versionMemory is how long a deleted shadow's version is remembered (seconds): "If you create a
// device shadow document that has the same name as one that was deleted within the past 48 hours,
// the version number of the new device shadow document will follow that of the deleted one"
// (device-shadow-data-flow.md). After that the shadow starts afresh at version 1.
const versionMemory = 48 * 60 * 60

// document is one existing shadow: its sections and their metadata (nil when absent) and its
// version.
type document struct {
	Version      int64
	Desired      map[string]any
	Reported     map[string]any
	MetaDesired  map[string]any
	MetaReported map[string]any
}

// tombstone remembers a deleted shadow's version, so that a shadow recreated within 48 hours
// continues the numbering.
type tombstone struct {
	Version   int64
	DeletedAt int64 // epoch seconds
}

// updateOutcome is an accepted update: the new document and the response documents.
type updateOutcome struct {
	doc       *document
	accepted  []byte
	delta     []byte // nil when the new document has no delta
	documents []byte
}

// baseVersion is the version an update is checked against and continues from: the current
// version of an existing shadow; for a missing one, the version of the same shadow deleted within
// 48 hours, else 0 (so the first update makes version 1).
func baseVersion(cur *document, tomb *tombstone, now int64) int64 {
	switch {
	case cur != nil:
		return cur.Version
	case tomb != nil && now-tomb.DeletedAt <= versionMemory:
		return tomb.Version
	}
	return 0
}

// applyUpdate performs an update request on the shadow cur (nil when it does not exist; tomb is
// then its tombstone, if any). cur is modified in place. maxState is the limit on the merged
// desired+reported size.
//
// A request version must equal the base version (see baseVersion), also for a shadow that does not
// exist yet (0, or the deleted version): "the Device Shadow service processes the update only if
// the specified version matches the latest version it has"; a mismatch is 409 Version conflict.
func applyUpdate(cur *document, tomb *tombstone, req *updateRequest, now int64, maxState int) (*updateOutcome, *Error) {
	base := baseVersion(cur, tomb, now)
	if req.hasVersion && req.version != base {
		return nil, &Error{Code: http.StatusConflict, Message: msgVersionConflict}
	}
	// The previous document is encoded before the merge changes cur. A shadow that did not exist
	// has no previous document: /update/documents then omits "previous", as Greengrass does.
	var previous []byte
	if cur != nil {
		previous = encodeJSON(fullDoc(cur))
	} else {
		cur = &document{}
	}
	if req.state == nil {
		// "state": null clears both sections; the shadow stays, with a new version.
		cur.Desired, cur.MetaDesired, cur.Reported, cur.MetaReported = nil, nil, nil, nil
	} else {
		if req.hasDesired {
			cur.Desired, cur.MetaDesired = mergeSection(cur.Desired, cur.MetaDesired, req.desired, now)
		}
		if req.hasReported {
			cur.Reported, cur.MetaReported = mergeSection(cur.Reported, cur.MetaReported, req.reported, now)
		}
	}
	if stateSize(cur) > maxState {
		return nil, &Error{Code: http.StatusRequestEntityTooLarge, Message: msgTooLarge}
	}
	cur.Version = base + 1

	out := &updateOutcome{doc: cur}
	out.accepted = encodeJSON(acceptedDoc(req, cur.Version, now))
	if delta := computeDelta(cur.Desired, cur.Reported); delta != nil {
		out.delta = encodeJSON(deltaDoc(delta, metaAt(delta, cur.MetaDesired), cur.Version, now, req.hasToken, req.token))
	}
	out.documents = encodeJSON(documentsDoc(previous, encodeJSON(fullDoc(cur)), now, req.hasToken, req.token))
	return out, nil
}

// stateSize is the size that counts toward the state limit: the JSON text of desired plus that of
// reported, metadata excluded (diagnosing-shadows; Greengrass measures the same way).
func stateSize(d *document) int {
	n := 0
	if d.Desired != nil {
		n += len(encodeJSON(d.Desired))
	}
	if d.Reported != nil {
		n += len(encodeJSON(d.Reported))
	}
	return n
}

// getShadow answers a get request.
func getShadow(cur *document, key Key, now int64, hasToken bool, token string) ([]byte, *Error) {
	if cur == nil {
		return nil, notFound(key)
	}
	delta := computeDelta(cur.Desired, cur.Reported)
	return encodeJSON(getDoc(cur, delta, now, hasToken, token)), nil
}

// deleteShadow answers a delete request and returns the tombstone that replaces the shadow. The
// version is not incremented: /delete/accepted carries the version of the deleted document, as
// Greengrass and LocalStack answer.
func deleteShadow(cur *document, key Key, now int64, hasToken bool, token string) ([]byte, *tombstone, *Error) {
	if cur == nil {
		return nil, nil, notFound(key)
	}
	tomb := &tombstone{Version: cur.Version, DeletedAt: now}
	return encodeJSON(deleteDoc(cur.Version, now, hasToken, token)), tomb, nil
}

// notFound is the 404 of a missing shadow. For the classic shadow the name quoted is the thing
// name, as AWS answers.
func notFound(key Key) *Error {
	name := key.Name
	if name == "" {
		name = key.Thing
	}
	return newError(http.StatusNotFound, msgNoShadow, name)
}
