package domains

import (
	"regexp"
	"strings"
)

// Limits and patterns of the control plane, from the iot service model.
const (
	maxConfigurations = 10 // AWS's default quota of domain configurations per account and region
	maxDomainName     = 253
	maxSecurityPolicy = 128
	maxCallbackARN    = 2048
	maxOCSPLambdaARN  = 140
)

var (
	createNamePattern = regexp.MustCompile(`^[\w.-]{1,128}$`)
	namePattern       = regexp.MustCompile(`^[\w.:-]{1,128}$`)
	authorizerPattern = regexp.MustCompile(`^[\w=,@-]{1,128}$`)
	acmARNPattern     = regexp.MustCompile(`^arn:aws(-cn|-us-gov|-iso-b|-iso)?:acm:[a-z]{2}-(gov-|iso-|isob-)?[a-z]{4,9}-\d{1}:\d{12}:certificate/[a-zA-Z0-9/-]+$`)
)

var (
	protocols = map[string]bool{ProtocolSecureMQTT: true, ProtocolMQTTWSS: true, ProtocolHTTPS: true, ProtocolDefault: true}
	authTypes = map[string]bool{AuthX509: true, AuthCustomX509: true, AuthCustom: true, AuthSigV4: true, AuthDefault: true}
	// combinations lists the authentication types each application protocol takes, from AWS's
	// port table: SigV4 needs a transport without mTLS (WebSocket or HTTPS), X.509 one with it
	// (MQTT or HTTPS). DEFAULT takes every type: the port and ALPN then pick a personality of
	// that type.
	combinations = map[string]map[string]bool{
		ProtocolSecureMQTT: {AuthX509: true, AuthCustomX509: true, AuthCustom: true, AuthDefault: true},
		ProtocolMQTTWSS:    {AuthSigV4: true, AuthCustom: true, AuthDefault: true},
		ProtocolHTTPS:      {AuthX509: true, AuthCustomX509: true, AuthSigV4: true, AuthCustom: true, AuthDefault: true},
		ProtocolDefault:    {AuthX509: true, AuthCustomX509: true, AuthSigV4: true, AuthCustom: true, AuthDefault: true},
	}
)

// validDomainName accepts host names of letters, digits, '-' and '_' in dot-separated labels of
// 1-63 characters, 253 at most: the names a server certificate can carry.
func validDomainName(s string) bool {
	if s == "" || len(s) > maxDomainName {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// checkSettings validates what Create and Update share, on the configuration c as it would be.
func (s *Service) checkSettings(c *Config) error {
	if !protocols[c.ApplicationProtocol] {
		return newError(ErrInvalidRequest, "applicationProtocol: %q is not one of SECURE_MQTT, MQTT_WSS, HTTPS, DEFAULT", c.ApplicationProtocol)
	}
	if !authTypes[c.AuthenticationType] {
		return newError(ErrInvalidRequest, "authenticationType: %q is not one of AWS_X509, CUSTOM_AUTH_X509, CUSTOM_AUTH, AWS_SIGV4, DEFAULT", c.AuthenticationType)
	}
	if !combinations[c.ApplicationProtocol][c.AuthenticationType] {
		return newError(ErrInvalidRequest, "authenticationType %s cannot be used with applicationProtocol %s", c.AuthenticationType, c.ApplicationProtocol)
	}
	if len(c.SecurityPolicy) > maxSecurityPolicy {
		return newError(ErrInvalidRequest, "tlsConfig.securityPolicy: at most %d characters", maxSecurityPolicy)
	}
	if _, ok := LookupSecurityPolicy(c.SecurityPolicy); !ok {
		return newError(ErrInvalidRequest, "tlsConfig.securityPolicy: %q is not a security policy of AWS IoT (e.g. %s)", c.SecurityPolicy, DefaultSecurityPolicy)
	}
	if a := c.AuthorizerConfig; a != nil && a.DefaultAuthorizerName != "" {
		if !authorizerPattern.MatchString(a.DefaultAuthorizerName) {
			return newError(ErrInvalidRequest, "authorizerConfig.defaultAuthorizerName: %q must match [\\w=,@-]{1,128}", a.DefaultAuthorizerName)
		}
		if s.opts.AuthorizerExists != nil && !s.opts.AuthorizerExists(a.DefaultAuthorizerName) {
			return newError(ErrInvalidRequest, "authorizerConfig.defaultAuthorizerName: authorizer %s does not exist", a.DefaultAuthorizerName)
		}
	}
	if sc := c.ServerCertificateConfig; sc != nil {
		if len(sc.OCSPLambdaARN) > maxOCSPLambdaARN {
			return newError(ErrInvalidRequest, "serverCertificateConfig.ocspLambdaArn: at most %d characters", maxOCSPLambdaARN)
		}
		if sc.OCSPAuthorizedResponderARN != "" && !acmARNPattern.MatchString(sc.OCSPAuthorizedResponderARN) {
			return newError(ErrInvalidRequest, "serverCertificateConfig.ocspAuthorizedResponderArn: %q is not an ACM certificate ARN", sc.OCSPAuthorizedResponderARN)
		}
	}
	if arn := c.ClientCertificateCallbackARN; arn != "" {
		if len(arn) > maxCallbackARN {
			return newError(ErrInvalidRequest, "clientCertificateConfig.clientCertificateCallbackArn: at most %d characters", maxCallbackARN)
		}
		if c.AuthenticationType != AuthX509 && c.AuthenticationType != AuthCustomX509 {
			return newError(ErrInvalidRequest, "clientCertificateConfig: a client certificate callback needs authenticationType AWS_X509 or CUSTOM_AUTH_X509 (it runs after mutual TLS)")
		}
	}
	return nil
}
