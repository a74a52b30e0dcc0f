package api

import (
	"errors"
	"fmt"
	"strings"

	"github.com/iotcore-local/iotcore-local/auth"
)

// deleteConnection is DeleteConnection: DELETE /connections/{clientId}?cleanSession&
// preventWillMessage. It disconnects the live MQTT connection of the client ID (the lifecycle
// event says API_INITIATED_DISCONNECT), sends its will unless preventWillMessage, and keeps a
// persistent session unless cleanSession. A client ID starting with $ is refused as the
// model documents; a client that is not connected is a ResourceNotFoundException.
func (s *server) deleteConnection(c *call) (any, error) {
	clientID := c.vars["clientId"]
	if strings.HasPrefix(clientID, "$") {
		return nil, invalidRequest("clientId: %q starts with $, which client IDs cannot", clientID)
	}
	cleanSession, err := boolQuery(c, "cleanSession")
	if err != nil {
		return nil, err
	}
	preventWill, err := boolQuery(c, "preventWillMessage")
	if err != nil {
		return nil, err
	}
	if err := s.authorize(c, permission{actionDeleteConnection, auth.ResourceClient, clientID}); err != nil {
		return nil, err
	}
	b, err := s.broker()
	if err != nil {
		return nil, err
	}
	if err := b.DeleteConnection(clientID, cleanSession, preventWill); err != nil {
		if errors.Is(err, ErrNoSuchClient) {
			return nil, notFound("No connection found for client ID %s", clientID)
		}
		return nil, fmt.Errorf("delete connection %s: %w", clientID, err)
	}
	s.log.Info("api: connection deleted", "client", clientID, "clean_session", cleanSession,
		"prevent_will", preventWill, "caller", callerOf(c.r).describe())
	return emptyBody(), nil
}
