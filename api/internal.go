package api

import (
	"net/http"
)

// health is GET /health: 200 {"status":"ok"} once every listener is up, 503 {"status":"starting"}
// before, so scripts and compose health checks can wait on it.
func (s *server) health(*call) (any, error) {
	if s.cfg.Ready != nil && !s.cfg.Ready() {
		return rawResponse{status: http.StatusServiceUnavailable, contentType: "application/json", body: []byte(`{"status":"starting"}`)}, nil
	}
	return rawResponse{status: http.StatusOK, contentType: "application/json", body: []byte(`{"status":"ok"}`)}, nil
}

// rootCA is GET /_iotcore/root-ca.pem: the CA that signs the server certificate, the one clients
// must trust (AWS's equivalent is Amazon Root CA 1).
func (s *server) rootCA(*call) (any, error) {
	if len(s.cfg.RootCAPEM) == 0 {
		return nil, notFound("no root CA configured")
	}
	return rawResponse{status: http.StatusOK, contentType: "application/x-pem-file", body: s.cfg.RootCAPEM}, nil
}

// connections is GET /_iotcore/connections: the connection transcripts, oldest first, filtered
// by ?clientId=, ?certificateId=, ?outcome= and ?personality= (Transcripts); without a
// Transcripts store, what Connections reports, unfiltered; an empty list when nothing reports them.
func (s *server) connections(c *call) (any, error) {
	if err := unknownConnectionParam(c.r); err != nil {
		return nil, err
	}
	var v any
	switch {
	case s.cfg.Transcripts != nil:
		v = s.cfg.Transcripts.Records(connectionFilter(c.r))
	case s.cfg.Connections != nil:
		v = s.cfg.Connections()
	}
	if v == nil {
		return []any{}, nil
	}
	// Encode here so a transcript that cannot be encoded is reported as such.
	return encodeRecords(v)
}
