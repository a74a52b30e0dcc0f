package api

import (
	"net/http"
	"strings"
)

// Paths served beside the AWS APIs on the same handler.
const (
	consolePath          = "/console/"
	connectionStreamPath = "/_iotcore/connections/stream"
)

// withExtras wraps the API with what does not fit its request/answer routes: the transcript
// stream (a long-lived response) and the web console.
func (s *server) withExtras() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case p == connectionStreamPath:
			s.serveConnectionStream(w, r)
		case s.cfg.Console != nil && (p == "/" || p == "/console") && (r.Method == http.MethodGet || r.Method == http.MethodHead):
			http.Redirect(w, r, consolePath, http.StatusFound)
		case s.cfg.Console != nil && strings.HasPrefix(p, consolePath):
			s.cfg.Console.ServeHTTP(w, r)
		default:
			s.ServeHTTP(w, r)
		}
	})
}
