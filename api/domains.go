package api

import (
	"net/http"

	"github.com/iotcore-local/iotcore-local/domains"
)

// The control plane of domain configurations (CreateDomainConfiguration,
// DescribeDomainConfiguration, UpdateDomainConfiguration, DeleteDomainConfiguration,
// ListDomainConfigurations): the wire of the domains package.

// domainRoutes adds the operations to the control plane's table.
func (s *server) domainRoutes(rt *router) {
	rt.add(http.MethodGet, "/domainConfigurations", "ListDomainConfigurations", s.listDomainConfigurations)
	rt.add(http.MethodPost, "/domainConfigurations/{domainConfigurationName}", "CreateDomainConfiguration", s.createDomainConfiguration)
	rt.add(http.MethodGet, "/domainConfigurations/{domainConfigurationName}", "DescribeDomainConfiguration", s.describeDomainConfiguration)
	rt.add(http.MethodPut, "/domainConfigurations/{domainConfigurationName}", "UpdateDomainConfiguration", s.updateDomainConfiguration)
	rt.add(http.MethodDelete, "/domainConfigurations/{domainConfigurationName}", "DeleteDomainConfiguration", s.deleteDomainConfiguration)
}

type domainTLSConfig struct {
	SecurityPolicy *string `json:"securityPolicy,omitempty"`
}

type domainClientCertificateConfig struct {
	ClientCertificateCallbackArn *string `json:"clientCertificateCallbackArn,omitempty"`
}

type domainConfigurationRequest struct {
	DomainName               *string                          `json:"domainName"`
	ServerCertificateArns    []string                         `json:"serverCertificateArns"`
	ValidationCertificateArn *string                          `json:"validationCertificateArn"`
	AuthorizerConfig         *domains.AuthorizerConfig        `json:"authorizerConfig"`
	ServiceType              *string                          `json:"serviceType"`
	Tags                     []tag                            `json:"tags"`
	TLSConfig                *domainTLSConfig                 `json:"tlsConfig"`
	ServerCertificateConfig  *domains.ServerCertificateConfig `json:"serverCertificateConfig"`
	AuthenticationType       *string                          `json:"authenticationType"`
	ApplicationProtocol      *string                          `json:"applicationProtocol"`
	ClientCertificateConfig  *domainClientCertificateConfig   `json:"clientCertificateConfig"`
	// Update only.
	DomainConfigurationStatus *string `json:"domainConfigurationStatus"`
	RemoveAuthorizerConfig    *bool   `json:"removeAuthorizerConfig"`
}

func (in domainConfigurationRequest) securityPolicy() *string {
	if in.TLSConfig == nil {
		return nil
	}
	return in.TLSConfig.SecurityPolicy
}

func (in domainConfigurationRequest) callbackARN() *string {
	if in.ClientCertificateConfig == nil {
		return nil
	}
	return in.ClientCertificateConfig.ClientCertificateCallbackArn
}

type domainNameARN struct {
	DomainConfigurationName string `json:"domainConfigurationName"`
	DomainConfigurationArn  string `json:"domainConfigurationArn"`
}

type domainServerCertificate struct {
	ServerCertificateArn          string `json:"serverCertificateArn"`
	ServerCertificateStatus       string `json:"serverCertificateStatus"`
	ServerCertificateStatusDetail string `json:"serverCertificateStatusDetail,omitempty"`
}

func (s *server) createDomainConfiguration(c *call) (any, error) {
	var in domainConfigurationRequest
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	if in.DomainConfigurationStatus != nil || in.RemoveAuthorizerConfig != nil {
		return nil, invalidRequest("domainConfigurationStatus and removeAuthorizerConfig are UpdateDomainConfiguration members")
	}
	tags := make([]domains.Tag, 0, len(in.Tags))
	for _, t := range in.Tags {
		tags = append(tags, domains.Tag{Key: t.Key, Value: t.Value})
	}
	d, err := s.cfg.Domains.Create(domains.CreateInput{
		Name: c.vars["domainConfigurationName"], DomainName: deref(in.DomainName), ServerCertificateARNs: in.ServerCertificateArns,
		ValidationCertificateARN: deref(in.ValidationCertificateArn), AuthorizerConfig: in.AuthorizerConfig,
		ServiceType: deref(in.ServiceType), Tags: tags, SecurityPolicy: in.securityPolicy(),
		ServerCertificateConfig: in.ServerCertificateConfig, AuthenticationType: deref(in.AuthenticationType),
		ApplicationProtocol: deref(in.ApplicationProtocol), ClientCertificateCallbackARN: in.callbackARN(),
	})
	if err != nil {
		return nil, serviceError(err)
	}
	return domainNameARN{d.Name, d.ARN}, nil
}

