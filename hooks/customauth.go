package hooks

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/iotcore-local/iotcore-local/auth"
	"github.com/iotcore-local/iotcore-local/authorizers"
	"github.com/iotcore-local/iotcore-local/listener"
	"github.com/iotcore-local/iotcore-local/registry"
)

// Custom authentication at CONNECT: MQTT on 443 with ALPN mqtt (credentials in the username's
// query and the password), and MQTT over WebSocket whose upgrade was not signed with SigV4
// (credentials in the upgrade's headers or query, or in the username). The authorizer function's
// answer decides who the client is and which policies hold it; a refusal closes an MQTT 3.1.1
// connection without CONNACK and answers MQTT 5 with CONNACK 0x86 (bad user name or password),
// or 0x87 when the answer's policies do not allow iot:Connect.

// CustomAuthenticator runs custom authentication (*authorizers.Service implements it).
type CustomAuthenticator interface {
	Authenticate(ctx context.Context, req authorizers.Request) (authorizers.Answer, error)
}

// CustomAuthWebSocket is the identity of a WebSocket upgrade left to custom authentication: what
// the upgrade request carried, for the authorizer's event.
type CustomAuthWebSocket struct {
	Headers     map[string]string // request headers, first value of each, names as sent
	QueryString string            // the upgrade's raw query, with its leading "?" ("" for none)
}

// maxCustomAuthUsername bounds the username of a custom-auth CONNECT: an authorizer name, a
// 6144-character token and a 2560-character signature fit with room for SDK metrics.
const maxCustomAuthUsername = 16 << 10

// header returns the value of a header, matched case-insensitively.
func (ws *CustomAuthWebSocket) header(name string) (string, bool) {
	for k, v := range ws.Headers {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

// customAuthRequest gathers the custom-authentication parameters of a CONNECT: from the upgrade's
// headers, then its query, then the username's query.
func customAuthRequest(cl *mqtt.Client, pk packets.Packet, state tls.ConnectionState, ws *CustomAuthWebSocket) authorizers.Request {
	username := string(pk.Connect.Username)
	_, fromUser := authorizers.ParseUsername(username)
	var fromQuery authorizers.Params
	if ws != nil {
		fromQuery = authorizers.ParseQuery(strings.TrimPrefix(ws.QueryString, "?"))
	}
	pick := func(get func(authorizers.Params) string, header string) string {
		if ws != nil {
			if v, ok := ws.header(header); ok && v != "" {
				return v
			}
			if v := get(fromQuery); v != "" {
				return v
			}
		}
		return get(fromUser)
	}
	req := authorizers.Request{
		AuthorizerName: pick(func(p authorizers.Params) string { return p.AuthorizerName }, authorizers.KeyAuthorizerName),
		Signature:      pick(func(p authorizers.Params) string { return p.Signature }, authorizers.KeySignature),
		TokenFrom: func(key string) (string, bool) {
			if ws != nil {
				if v, ok := ws.header(key); ok {
					return v, true
				}
				if v, ok := fromQuery.Token(key); ok {
					return v, true
				}
			}
			return fromUser.Token(key)
		},
		ServerName:   state.ServerName,
		ConnectionID: uuid.NewString(),
		MQTT: &authorizers.MQTTContext{Username: username, Password: pk.Connect.Password,
			HasPassword: pk.Connect.PasswordFlag, ClientID: cl.ID},
	}
	if ws != nil {
		req.HTTP = &authorizers.HTTPContext{Headers: ws.Headers, QueryString: ws.QueryString}
	}
	if sig, err := url.PathUnescape(req.Signature); err == nil && strings.Contains(req.Signature, "%") {
		req.Signature = sig
	}
	return req
}

// connectCustom decides a CONNECT by custom authentication. Under a domain configuration whose
// authenticationType is CUSTOM_AUTH_X509 the connection also carries a client certificate: it
// must be registered and ACTIVE, the authorizer's event carries it, the answer's principalId must
// be its id, and the certificate's own policies hold the connection together with the answer's
// (thing policy variables included).
func (a *Authorizer) connectCustom(cl *mqtt.Client, pk packets.Packet, tr *listener.Transcript, state tls.ConnectionState, ws *CustomAuthWebSocket) error {
	if a.opts.CustomAuth == nil {
		return a.refuseCode(cl, tr, "custom authentication is not configured", packets.ErrBadUsernameOrPassword)
	}
	if n := len(pk.Connect.Username); n > maxCustomAuthUsername {
		return a.refuseCode(cl, tr, fmt.Sprintf("custom authentication: the username is %d bytes; at most %d are accepted", n, maxCustomAuthUsername), packets.ErrBadUsernameOrPassword)
	}
	req := customAuthRequest(cl, pk, state, ws)
	pol := &customPolicies{dir: a.opts.Directory, env: a.connectionEnv(cl, pk, state)}
	who := &principal{env: pol.env}
	if len(state.PeerCertificates) > 0 {
		peer := state.PeerCertificates[0]
		id := registry.CertificateID(peer.Raw)
		base := pol.env
		base.Certificate = peer
		resolved, _, err := resolvePrincipal(a.opts.Directory, id, cl.ID, base)
		if err != nil {
			return a.refuseCode(cl, tr, "CUSTOM_AUTH_X509: "+a.justInTime(peer, err), packets.ErrNotAuthorized)
		}
		who, pol.env, pol.certificateID = resolved, resolved.env, id
		req.ClientCertificate = &authorizers.ClientCertificate{ID: id,
			PEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: peer.Raw}))}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	ans, err := a.opts.CustomAuth.Authenticate(ctx, req)
	cancel()
	if err != nil {
		return a.refuseCode(cl, tr, err.Error(), packets.ErrBadUsernameOrPassword)
	}
	c, err := pol.compile(ans)
	if err != nil {
		return a.refuseCode(cl, tr, err.Error(), packets.ErrBadUsernameOrPassword)
	}
	if !c.Decide(auth.ActionConnect, "client", cl.ID).Allowed {
		return a.refuse(cl, tr, c.Explain(auth.ActionConnect, "client", cl.ID).Reason)
	}
	if reason, ok := a.willAllowed(cl, c); !ok {
		return a.refuse(cl, tr, reason)
	}
	if pol.certificateID == "" {
		who.identifier = ans.PrincipalID
	}
	who.recompile = pol.recompile
	s := &session{client: cl, who: who}
	s.policy.Store(c)
	a.sessions.put(s)
	unit := a.opts.CustomAuthSecond
	if unit <= 0 {
		unit = time.Second
	}
	if ans.DisconnectAfter > 0 {
		a.startLifetime(cl, time.Duration(ans.DisconnectAfter)*unit, "CUSTOMAUTH_TTL_EXPIRATION")
	}
	if ans.RefreshAfter > 0 {
		a.startRefresh(cl, s, req, pol, time.Duration(ans.RefreshAfter)*unit)
	}
	how := "MQTT on 443 (ALPN mqtt)"
	switch {
	case ws != nil:
		how = "WebSocket"
	case pol.certificateID != "":
		how = fmt.Sprintf("MQTT with certificate %s (CUSTOM_AUTH_X509)", pol.certificateID)
	}
	cached := ""
	if ans.Cached {
		cached = ", cached answer"
	}
	tr.Finish("ok", fmt.Sprintf("connected as client %q over %s, authenticated by custom authorizer %s as principal %s%s", cl.ID, how, ans.Authorizer, ans.PrincipalID, cached))
	return nil
}

