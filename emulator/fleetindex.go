package emulator

import (
	"fmt"

	"github.com/iotcore-local/iotcore-local/api"
	"github.com/iotcore-local/iotcore-local/hooks"
	"github.com/iotcore-local/iotcore-local/index"
	"github.com/iotcore-local/iotcore-local/shadow"
)

// openIndex opens fleet indexing over the registry and the shadow store, and the store of the
// credentials provider's temporary keys.
func (e *Emulator) openIndex() error {
	x, err := index.New(index.Options{Registry: e.registry, Shadows: e.shadows, Logger: e.log.With("component", "index")})
	if err != nil {
		return fmt.Errorf("open fleet index: %w", err)
	}
	e.index = x
	e.tempCreds = api.NewTemporaryCredentials(e.cfg.Now)
	return nil
}

// shadowChanged tells fleet indexing about an accepted shadow update or delete. The shadow
// store is opened before the index, and no shadow changes before Start returns.
func (e *Emulator) shadowChanged(k shadow.Key) {
	if x := e.index; x != nil {
		x.ShadowChanged(k)
	}
}

// presenceChanged tells fleet indexing about a connect or disconnect.
func (e *Emulator) presenceChanged(p hooks.Presence) {
	e.index.PresenceChanged(index.Presence{ClientID: p.ClientID, Connected: p.Connected, Timestamp: p.Timestamp,
		DisconnectReason: p.DisconnectReason, Version: p.Version})
}
