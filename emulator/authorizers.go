package emulator

import (
	"fmt"
	"net/http"
	"path/filepath"

	"github.com/iotcore-local/iotcore-local/authorizers"
	"github.com/iotcore-local/iotcore-local/hooks"
)

// openAuthorizers opens the custom authorizers' store; their functions are called through the
// emulator's functions client.
func (e *Emulator) openAuthorizers() (*authorizers.Service, error) {
	cache := e.cfg.AuthorizerCache == nil || *e.cfg.AuthorizerCache
	s, err := authorizers.Open(filepath.Join(e.cfg.DataDir, "authorizers.db"), authorizers.Options{
		Region: e.cfg.Region, Account: e.cfg.Account, Invoker: e.functions, Cache: cache,
		Logger: e.log.With("component", "authorizers"),
	})
	if err != nil {
		return nil, fmt.Errorf("open authorizers: %w", err)
	}
	return s, nil
}

// Authorizers is the custom authorizers service.
func (e *Emulator) Authorizers() *authorizers.Service { return e.authorizers }

// customAuthUpgrade is the identity of an unsigned WebSocket upgrade left to custom
// authentication at CONNECT, when any authorizer exists; the upgrade's headers and query go to
// the authorizer's event. It reports false when no authorizer exists (the upgrade then needs SigV4).
func (e *Emulator) customAuthUpgrade(r *http.Request) (*hooks.CustomAuthWebSocket, bool) {
	if e.authorizers == nil {
		return nil, false
	}
	if list, _, err := e.authorizers.List(authorizers.StatusActive, "", 1, true); err != nil || len(list) == 0 {
		return nil, false
	}
	headers := make(map[string]string, len(r.Header))
	for k, v := range r.Header {
		if len(v) > 0 {
			headers[k] = v[0]
		}
	}
	ws := &hooks.CustomAuthWebSocket{Headers: headers}
	if r.URL.RawQuery != "" {
		ws.QueryString = "?" + r.URL.RawQuery
	}
	return ws, true
}
