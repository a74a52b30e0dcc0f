package authorizers

import (
	"context"
	"errors"
)

// TestInput is TestInvokeAuthorizer's request.
type TestInput struct {
	Token          string
	TokenSignature string
	HTTP           *HTTPContext
	MQTT           *MQTTContext
	ServerName     string
}

// TestInvoke is TestInvokeAuthorizer: the named authorizer (whatever its status) is called with
// the event built from the inputs, without cache. A token signature that does not verify is an
// InvalidRequestException; an answer that breaks AWS's rules, or a function that fails, is an
// InvalidResponseException. The answer is returned even when isAuthenticated is false.
func (s *Service) TestInvoke(ctx context.Context, name string, in TestInput) (Answer, error) {
	a, err := s.Describe(name)
	if err != nil {
		return Answer{}, err
	}
	s.mu.RLock()
	keys := s.keys[name]
	s.mu.RUnlock()
	verified := false
	if !a.SigningDisabled {
		if in.Token == "" || in.TokenSignature == "" {
			return Answer{}, newError(ErrInvalidRequest, "token and tokenSignature are required: the authorizer %s has signing enabled", name)
		}
		if err := verifyToken(keys, in.Token, in.TokenSignature); err != nil {
			return Answer{}, newError(ErrInvalidRequest, "tokenSignature: %v", err)
		}
		verified = true
	}
	req := Request{HTTP: in.HTTP, MQTT: in.MQTT, ServerName: in.ServerName}
	ev := buildEvent(req, in.Token, in.Token != "", verified)
	payload, err := jsonMarshal(ev)
	if err != nil {
		return Answer{}, err
	}
	ans, err := s.invoke(ctx, &a, payload)
	if err != nil {
		var r *Refusal
		if errors.As(err, &r) {
			return Answer{}, newError(ErrInvalidResponse, "%s", r.Detail)
		}
		return Answer{}, err
	}
	return ans, nil
}
