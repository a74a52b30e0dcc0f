package domains

import "time"

// Application protocols (applicationProtocol).
const (
	ProtocolSecureMQTT = "SECURE_MQTT"
	ProtocolMQTTWSS    = "MQTT_WSS"
	ProtocolHTTPS      = "HTTPS"
	ProtocolDefault    = "DEFAULT"
)

// Authentication types (authenticationType).
const (
	AuthX509       = "AWS_X509"
	AuthCustomX509 = "CUSTOM_AUTH_X509"
	AuthCustom     = "CUSTOM_AUTH"
	AuthSigV4      = "AWS_SIGV4"
	AuthDefault    = "DEFAULT"
)

// Statuses (domainConfigurationStatus).
const (
	StatusEnabled  = "ENABLED"
	StatusDisabled = "DISABLED"
)

// Domain types (domainType).
const (
	TypeEndpoint        = "ENDPOINT"
	TypeAWSManaged      = "AWS_MANAGED"
	TypeCustomerManaged = "CUSTOMER_MANAGED"
)

// DefaultName is the reserved configuration of the account's ATS data endpoint: it decides
// every ClientHello whose server name matches no other configuration.
const DefaultName = "iot:Data-ATS"

// AuthorizerConfig is a configuration's default custom authorizer.
type AuthorizerConfig struct {
	DefaultAuthorizerName   string `json:"defaultAuthorizerName,omitempty"`
	AllowAuthorizerOverride bool   `json:"allowAuthorizerOverride"`
}

// ServerCertificateConfig is the server certificate's OCSP stapling: with EnableOCSPCheck the
// listener staples a response from OCSPLambdaARN's function, or from the root CA without one.
type ServerCertificateConfig struct {
	EnableOCSPCheck            *bool  `json:"enableOCSPCheck,omitempty"`
	OCSPLambdaARN              string `json:"ocspLambdaArn,omitempty"`
	OCSPAuthorizedResponderARN string `json:"ocspAuthorizedResponderArn,omitempty"`
}

// Tag is a resource tag given at creation.
type Tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// Config is one domain configuration.
type Config struct {
	Name                         string                   `json:"name"`
	ARN                          string                   `json:"arn"`
	DomainName                   string                   `json:"domainName"`
	DomainType                   string                   `json:"domainType"`
	ServiceType                  string                   `json:"serviceType"`
	Status                       string                   `json:"status"`
	ServerCertificateARNs        []string                 `json:"serverCertificateArns,omitempty"`
	ValidationCertificateARN     string                   `json:"validationCertificateArn,omitempty"`
	AuthorizerConfig             *AuthorizerConfig        `json:"authorizerConfig,omitempty"`
	SecurityPolicy               string                   `json:"securityPolicy"`
	ServerCertificateConfig      *ServerCertificateConfig `json:"serverCertificateConfig,omitempty"`
	AuthenticationType           string                   `json:"authenticationType"`
	ApplicationProtocol          string                   `json:"applicationProtocol"`
	ClientCertificateCallbackARN string                   `json:"clientCertificateCallbackArn,omitempty"`
	LastStatusChangeDate         time.Time                `json:"lastStatusChangeDate"`
	Tags                         []Tag                    `json:"tags,omitempty"`
}

// Policy returns the configuration's TLS security policy.
func (c Config) Policy() SecurityPolicy {
	p, ok := LookupSecurityPolicy(c.SecurityPolicy)
	if !ok {
		p, _ = LookupSecurityPolicy(DefaultSecurityPolicy)
	}
	return p
}

// CreateInput is CreateDomainConfiguration's request.
type CreateInput struct {
	Name                         string
	DomainName                   string
	ServerCertificateARNs        []string
	ValidationCertificateARN     string
	AuthorizerConfig             *AuthorizerConfig
	ServiceType                  string
	Tags                         []Tag
	SecurityPolicy               *string
	ServerCertificateConfig      *ServerCertificateConfig
	AuthenticationType           string
	ApplicationProtocol          string
	ClientCertificateCallbackARN *string
}

// UpdateInput is UpdateDomainConfiguration's request; nil fields are left as they are.
type UpdateInput struct {
	Name                         string
	AuthorizerConfig             *AuthorizerConfig
	Status                       *string
	RemoveAuthorizerConfig       bool
	SecurityPolicy               *string
	ServerCertificateConfig      *ServerCertificateConfig
	AuthenticationType           *string
	ApplicationProtocol          *string
	ClientCertificateCallbackARN *string
}