func (s *server) describeDomainConfiguration(c *call) (any, error) {
	d, err := s.cfg.Domains.Describe(c.vars["domainConfigurationName"])
	if err != nil {
		return nil, serviceError(err)
	}
	certs := []domainServerCertificate{}
	for _, arn := range d.ServerCertificateARNs {
		certs = append(certs, domainServerCertificate{ServerCertificateArn: arn, ServerCertificateStatus: "VALID",
			ServerCertificateStatusDetail: "iotcore-local serves its own server certificate for this domain"})
	}
	out := struct {
		DomainConfigurationName string                           `json:"domainConfigurationName"`
		DomainConfigurationArn  string                           `json:"domainConfigurationArn"`
		DomainName              string                           `json:"domainName"`
		ServerCertificates      []domainServerCertificate        `json:"serverCertificates"`
		AuthorizerConfig        *domains.AuthorizerConfig        `json:"authorizerConfig,omitempty"`
		Status                  string                           `json:"domainConfigurationStatus"`
		ServiceType             string                           `json:"serviceType"`
		DomainType              string                           `json:"domainType"`
		LastStatusChangeDate    epochSeconds                     `json:"lastStatusChangeDate,omitzero"`
		TLSConfig               domainTLSConfig                  `json:"tlsConfig"`
		ServerCertificateConfig *domains.ServerCertificateConfig `json:"serverCertificateConfig,omitempty"`
		AuthenticationType      string                           `json:"authenticationType"`
		ApplicationProtocol     string                           `json:"applicationProtocol"`
		ClientCertificateConfig *domainClientCertificateConfig   `json:"clientCertificateConfig,omitempty"`
	}{
		DomainConfigurationName: d.Name, DomainConfigurationArn: d.ARN, DomainName: d.DomainName, ServerCertificates: certs,
		AuthorizerConfig: d.AuthorizerConfig, Status: d.Status, ServiceType: d.ServiceType, DomainType: d.DomainType,
		LastStatusChangeDate: epochSeconds(d.LastStatusChangeDate), TLSConfig: domainTLSConfig{SecurityPolicy: &d.SecurityPolicy},
		ServerCertificateConfig: d.ServerCertificateConfig, AuthenticationType: d.AuthenticationType, ApplicationProtocol: d.ApplicationProtocol,
	}
	if d.ClientCertificateCallbackARN != "" {
		out.ClientCertificateConfig = &domainClientCertificateConfig{ClientCertificateCallbackArn: &d.ClientCertificateCallbackARN}
	}
	return out, nil
}

func (s *server) updateDomainConfiguration(c *call) (any, error) {
	var in domainConfigurationRequest
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	switch {
	case in.DomainName != nil:
		return nil, invalidRequest("domainName: cannot be updated; delete and recreate the domain configuration")
	case in.ServerCertificateArns != nil || in.ValidationCertificateArn != nil:
		return nil, invalidRequest("serverCertificateArns: cannot be updated; delete and recreate the domain configuration")
	case in.ServiceType != nil || in.Tags != nil:
		return nil, invalidRequest("serviceType and tags are CreateDomainConfiguration members")
	}
	d, err := s.cfg.Domains.Update(domains.UpdateInput{
		Name: c.vars["domainConfigurationName"], AuthorizerConfig: in.AuthorizerConfig, Status: in.DomainConfigurationStatus,
		RemoveAuthorizerConfig: deref(in.RemoveAuthorizerConfig), SecurityPolicy: in.securityPolicy(),
		ServerCertificateConfig: in.ServerCertificateConfig, AuthenticationType: in.AuthenticationType,
		ApplicationProtocol: in.ApplicationProtocol, ClientCertificateCallbackARN: in.callbackARN(),
	})
	if err != nil {
		return nil, serviceError(err)
	}
	return domainNameARN{d.Name, d.ARN}, nil
}

func (s *server) deleteDomainConfiguration(c *call) (any, error) {
	if err := s.cfg.Domains.Delete(c.vars["domainConfigurationName"]); err != nil {
		return nil, serviceError(err)
	}
	return struct{}{}, nil
}

func (s *server) listDomainConfigurations(c *call) (any, error) {
	pageSize, err := intQuery(c, "pageSize", 1, 250, 250)
	if err != nil {
		return nil, err
	}
	page, next, err := s.cfg.Domains.List(c.query("serviceType"), c.query("marker"), pageSize)
	if err != nil {
		return nil, serviceError(err)
	}
	type summary struct {
		DomainConfigurationName string `json:"domainConfigurationName"`
		DomainConfigurationArn  string `json:"domainConfigurationArn"`
		ServiceType             string `json:"serviceType"`
	}
	out := struct {
		DomainConfigurations []summary `json:"domainConfigurations"`
		NextMarker           string    `json:"nextMarker,omitempty"`
	}{DomainConfigurations: []summary{}, NextMarker: next}
	for _, d := range page {
		out.DomainConfigurations = append(out.DomainConfigurations, summary{d.Name, d.ARN, d.ServiceType})
	}
	return out, nil
}

// domainHost reports whether a request's Host is the domain name of a domain configuration:
// the account declared the emulator serves that name, as --endpoint does.
func (s *server) domainHost(hostHeader string) bool {
	if s.cfg.Domains == nil {
		return false
	}
	host := hostOnly(hostHeader)
	if host == "" {
		return false
	}
	_, matched := s.cfg.Domains.Lookup(host)
	return matched
}
