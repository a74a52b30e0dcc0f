package api

import (
	"encoding/base64"
	"net/http"

	"github.com/iotcore-local/iotcore-local/authorizers"
)

// The control plane of custom authorizers (CreateAuthorizer, DescribeAuthorizer,
// UpdateAuthorizer, DeleteAuthorizer, ListAuthorizers, SetDefaultAuthorizer,
// DescribeDefaultAuthorizer, TestInvokeAuthorizer): the wire of the authorizers package.

// authorizerRoutes adds the operations to the control plane's table.
func (s *server) authorizerRoutes(rt *router) {
	rt.add(http.MethodGet, "/authorizers/", "ListAuthorizers", s.listAuthorizers)
	rt.add(http.MethodGet, "/authorizers", "ListAuthorizers", s.listAuthorizers)
	rt.add(http.MethodPost, "/authorizer/{authorizerName}", "CreateAuthorizer", s.createAuthorizer)
	rt.add(http.MethodGet, "/authorizer/{authorizerName}", "DescribeAuthorizer", s.describeAuthorizer)
	rt.add(http.MethodPut, "/authorizer/{authorizerName}", "UpdateAuthorizer", s.updateAuthorizer)
	rt.add(http.MethodDelete, "/authorizer/{authorizerName}", "DeleteAuthorizer", s.deleteAuthorizer)
	rt.add(http.MethodPost, "/authorizer/{authorizerName}/test", "TestInvokeAuthorizer", s.testInvokeAuthorizer)
	rt.add(http.MethodPost, "/default-authorizer", "SetDefaultAuthorizer", s.setDefaultAuthorizer)
	rt.add(http.MethodGet, "/default-authorizer", "DescribeDefaultAuthorizer", s.describeDefaultAuthorizer)
}

type authorizerRequest struct {
	AuthorizerFunctionArn  *string           `json:"authorizerFunctionArn"`
	TokenKeyName           *string           `json:"tokenKeyName"`
	TokenSigningPublicKeys map[string]string `json:"tokenSigningPublicKeys"`
	Status                 *string           `json:"status"`
	Tags                   []tag             `json:"tags"`
	SigningDisabled        *bool             `json:"signingDisabled"`
	EnableCachingForHTTP   *bool             `json:"enableCachingForHttp"`
}

type authorizerNameARN struct {
	AuthorizerName string `json:"authorizerName"`
	AuthorizerArn  string `json:"authorizerArn"`
}

type authorizerDescription struct {
	AuthorizerName         string            `json:"authorizerName"`
	AuthorizerArn          string            `json:"authorizerArn"`
	AuthorizerFunctionArn  string            `json:"authorizerFunctionArn"`
	TokenKeyName           string            `json:"tokenKeyName,omitempty"`
	TokenSigningPublicKeys map[string]string `json:"tokenSigningPublicKeys,omitempty"`
	Status                 string            `json:"status"`
	CreationDate           epochSeconds      `json:"creationDate,omitzero"`
	LastModifiedDate       epochSeconds      `json:"lastModifiedDate,omitzero"`
	SigningDisabled        bool              `json:"signingDisabled"`
	EnableCachingForHTTP   bool              `json:"enableCachingForHttp"`
}

