package api

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/iotcore-local/iotcore-local/auth"
	"github.com/iotcore-local/iotcore-local/registry"
)

// This file is the device side of the AWS IoT credentials provider: a device that holds a
// registered certificate calls GET /role-aliases/{roleAlias}/credentials over mutual TLS (the
// x-amzn-http-ca personality of 443, or 8443) and gets temporary AWS credentials for the role
// the alias names. The emulator has no IAM and no STS: it issues its own key pair, kept in
// Config.TemporaryCredentials, which its SigV4 check accepts until expiry (with the session
// token). The answers and their status codes are those AWS's credentials endpoint gives (see
// docs/aws-fidelity.md).

// thingNameHeader optionally names the thing the certificate is attached to.
const thingNameHeader = "x-amzn-iot-thingname"

// credentialsTable is the credentials provider's one operation, reached with a client
// certificate only.
func (s *server) credentialsTable() router {
	var rt router
	rt.add(http.MethodGet, "/role-aliases/{roleAlias}/credentials", "AssumeRoleWithCertificate", s.assumeRoleWithCertificate)
	return rt
}

// credentialsError is an answer of the credentials endpoint: its status, the x-amzn-ErrorType
// and {"message"}.
func credentialsError(status int, name, message string) *apiError {
	return &apiError{status: status, name: name, message: message}
}

type credentialsResponse struct {
	Credentials credentialsBody `json:"credentials"`
}

type credentialsBody struct {
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
	SessionToken    string `json:"sessionToken"`
	Expiration      string `json:"expiration"` // ISO 8601 UTC, seconds, Z
}

// assumeRoleWithCertificate is GET /role-aliases/{roleAlias}/credentials. The certificate must
// be registered and ACTIVE, the thing named by x-amzn-iot-thingname (if any) attached to it,
// and its policies (with those of the thing's groups) must allow iot:AssumeRoleWithCertificate
// on the role alias's ARN; the credentials last the alias's credentialDurationSeconds.
func (s *server) assumeRoleWithCertificate(c *call) (any, error) {
	who := callerOf(c.r)
	if who.kind != callerCertificate || s.reg == nil {
		return nil, credentialsError(http.StatusForbidden, "AccessDeniedException", "Certificate is invalid on this endpoint")
	}
	alias := c.vars["roleAlias"]
	id := registry.CertificateID(who.certificate.Raw)
	view, err := s.reg.CertificateIdentity(id)
	if err != nil {
		if errors.Is(err, registry.ErrNotFound) {
			s.log.Warn("api: credentials refused: certificate not registered", "certificate", id, "role_alias", alias)
			return nil, credentialsError(http.StatusForbidden, "AccessDeniedException", "Certificate is invalid on this endpoint")
		}
		return nil, fmt.Errorf("look up certificate %s: %w", id, err)
	}
	if view.Certificate.Status != registry.StatusActive {
		s.log.Warn("api: credentials refused: certificate not active", "certificate", id, "status", view.Certificate.Status)
		return nil, credentialsError(http.StatusForbidden, "AccessDeniedException", "Certificate is invalid on this endpoint")
	}
	thing := c.r.Header.Get(thingNameHeader)
	if thing != "" {
		attached := false
		for _, t := range view.Things {
			attached = attached || t.ThingName == thing
		}
		if !attached {
			s.log.Warn("api: credentials refused: thing not attached to the certificate", "certificate", id, "thing", thing)
			return nil, credentialsError(http.StatusForbidden, "AccessDeniedException", "Invalid thing name passed")
		}
	}
	base := auth.Environment{Partition: "aws", Region: s.cfg.Region, Account: s.cfg.Account}
	// The header's thing binds like a client id equal to its name would (an EXCLUSIVE_THING
	// attachment binds whatever the header says); there is no MQTT client id here.
	env := auth.BindThing(view, thing, base, s.reg.DescribeThing)
	env.ClientID = ""
	env.Certificate = who.certificate
	env.SourceIP = remoteAddr(c.r.RemoteAddr)
	env.DomainName = s.cfg.Endpoint
	if c.r.TLS != nil && c.r.TLS.ServerName != "" {
		env.DomainName = c.r.TLS.ServerName
	}
	compiled := auth.CompilePolicies(auth.PoliciesInForce(view, env.ThingName), env)
	if !compiled.Decide(auth.ActionAssumeRoleWithCertificate, auth.ResourceRoleAlias, alias).Allowed {
		reason := compiled.Explain(auth.ActionAssumeRoleWithCertificate, auth.ResourceRoleAlias, alias).Reason
		s.log.Warn("api: credentials refused by policy", "certificate", id, "role_alias", alias, "reason", reason)
		return nil, credentialsError(http.StatusForbidden, "AccessDeniedException", "Access Denied")
	}
	a, err := s.reg.DescribeRoleAlias(alias)
	if err != nil {
		if errors.Is(err, registry.ErrNotFound) || errors.Is(err, registry.ErrInvalidRequest) {
			return nil, credentialsError(http.StatusNotFound, "ResourceNotFoundException", "Role alias does not exist")
		}
		return nil, fmt.Errorf("role alias %q: %w", alias, err)
	}
	cred := s.tempCreds.Issue(time.Duration(a.DurationSeconds)*time.Second, a.Name, id)
	s.log.Info("api: temporary credentials issued", "certificate", id, "role_alias", a.Name, "role_arn", a.RoleARN,
		"thing", env.ThingName, "access_key", cred.AccessKeyID, "expiration", cred.Expiration)
	return credentialsResponse{Credentials: credentialsBody{
		AccessKeyID: cred.AccessKeyID, SecretAccessKey: cred.SecretAccessKey, SessionToken: cred.SessionToken,
		Expiration: cred.Expiration.Format("2006-01-02T15:04:05Z"),
	}}, nil
}

// temporarySecret finds the secret of an access key the credentials provider issued. A known
// key must come with its session token (else UnrecognizedClientException, as AWS answers a
// temporary key without its token) and must not have expired (ExpiredTokenException).
func (s *server) temporarySecret(sig *sigV4) (secret string, known bool, err error) {
	k, found, expired := s.tempCreds.lookup(sig.accessKey)
	switch {
	case !found:
		return "", false, nil
	case expired:
		return "", false, sigError(http.StatusForbidden, "ExpiredTokenException", "The security token included in the request is expired")
	case subtle.ConstantTimeCompare([]byte(sig.securityToken), []byte(k.token)) != 1:
		return "", false, sigError(http.StatusForbidden, "UnrecognizedClientException", "The security token included in the request is invalid.")
	}
	return k.secret, true, nil
}
