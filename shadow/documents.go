package shadow

// The response documents. Key names are those of AWS's documents (confirmed by the generated
// shapes of the AWS IoT Device SDK v2); envelope keys follow the order of AWS's examples, members
// of state and metadata are sorted. Sections that are absent are omitted, never written as null or
// {} (device-shadow-document.md "Empty sections").

// withToken appends the clientToken member when the request had one: every response echoes it.
func withToken(o obj, has bool, token string) obj {
	if has {
		o = append(o, member{"clientToken", token})
	}
	return o
}

// sections returns an object of the present sections among desired and reported.
func sections(desired, reported map[string]any) obj {
	o := make(obj, 0, 2)
	if desired != nil {
		o = append(o, member{"desired", desired})
	}
	if reported != nil {
		o = append(o, member{"reported", reported})
	}
	return o
}

// acceptedDoc is /update/accepted and the UpdateThingShadow response: the request's state exactly
// as sent (nulls included), the metadata of exactly the fields sent, the new version. For
// "state": null AWS answers "state":null,"metadata":{"timestamp":T} (moto issue #9237, a capture of
// real AWS), which metaFor gives.
func acceptedDoc(req *updateRequest, version, now int64) obj {
	var meta any
	if req.state == nil {
		meta = leafMeta(now)
	} else {
		m := make(obj, 0, 2)
		if req.hasDesired {
			m = append(m, member{"desired", metaFor(req.desired, now)})
		}
		if req.hasReported {
			m = append(m, member{"reported", metaFor(req.reported, now)})
		}
		meta = m
	}
	return withToken(obj{
		{"state", req.state},
		{"metadata", meta},
		{"version", version},
		{"timestamp", now},
	}, req.hasToken, req.token)
}

// deltaDoc is /update/delta: the delta with no desired wrapper, and the desired metadata of the
// delta's fields. The clientToken is that of the update that caused it.
func deltaDoc(delta map[string]any, meta any, version, now int64, hasToken bool, token string) obj {
	return withToken(obj{
		{"version", version},
		{"timestamp", now},
		{"state", delta},
		{"metadata", meta},
	}, hasToken, token)
}

// fullDoc is a stored document as /update/documents shows it: state and metadata (desired and
// reported only, no delta) and version.
func fullDoc(d *document) obj {
	return obj{
		{"state", sections(d.Desired, d.Reported)},
		{"metadata", sections(d.MetaDesired, d.MetaReported)},
		{"version", d.Version},
	}
}

// documentsDoc is /update/documents: the document before and after an accepted update. previous is
// nil when the update created the shadow, and then omitted (Greengrass does the same; AWS does not
// document this case).
func documentsDoc(previous, current []byte, now int64, hasToken bool, token string) obj {
	o := make(obj, 0, 4)
	if previous != nil {
		o = append(o, member{"previous", rawJSON(previous)})
	}
	o = append(o, member{"current", rawJSON(current)}, member{"timestamp", now})
	return withToken(o, hasToken, token)
}

// getDoc is /get/accepted and the GetThingShadow response. The state holds the delta when there
// is one; metadata has desired and reported only (the AWS IoT Device SDK's ShadowMetadata shape).
func getDoc(d *document, delta map[string]any, now int64, hasToken bool, token string) obj {
	state := sections(d.Desired, d.Reported)
	if delta != nil {
		state = append(state, member{"delta", delta})
	}
	return withToken(obj{
		{"state", state},
		{"metadata", sections(d.MetaDesired, d.MetaReported)},
		{"version", d.Version},
		{"timestamp", now},
	}, hasToken, token)
}

// deleteDoc is /delete/accepted and the DeleteThingShadow response.
func deleteDoc(version, now int64, hasToken bool, token string) obj {
	return withToken(obj{{"version", version}, {"timestamp", now}}, hasToken, token)
}

// errorDoc is the /rejected document and the body of an error answer.
func errorDoc(e *Error, now int64, hasToken bool, token string) obj {
	return withToken(obj{
		{"code", e.Code},
		{"message", e.Message},
		{"timestamp", now},
	}, hasToken, token)
}
