package emulator

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/iotcore-local/iotcore-local/authorizers"
	"github.com/iotcore-local/iotcore-local/domains"
	"github.com/iotcore-local/iotcore-local/hooks"
	"github.com/iotcore-local/iotcore-local/listener"
	"github.com/iotcore-local/iotcore-local/registry"
)

// clientCertificateCallbackTimeout bounds one call of a clientCertificateCallbackArn function;
// the handshake deadline bounds it too.
const clientCertificateCallbackTimeout = 5 * time.Second

// openDomains opens the domain configurations' store. It runs before the PKI loads: the names it
// reports at open become pki.Options.DomainNames (so a restart reissues nothing); later changes
// reissue the server certificate at once.
func (e *Emulator) openDomains() (*domains.Service, error) {
	s, err := domains.Open(filepath.Join(e.cfg.DataDir, "domains.db"), domains.Options{
		Region: e.cfg.Region, Account: e.cfg.Account, Endpoint: e.cfg.endpoint(),
		AuthorizerExists: func(name string) bool {
			if e.authorizers == nil {
				return false
			}
			_, err := e.authorizers.Describe(name)
			return err == nil
		},
		OnNames: func(names []string) error {
			if e.pki == nil {
				e.domainNames = names
				return nil
			}
			return e.pki.SetDomainNames(names)
		},
		Logger: e.log.With("component", "domains"),
	})
	if err != nil {
		return nil, fmt.Errorf("open domain configurations: %w", err)
	}
	return s, nil
}

// Domains is the domain configurations service.
func (e *Emulator) Domains() *domains.Service { return e.domains }

// listenerDomain is listener.Config.Domains: the domain configuration of a server name, as the
// listener applies it.
func (e *Emulator) listenerDomain(serverName string) listener.Domain {
	c, matched := e.domains.Lookup(serverName)
	pol := c.Policy()
	d := listener.Domain{
		Name: c.Name, Matched: matched, Disabled: c.Status == domains.StatusDisabled, Quiet: !e.domains.Configured(),
		Protocol: c.ApplicationProtocol, Auth: c.AuthenticationType, Policy: pol.Name,
		MinVersion: pol.MinVersion, MaxVersion: pol.MaxVersion, CipherSuites: pol.CipherSuites,
	}
	if sc := c.ServerCertificateConfig; sc != nil && sc.EnableOCSPCheck != nil && *sc.EnableOCSPCheck && e.stapler != nil {
		name, arn := c.Name, sc.OCSPLambdaARN
		d.Staple = func(cert *tls.Certificate) (*tls.Certificate, string) { return e.stapler.Staple(name, arn, cert) }
	}
	if arn := c.ClientCertificateCallbackARN; arn != "" {
		d.VerifyClientCertificate = func(serverName string, chain []*x509.Certificate) error {
			return e.clientCertificateCallback(arn, serverName, chain)
		}
	}
	return d
}

// clientCertificateEvent is what a clientCertificateCallbackArn function receives.
type clientCertificateEvent struct {
	ConnectionMetadata struct {
		ID string `json:"id"`
	} `json:"connectionMetadata"`
	PrincipalID            string   `json:"principalId"`
	ServerName             string   `json:"serverName"`
	ClientCertificateChain []string `json:"clientCertificateChain"`
}

// clientCertificateCallback calls the function with the client's certificate chain (PEM, leaf
// first) before any authentication; only {"isAuthenticated": true} lets the handshake finish.
func (e *Emulator) clientCertificateCallback(arn, serverName string, chain []*x509.Certificate) error {
	var ev clientCertificateEvent
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	ev.ConnectionMetadata.ID = hex.EncodeToString(id)
	ev.PrincipalID = registry.CertificateID(chain[0].Raw)
	ev.ServerName = serverName
	for _, c := range chain {
		ev.ClientCertificateChain = append(ev.ClientCertificateChain, strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))))
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), clientCertificateCallbackTimeout)
	defer cancel()
	out, err := e.functions.Invoke(ctx, arn, payload)
	if err != nil {
		return fmt.Errorf("client certificate callback %s: %w", arn, err)
	}
	var ans struct {
		IsAuthenticated *bool `json:"isAuthenticated"`
	}
	if err := json.Unmarshal([]byte(strings.TrimRight(string(out), "\x00 \t\r\n")), &ans); err != nil || ans.IsAuthenticated == nil {
		return fmt.Errorf("client certificate callback %s: the answer is not {\"isAuthenticated\": true|false}", arn)
	}
	if !*ans.IsAuthenticated {
		return fmt.Errorf("client certificate callback %s refused certificate %s", arn, ev.PrincipalID)
	}
	return nil
}

// domainAuthenticator applies a domain configuration's authorizerConfig to custom
// authentication: its defaultAuthorizerName is used when the client names no authorizer, or
// always when allowAuthorizerOverride is false.
type domainAuthenticator struct {
	inner   *authorizers.Service
	domains *domains.Service
}

var _ hooks.CustomAuthenticator = domainAuthenticator{}

func (a domainAuthenticator) Authenticate(ctx context.Context, req authorizers.Request) (authorizers.Answer, error) {
	if c, matched := a.domains.Lookup(req.ServerName); matched && c.AuthorizerConfig != nil {
		if req.AuthorizerName == "" || !c.AuthorizerConfig.AllowAuthorizerOverride {
			req.AuthorizerName = c.AuthorizerConfig.DefaultAuthorizerName
		}
	}
	return a.inner.Authenticate(ctx, req)
}