func describeAuthorizerOutput(a authorizers.Authorizer) any {
	return struct {
		AuthorizerDescription authorizerDescription `json:"authorizerDescription"`
	}{authorizerDescription{
		AuthorizerName: a.Name, AuthorizerArn: a.ARN, AuthorizerFunctionArn: a.FunctionARN, TokenKeyName: a.TokenKeyName,
		TokenSigningPublicKeys: a.TokenSigningPublicKeys, Status: a.Status, CreationDate: epochSeconds(a.CreationDate),
		LastModifiedDate: epochSeconds(a.LastModifiedDate), SigningDisabled: a.SigningDisabled, EnableCachingForHTTP: a.EnableCachingForHTTP,
	}}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func (s *server) createAuthorizer(c *call) (any, error) {
	var in authorizerRequest
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	tags := make([]authorizers.Tag, 0, len(in.Tags))
	for _, t := range in.Tags {
		tags = append(tags, authorizers.Tag{Key: t.Key, Value: t.Value})
	}
	a, err := s.cfg.Authorizers.Create(authorizers.CreateInput{
		Name: c.vars["authorizerName"], FunctionARN: deref(in.AuthorizerFunctionArn), TokenKeyName: deref(in.TokenKeyName),
		TokenSigningPublicKeys: in.TokenSigningPublicKeys, Status: deref(in.Status), SigningDisabled: deref(in.SigningDisabled),
		EnableCachingForHTTP: deref(in.EnableCachingForHTTP), Tags: tags,
	})
	if err != nil {
		return nil, serviceError(err)
	}
	return authorizerNameARN{a.Name, a.ARN}, nil
}

func (s *server) describeAuthorizer(c *call) (any, error) {
	a, err := s.cfg.Authorizers.Describe(c.vars["authorizerName"])
	if err != nil {
		return nil, serviceError(err)
	}
	return describeAuthorizerOutput(a), nil
}

func (s *server) updateAuthorizer(c *call) (any, error) {
	var in authorizerRequest
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	if in.SigningDisabled != nil {
		return nil, invalidRequest("signingDisabled: cannot be changed after the authorizer is created")
	}
	a, err := s.cfg.Authorizers.Update(authorizers.UpdateInput{
		Name: c.vars["authorizerName"], FunctionARN: in.AuthorizerFunctionArn, TokenKeyName: in.TokenKeyName,
		TokenSigningPublicKeys: in.TokenSigningPublicKeys, Status: in.Status, EnableCachingForHTTP: in.EnableCachingForHTTP,
	})
	if err != nil {
		return nil, serviceError(err)
	}
	return authorizerNameARN{a.Name, a.ARN}, nil
}

func (s *server) deleteAuthorizer(c *call) (any, error) {
	if err := s.cfg.Authorizers.Delete(c.vars["authorizerName"]); err != nil {
		return nil, serviceError(err)
	}
	return struct{}{}, nil
}

func (s *server) listAuthorizers(c *call) (any, error) {
	pageSize, err := intQuery(c, "pageSize", 1, 250, 250)
	if err != nil {
		return nil, err
	}
	ascending := true
	if c.query("isAscendingOrder") != "" {
		if ascending, err = boolQuery(c, "isAscendingOrder"); err != nil {
			return nil, err
		}
	}
	page, next, err := s.cfg.Authorizers.List(c.query("status"), c.query("marker"), pageSize, ascending)
	if err != nil {
		return nil, serviceError(err)
	}
	out := struct {
		Authorizers []authorizerNameARN `json:"authorizers"`
		NextMarker  string              `json:"nextMarker,omitempty"`
	}{Authorizers: []authorizerNameARN{}, NextMarker: next}
	for _, a := range page {
		out.Authorizers = append(out.Authorizers, authorizerNameARN{a.Name, a.ARN})
	}
	return out, nil
}

func (s *server) setDefaultAuthorizer(c *call) (any, error) {
	var in struct {
		AuthorizerName *string `json:"authorizerName"`
	}
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	if in.AuthorizerName == nil || *in.AuthorizerName == "" {
		return nil, invalidRequest("authorizerName: required")
	}
	a, err := s.cfg.Authorizers.SetDefault(*in.AuthorizerName)
	if err != nil {
		return nil, serviceError(err)
	}
	return authorizerNameARN{a.Name, a.ARN}, nil
}

func (s *server) describeDefaultAuthorizer(c *call) (any, error) {
	a, err := s.cfg.Authorizers.DescribeDefault()
	if err != nil {
		return nil, serviceError(err)
	}
	return describeAuthorizerOutput(a), nil
}

type testInvokeRequest struct {
	Token          string `json:"token"`
	TokenSignature string `json:"tokenSignature"`
	HTTPContext    *struct {
		Headers     map[string]string `json:"headers"`
		QueryString string            `json:"queryString"`
	} `json:"httpContext"`
	MQTTContext *struct {
		Username *string `json:"username"`
		Password *string `json:"password"` // base64 (a blob)
		ClientID *string `json:"clientId"`
	} `json:"mqttContext"`
	TLSContext *struct {
		ServerName string `json:"serverName"`
	} `json:"tlsContext"`
}

func (s *server) testInvokeAuthorizer(c *call) (any, error) {
	var in testInvokeRequest
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	if len(in.Token) > 6144 || len(in.TokenSignature) > 2560 {
		return nil, invalidRequest("token (at most 6144 characters) or tokenSignature (at most 2560) too long")
	}
	ti := authorizers.TestInput{Token: in.Token, TokenSignature: in.TokenSignature}
	if in.HTTPContext != nil {
		ti.HTTP = &authorizers.HTTPContext{Headers: in.HTTPContext.Headers, QueryString: in.HTTPContext.QueryString}
	}
	if m := in.MQTTContext; m != nil {
		mc := &authorizers.MQTTContext{Username: deref(m.Username), ClientID: deref(m.ClientID)}
		if m.Password != nil {
			pw, err := base64.StdEncoding.DecodeString(*m.Password)
			if err != nil {
				return nil, invalidRequest("mqttContext.password: not base64: %v", err)
			}
			mc.Password, mc.HasPassword = pw, true
		}
		ti.MQTT = mc
	}
	if in.TLSContext != nil {
		ti.ServerName = in.TLSContext.ServerName
	}
	ans, err := s.cfg.Authorizers.TestInvoke(c.r.Context(), c.vars["authorizerName"], ti)
	if err != nil {
		return nil, serviceError(err)
	}
	out := struct {
		IsAuthenticated          bool     `json:"isAuthenticated"`
		PrincipalID              string   `json:"principalId,omitempty"`
		PolicyDocuments          []string `json:"policyDocuments"`
		RefreshAfterInSeconds    int      `json:"refreshAfterInSeconds,omitempty"`
		DisconnectAfterInSeconds int      `json:"disconnectAfterInSeconds,omitempty"`
	}{ans.IsAuthenticated, ans.PrincipalID, ans.PolicyDocuments, ans.RefreshAfter, ans.DisconnectAfter}
	if out.PolicyDocuments == nil {
		out.PolicyDocuments = []string{}
	}
	return out, nil
}
