package api

import (
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/iotcore-local/iotcore-local/auth"
	"github.com/iotcore-local/iotcore-local/authorizers"
	"github.com/iotcore-local/iotcore-local/registry"
)

// HTTPS publish with custom authentication: an unsigned POST /topics/{topic} that names an
// authorizer (x-amz-customauthorizer-name header or query parameter), or carries the default
// authorizer's token key, is authenticated by the authorizer function; the answer's policies
// decide iot:Publish. AWS supports custom authentication over HTTPS for publish only. A refusal
// is 403 ForbiddenException.

// customAuthCaller authenticates r by custom authentication. It reports false when the request
// asks for none. On a connection whose domain configuration is CUSTOM_AUTH_X509 every request is
// custom-authenticated, with the client certificate (see customAuthX509).
func (s *server) customAuthCaller(r *http.Request) (caller, bool, error) {
	svc := s.cfg.Authorizers
	if svc == nil || r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, "/topics/") {
		return caller{}, false, nil
	}
	var cert *x509.Certificate
	if s.cfg.CustomAuthX509 != nil && r.TLS != nil && len(r.TLS.PeerCertificates) > 0 && s.cfg.CustomAuthX509(r) {
		cert = r.TLS.PeerCertificates[0]
	}
	query := authorizers.ParseQuery(r.URL.RawQuery)
	name := r.Header.Get(authorizers.KeyAuthorizerName)
	if name == "" {
		name = query.AuthorizerName
	}
	tokenFrom := func(key string) (string, bool) {
		if v := r.Header.Values(key); len(v) > 0 {
			return v[0], true
		}
		return query.Token(key)
	}
	if name == "" && cert == nil {
		def, err := svc.DescribeDefault()
		if err != nil || def.TokenKeyName == "" {
			return caller{}, false, nil
		}
		if _, ok := tokenFrom(def.TokenKeyName); !ok {
			return caller{}, false, nil
		}
	}
	sig := r.Header.Get(authorizers.KeySignature)
	if sig == "" {
		sig = query.Signature
	}
	headers := make(map[string]string, len(r.Header))
	for k, v := range r.Header {
		headers[k] = v[0]
	}
	req := authorizers.Request{AuthorizerName: name, Signature: sig, TokenFrom: tokenFrom, HTTPRequest: true,
		HTTP: &authorizers.HTTPContext{Headers: headers}, ConnectionID: uuid.NewString()}
	if r.URL.RawQuery != "" {
		req.HTTP.QueryString = "?" + r.URL.RawQuery
	}
	env := auth.Environment{Partition: "aws", Region: s.cfg.Region, Account: s.cfg.Account,
		SourceIP: remoteAddr(r.RemoteAddr), DomainName: s.cfg.Endpoint}
	if r.TLS != nil && r.TLS.ServerName != "" {
		req.ServerName = r.TLS.ServerName
		env.DomainName = r.TLS.ServerName
	}
	var certPolicies []registry.Policy
	if cert != nil {
		id := registry.CertificateID(cert.Raw)
		view, err := s.activeCertificate(id)
		if err != nil {
			return caller{}, true, err
		}
		env = auth.BindThing(view, "", env, s.reg.DescribeThing)
		env.Certificate = cert
		certPolicies = auth.PoliciesInForce(view, env.ThingName)
		req.ClientCertificate = &authorizers.ClientCertificate{ID: id,
			PEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))}
	}
	authenticate := svc.Authenticate
	if s.cfg.CustomAuth != nil {
		authenticate = s.cfg.CustomAuth
	}
	ans, err := authenticate(r.Context(), req)
	if err != nil {
		s.log.Warn("api: custom authentication refused", "path", r.URL.Path, "reason", err)
		return caller{}, true, forbidden("%v", err)
	}
	policies := make([]registry.Policy, 0, len(ans.PolicyDocuments)+len(certPolicies))
	for i, doc := range ans.PolicyDocuments {
		if _, err := auth.ParseDocument(doc); err != nil {
			return caller{}, true, forbidden("custom authorizer %s: policyDocuments[%d] is not a valid policy: %v", ans.Authorizer, i, err)
		}
		policies = append(policies, registry.Policy{Name: "authorizer " + ans.Authorizer, Document: doc})
	}
	policies = append(policies, certPolicies...)
	return caller{kind: callerCustomAuth, principal: ans.PrincipalID, policies: auth.CompilePolicies(policies, env)}, true, nil
}

// authorizeCustom decides the permissions of a custom-auth caller with its answer's policies.
func (s *server) authorizeCustom(who caller, perms []permission) error {
	for _, p := range perms {
		if who.policies.Decide(p.action, p.resourceType, p.name).Allowed {
			continue
		}
		reason := who.policies.Explain(p.action, p.resourceType, p.name).Reason
		s.log.Warn("api: data-plane request refused by the custom authorizer's policies", "principal", who.principal,
			"action", p.action, "resource", p.resourceType+"/"+p.name, "reason", reason)
		return forbidden("%s on %s/%s is not allowed for principal %s: %s", p.action, p.resourceType, p.name, who.principal, reason)
	}
	return nil
}
