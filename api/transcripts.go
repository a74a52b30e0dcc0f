package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// ConnectionFilter selects transcripts: GET /_iotcore/connections?clientId=&certificateId=
// &outcome=&personality= (an empty field matches everything).
type ConnectionFilter struct {
	ClientID, CertificateID, Outcome, Personality string
}

// ConnectionLog is the emulator's store of connection transcripts.
type ConnectionLog interface {
	// Records returns the transcripts the filter selects, oldest first, JSON-encodable.
	Records(f ConnectionFilter) any
	// Subscribe streams each transcript the filter selects as it is kept or changes, as JSON;
	// stop ends the subscription and closes the channel.
	Subscribe(f ConnectionFilter) (updates <-chan []byte, stop func())
}

// TLSFault is one fault injection rule: the fault's name and whom it targets ("" for every
// connection, a listener id, or a host name / first label of the SNI).
type TLSFault struct {
	Name   string `json:"name"`
	Target string `json:"target"`
}

// TLSFaultSet is the emulator's TLS fault injection rules (/_iotcore/tls-faults).
type TLSFaultSet interface {
	List() []TLSFault
	Add(f TLSFault) error // a bad name or target is an error naming it
	Remove(f TLSFault) bool
	Clear()
}

// connectionFilter reads the filter from the query.
func connectionFilter(r *http.Request) ConnectionFilter {
	q := r.URL.Query()
	return ConnectionFilter{
		ClientID: q.Get("clientId"), CertificateID: q.Get("certificateId"),
		Outcome: q.Get("outcome"), Personality: q.Get("personality"),
	}
}

// unknownConnectionParam names a query parameter the connections routes do not know, so a typo
// (?clientid=) is an error rather than a silently unfiltered answer.
func unknownConnectionParam(r *http.Request) error {
	for k := range r.URL.Query() {
		switch k {
		case "clientId", "certificateId", "outcome", "personality":
		default:
			return invalidRequest("query parameter %q: unknown; filter with clientId, certificateId, outcome or personality", k)
		}
	}
	return nil
}

// streamHeartbeat is how often the stream sends a comment line, so that proxies and browsers
// keep an idle stream open and a gone client is noticed.
const streamHeartbeat = 15 * time.Second

// serveConnectionStream is GET /_iotcore/connections/stream: Server-Sent Events, one "record"
// event per transcript kept or changed, with the transcript's JSON as data. The stream ends
// when the client goes away or the server shuts down.
func (s *server) serveConnectionStream(w http.ResponseWriter, r *http.Request) {
	// The same method, Host/Origin and --sigv4-strict checks as GET /_iotcore/connections.
	if _, _, _, err := s.dispatchLocal(r, r.URL.EscapedPath()); err != nil {
		s.writeError(w, r, "ConnectionStream", asAPIError(err))
		return
	}
	if err := unknownConnectionParam(r); err != nil {
		writeAPIError(w, asAPIError(err))
		return
	}
	if s.cfg.Transcripts == nil {
		writeAPIError(w, notFound("no transcripts are kept"))
		return
	}
	rc := http.NewResponseController(w)
	updates, stop := s.cfg.Transcripts.Subscribe(connectionFilter(r))
	defer stop()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, ": iotcore-local connection transcripts\n\n")
	if err := rc.Flush(); err != nil {
		return
	}
	ctx := r.Context()
	if s.cfg.Done != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		go func() {
			select {
			case <-s.cfg.Done:
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	tick := time.NewTicker(streamHeartbeat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
		case data, ok := <-updates:
			if !ok {
				return
			}
			if _, err := fmt.Fprintf(w, "event: record\ndata: %s\n\n", data); err != nil {
				return
			}
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

// tlsFaults is GET /_iotcore/tls-faults: {"faults":[{"name","target"}]}.
func (s *server) tlsFaults(*call) (any, error) {
	if s.cfg.TLSFaults == nil {
		return nil, notFound("TLS fault injection is not available")
	}
	faults := s.cfg.TLSFaults.List()
	if faults == nil {
		faults = []TLSFault{}
	}
	return map[string]any{"faults": faults}, nil
}

// addTLSFault is POST /_iotcore/tls-faults with {"name": "expired", "target": "alpn"} or
// {"fault": "expired@alpn"}: the fault applies from the next handshake that matches.
func (s *server) addTLSFault(c *call) (any, error) {
	if s.cfg.TLSFaults == nil {
		return nil, notFound("TLS fault injection is not available")
	}
	var body struct {
		Fault  string `json:"fault"`
		Name   string `json:"name"`
		Target string `json:"target"`
	}
	if err := decodeBody(c.r, &body); err != nil {
		return nil, err
	}
	f, err := faultFromBody(body.Fault, body.Name, body.Target)
	if err != nil {
		return nil, err
	}
	if err := s.cfg.TLSFaults.Add(f); err != nil {
		return nil, invalidRequest("%v", err)
	}
	s.log.Info("api: tls fault added", "name", f.Name, "target", f.Target)
	return s.tlsFaults(c)
}

// deleteTLSFault is DELETE /_iotcore/tls-faults?fault=NAME[@TARGET] (one rule) or without
// ?fault (every rule).
func (s *server) deleteTLSFault(c *call) (any, error) {
	if s.cfg.TLSFaults == nil {
		return nil, notFound("TLS fault injection is not available")
	}
	spec := c.query("fault")
	if spec == "" {
		s.cfg.TLSFaults.Clear()
		return s.tlsFaults(c)
	}
	f, err := faultFromBody(spec, "", "")
	if err != nil {
		return nil, err
	}
	if !s.cfg.TLSFaults.Remove(f) {
		return nil, notFound("no TLS fault %s is set", spec)
	}
	return s.tlsFaults(c)
}

// faultFromBody reads a fault from "NAME[@TARGET]" or from separate fields.
func faultFromBody(spec, name, target string) (TLSFault, error) {
	switch {
	case spec != "" && name != "":
		return TLSFault{}, invalidRequest("fault: give either fault (NAME[@TARGET]) or name and target, not both")
	case spec != "":
		n, t, _ := strings.Cut(spec, "@")
		return TLSFault{Name: n, Target: t}, nil
	case name != "":
		return TLSFault{Name: name, Target: target}, nil
	}
	return TLSFault{}, invalidRequest("name: required (one of expired, wrong-name, untrusted-ca, max-fragment, weak-ciphers, tls12-only)")
}

// connectionStreamRoute is in the route table so that the stream is authorized like the other
// /_iotcore/ routes (dispatchLocal); withExtras serves the stream itself, so this never runs.
func (s *server) connectionStreamRoute(*call) (any, error) {
	return nil, invalidRequest("the connection stream is served as Server-Sent Events")
}

// encodeRecords encodes the connections answer, reporting an encoding failure as such.
func encodeRecords(v any) (any, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode connections: %w", err)
	}
	return rawResponse{status: http.StatusOK, contentType: "application/json", body: data}, nil
}