// customPolicies is the policy set of a custom-auth connection: the latest answer's documents
// and, under CUSTOM_AUTH_X509, the policies in force for the client certificate, read again from
// the registry each time they are compiled (after a registry change, or a refresh).
type customPolicies struct {
	dir           Directory
	env           auth.Environment
	certificateID string // "" without a client certificate

	mu  sync.Mutex
	ans authorizers.Answer
}

// compile checks and compiles the answer's documents with the certificate's policies, and keeps
// the answer for recompile.
func (p *customPolicies) compile(ans authorizers.Answer) (*auth.Compiled, error) {
	policies := make([]registry.Policy, 0, len(ans.PolicyDocuments))
	for i, doc := range ans.PolicyDocuments {
		if _, err := auth.ParseDocument(doc); err != nil {
			return nil, fmt.Errorf("custom authorizer %s: policyDocuments[%d] is not a valid policy: %w", ans.Authorizer, i, err)
		}
		policies = append(policies, registry.Policy{Name: fmt.Sprintf("authorizer %s policyDocuments[%d]", ans.Authorizer, i), Document: doc})
	}
	if p.certificateID != "" {
		view, err := p.dir.CertificateIdentity(p.certificateID)
		if err != nil {
			return nil, fmt.Errorf("CUSTOM_AUTH_X509: certificate %s: %w", p.certificateID, err)
		}
		policies = append(policies, auth.PoliciesInForce(view, p.env.ThingName)...)
	}
	p.mu.Lock()
	p.ans = ans
	p.mu.Unlock()
	return auth.CompilePolicies(policies, p.env), nil
}

// recompile builds the policy set again from the last answer; a failure leaves no permission.
func (p *customPolicies) recompile() *auth.Compiled {
	p.mu.Lock()
	ans := p.ans
	p.mu.Unlock()
	c, err := p.compile(ans)
	if err != nil {
		return &auth.Compiled{}
	}
	return c
}

// startRefresh calls the authorizer again every period and replaces the connection's policies
// with the new answer's; a refusal or a failed call ends the connection (AUTH_ERROR).
func (a *Authorizer) startRefresh(cl *mqtt.Client, s *session, req authorizers.Request, pol *customPolicies, period time.Duration) {
	req.Refresh = true
	var t *time.Timer
	t = time.AfterFunc(period, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		ans, err := a.opts.CustomAuth.Authenticate(ctx, req)
		cancel()
		var c *auth.Compiled
		if err == nil {
			c, err = pol.compile(ans)
		}
		if err != nil {
			a.refreshers.Delete(cl)
			a.log.Warn("custom authorizer refresh refused; disconnecting", "client", cl.ID, "reason", err)
			cl.Stop(&OperationRefused{Reason: "custom authorizer refresh: " + err.Error()})
			return
		}
		s.policy.Store(c)
		a.log.Info("custom authorizer refreshed the policies", "client", cl.ID, "principal", ans.PrincipalID)
		if _, ok := a.refreshers.Load(cl); ok {
			t.Reset(period)
		}
	})
	if old, loaded := a.refreshers.Swap(cl, t); loaded {
		old.(*time.Timer).Stop()
	}
}

// refuseCode is refuse with the MQTT 5 CONNACK reason code given.
func (a *Authorizer) refuseCode(cl *mqtt.Client, tr *listener.Transcript, reason string, code packets.Code) error {
	a.log.Warn("connect refused", "client", cl.ID, "remote", cl.Net.Remote, "reason", reason)
	if tr != nil {
		tr.Finish("refused", reason)
	}
	if cl.Properties.ProtocolVersion == 5 && a.opts.Server != nil {
		_ = a.opts.Server.SendConnack(cl, code, false, nil)
	}
	if a.opts.OnRefused != nil {
		a.opts.OnRefused(cl)
	}
	return fmt.Errorf("%w: %s", errRefused, reason)
}
