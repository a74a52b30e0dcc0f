package provisioning

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.etcd.io/bbolt"

	"github.com/iotcore-local/iotcore-local/registry"
)

// NewCertificate is the answer of CreateKeysAndCertificate (with PrivateKey) and
// CreateCertificateFromCsr (without).
type NewCertificate struct {
	CertificateID  string
	CertificatePEM string
	PrivateKey     string
	Token          string
}

// CreateKeysAndCertificate makes a key pair and a certificate signed by the emulator's device
// CA, registers the certificate PENDING_ACTIVATION and returns it with an ownership token.
func (s *Service) CreateKeysAndCertificate() (NewCertificate, error) {
	creds, err := s.opts.Issuer.IssueDevice()
	if err != nil {
		return NewCertificate{}, deviceError(500, CodeInternalFailure, "could not issue a certificate")
	}
	nc, err := s.registerPending(creds.CertificatePEM)
	if err != nil {
		return NewCertificate{}, err
	}
	nc.PrivateKey = creds.PrivateKeyPEM
	return nc, nil
}

// CreateCertificateFromCSR signs a CSR's key with the device CA and registers the certificate
// PENDING_ACTIVATION. A CSR that does not parse, whose signature does not verify or whose key
// AWS would not accept is refused (400 InvalidCSR).
func (s *Service) CreateCertificateFromCSR(csrPEM string) (NewCertificate, error) {
	if strings.TrimSpace(csrPEM) == "" {
		return NewCertificate{}, deviceError(400, CodeInvalidPayload, "certificateSigningRequest is required")
	}
	block, _ := pem.Decode([]byte(csrPEM))
	if block == nil || (block.Type != "CERTIFICATE REQUEST" && block.Type != "NEW CERTIFICATE REQUEST") {
		return NewCertificate{}, deviceError(400, CodeInvalidCSR, "certificateSigningRequest is not a PEM certificate request")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return NewCertificate{}, deviceError(400, CodeInvalidCSR, "certificateSigningRequest does not parse: %v", err)
	}
	certPEM, err := s.opts.Issuer.SignCSR(csr)
	if err != nil {
		return NewCertificate{}, deviceError(400, CodeInvalidCSR, "%s", strings.TrimPrefix(err.Error(), "pki: sign CSR: "))
	}
	return s.registerPending(certPEM)
}

// registerPending registers a new certificate PENDING_ACTIVATION and issues its token. It also
// forgets expired tokens, deleting their certificates if nothing activated or attached them.
func (s *Service) registerPending(certPEM string) (NewCertificate, error) {
	s.sweep()
	c, err := s.opts.Registry.RegisterCertificate(certPEM, registry.StatusPendingActivation, "")
	if err != nil {
		return NewCertificate{}, deviceError(500, CodeInternalFailure, "could not register the certificate")
	}
	tok, err := s.issueToken(c.ID)
	if err != nil {
		return NewCertificate{}, deviceError(500, CodeInternalFailure, "could not issue an ownership token")
	}
	return NewCertificate{CertificateID: c.ID, CertificatePEM: c.PEM, Token: tok}, nil
}

// issueToken stores a random opaque token (well under the 512 bytes devices can hold).
func (s *Service) issueToken(certID string) (string, error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	tok := base64.RawURLEncoding.EncodeToString(raw[:])
	err := s.db.Update(func(tx *bbolt.Tx) error {
		return putJSON(tx.Bucket(bucketTokens), tok, storedToken{CertificateID: certID, Expires: s.now().Add(tokenLifetime)})
	})
	return tok, err
}

// sweep forgets expired tokens and expired claims. A certificate whose token expired and that
// is still PENDING_ACTIVATION with nothing attached is deleted, as AWS does after an hour.
func (s *Service) sweep() {
	now := s.now()
	if last := s.lastSweep.Load(); last != 0 && now.Sub(time.Unix(0, last)) < time.Minute {
		return
	}
	s.lastSweep.Store(now.UnixNano())
	var certs []string
	_ = s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketTokens)
		var dead [][]byte
		_ = b.ForEach(func(k, v []byte) error {
			var t storedToken
			if json.Unmarshal(v, &t) == nil && now.After(t.Expires) {
				dead = append(dead, append([]byte(nil), k...))
				certs = append(certs, t.CertificateID)
			}
			return nil
		})
		cb := tx.Bucket(bucketClaims)
		var deadClaims [][]byte
		_ = cb.ForEach(func(k, v []byte) error {
			var c storedClaim
			if json.Unmarshal(v, &c) == nil && now.After(c.Expires) {
				deadClaims = append(deadClaims, append([]byte(nil), k...))
			}
			return nil
		})
		for _, k := range dead {
			_ = b.Delete(k)
		}
		for _, k := range deadClaims {
			_ = cb.Delete(k)
		}
		return nil
	})
	for _, id := range certs {
		c, err := s.opts.Registry.DescribeCertificate(id)
		if err != nil || c.Status != registry.StatusPendingActivation {
			continue
		}
		if err := s.opts.Registry.DeleteCertificate(id, false); err == nil {
			s.log.Info("unclaimed certificate deleted after its ownership token expired", "certificate", id)
		}
	}
}

// takeToken removes a token from the store; it reports false when another request took it first.
func (s *Service) takeToken(tok string) bool {
	taken := false
	_ = s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketTokens)
		if b.Get([]byte(tok)) == nil {
			return nil
		}
		taken = true
		return b.Delete([]byte(tok))
	})
	return taken
}

// RegisterRequest is one RegisterThing.
type RegisterRequest struct {
	TemplateName string
	Token        string
	Parameters   map[string]string
	// ClaimCertificateID and ClientID describe the requesting connection, for the hook's event.
	ClaimCertificateID string
	ClientID           string
}

// RegisterResult is RegisterThing's answer.
type RegisterResult struct {
	ThingName           string
	DeviceConfiguration map[string]string
	CertificateID       string
	// ResourceARNs maps the template's logical ids to the resources' ARNs.
	ResourceARNs map[string]string
}

// RegisterThing runs a fleet provisioning template for the certificate the ownership token
// stands for. Every refusal is a *DeviceError as the device receives it; on success the token
// is spent.
func (s *Service) RegisterThing(ctx context.Context, req RegisterRequest) (RegisterResult, error) {
	if req.Token == "" {
		return RegisterResult{}, deviceError(400, CodeInvalidToken, "Certificate ownership token cannot be empty.")
	}
	if len(req.Token) > maxTokenBytes {
		return RegisterResult{}, deviceError(400, CodeInvalidToken, "Certificate ownership token is invalid.")
	}
	if len(req.Parameters) > maxParameters {
		return RegisterResult{}, deviceError(400, CodeInvalidPayload, "at most %d parameters are allowed", maxParameters)
	}
	var (
		tmpl  storedTemplate
		token storedToken
	)
	err := s.db.View(func(tx *bbolt.Tx) error {
		var err error
		if tmpl, err = loadTemplate(tx, req.TemplateName); err != nil {
			return err
		}
		found, err := getJSON(tx.Bucket(bucketTokens), req.Token, &token)
		if err != nil {
			return err
		}
		if !found {
			return deviceError(400, CodeInvalidToken, "Certificate ownership token is invalid or was already used.")
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return RegisterResult{}, deviceError(404, CodeNotFound, "Provisioning template %s does not exist", req.TemplateName)
		}
		var de *DeviceError
		if errors.As(err, &de) {
			return RegisterResult{}, de
		}
		return RegisterResult{}, deviceError(500, CodeInternalFailure, "internal failure")
	}
	if s.now().After(token.Expires) {
		return RegisterResult{}, deviceError(400, CodeInvalidToken, "Certificate ownership token has expired.")
	}
	// Take the token for the time of this request, so that two requests with one token cannot
	// both succeed; a refusal gives it back.
	if !s.takeToken(req.Token) {
		return RegisterResult{}, deviceError(400, CodeInvalidToken, "Certificate ownership token is invalid or was already used.")
	}
	spent := false
	defer func() {
		if !spent {
			_ = s.db.Update(func(tx *bbolt.Tx) error { return putJSON(tx.Bucket(bucketTokens), req.Token, token) })
		}
	}()
	if tmpl.Type != FleetProvisioning {
		return RegisterResult{}, deviceError(403, CodeAccessDenied, "Provisioning template %s is not a FLEET_PROVISIONING template", req.TemplateName)
	}
	if !tmpl.Enabled {
		return RegisterResult{}, deviceError(403, CodeAccessDenied, "Provisioning template %s is disabled", req.TemplateName)
	}
	version, _ := tmpl.version(tmpl.DefaultVersionID)
	body, err := ParseBody(version.Body, tmpl.Type)
	if err != nil {
		return RegisterResult{}, deviceError(500, CodeInternalFailure, "the stored template does not parse")
	}
	params := map[string]string{}
	for k, v := range req.Parameters {
		params[k] = v
	}
	cert, err := s.opts.Registry.DescribeCertificate(token.CertificateID)
	if err != nil {
		return RegisterResult{}, deviceError(400, CodeInvalidToken, "The certificate of this ownership token no longer exists.")
	}
	if tmpl.Hook != nil {
		overrides, err := s.callHook(ctx, tmpl.Template, req, cert)
		if err != nil {
			return RegisterResult{}, err
		}
		for k, v := range overrides {
			params[k] = v
		}
	}
	params["AWS::IoT::Certificate::Id"] = cert.ID
	res, err := s.apply(body, params, cert.ID, nil, nil)
	if err != nil {
		return RegisterResult{}, err
	}
	spent = true
	return res, nil
}

// apply evaluates a template for a certificate and applies it in one registry transaction.
// newCert and ca are set for JITP, where the certificate is registered by the same transaction.
func (s *Service) apply(body *Body, params map[string]string, certID string, newCert *x509.Certificate, ca *registry.CACertificate) (RegisterResult, error) {
	plan, err := body.Evaluate(params)
	if err != nil {
		return RegisterResult{}, err
	}
	in := planInput(plan)
	in.CertificateID, in.NewCertificate = certID, newCert
	if ca != nil {
		in.CACertificateID, in.Mode = ca.ID, ca.Mode
	}
	if c := plan.Certificate; c != nil {
		if !strings.EqualFold(c.ID, certID) {
			return RegisterResult{}, deviceError(400, CodeInvalidParameter, "Resources.%s.Properties.CertificateId %q is not the certificate being provisioned", c.LogicalID, c.ID)
		}
		in.CertificateStatus = registry.CertificateStatus(c.Status)
		in.CertificateOverride = c.Override
	}
	out, err := s.opts.Registry.Provision(in)
	if err != nil {
		return RegisterResult{}, provisionFailure(err)
	}
	res := RegisterResult{DeviceConfiguration: plan.DeviceConfiguration, CertificateID: out.Certificate.ID, ResourceARNs: map[string]string{}}
	if plan.Certificate != nil {
		res.ResourceARNs[plan.Certificate.LogicalID] = out.Certificate.ARN
	}
	if out.Thing != nil {
		res.ThingName = out.Thing.Name
		res.ResourceARNs[plan.Thing.LogicalID] = out.Thing.ARN
	}
	for i, p := range out.Policies {
		res.ResourceARNs[plan.Policies[i].LogicalID] = p.ARN
	}
	return res, nil
}

// provisionFailure turns a registry refusal into what the device receives.
func provisionFailure(err error) error {
	var re *registry.Error
	if !errors.As(err, &re) {
		return deviceError(500, CodeInternalFailure, "internal failure")
	}
	if errors.Is(err, registry.ErrResourceConflicts) {
		return deviceError(409, CodeConflict, "%s", re.Message)
	}
	// A missing thing type or group, a limit, a revoked certificate: the resources could not be made.
	return deviceError(400, CodeRegistration, "%s", re.Message)
}

// hookEvent is the event a pre-provisioning hook receives.
type hookEvent struct {
	ClaimCertificateID string            `json:"claimCertificateId"`
	CertificateID      string            `json:"certificateId"`
	CertificatePEM     string            `json:"certificatePem"`
	TemplateARN        string            `json:"templateArn"`
	ClientID           string            `json:"clientId"`
	Parameters         map[string]string `json:"parameters"`
}

// hookAnswer is what the hook returns. allowProvisioning may be a boolean or the string "true"
// (AWS's page shows both).
type hookAnswer struct {
	AllowProvisioning  any               `json:"allowProvisioning"`
	ParameterOverrides map[string]string `json:"parameterOverrides"`
	ErrorType          string            `json:"errorType"`
	ErrorMessage       string            `json:"errorMessage"`
}

// callHook invokes the template's pre-provisioning hook within AWS's 5 seconds. Anything but an
// answer allowing provisioning refuses the request with 403 AccessDenied.
func (s *Service) callHook(ctx context.Context, t Template, req RegisterRequest, cert registry.Certificate) (map[string]string, error) {
	denied := func(format string, args ...any) error {
		s.log.Warn("pre-provisioning hook refused provisioning", "template", t.Name, "function", t.Hook.TargetARN, "reason", fmt.Sprintf(format, args...))
		return deviceError(403, CodeAccessDenied, "Provisioning was denied by the pre-provisioning hook")
	}
	if s.opts.Invoker == nil {
		return nil, denied("no function invoker is configured")
	}
	params := req.Parameters
	if params == nil {
		params = map[string]string{}
	}
	event, err := json.Marshal(hookEvent{
		ClaimCertificateID: req.ClaimCertificateID, CertificateID: cert.ID, CertificatePEM: cert.PEM,
		TemplateARN: t.ARN, ClientID: req.ClientID, Parameters: params,
	})
	if err != nil {
		return nil, denied("encode event: %v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.HookTimeout)
	defer cancel()
	stop := context.AfterFunc(s.closing, cancel)
	defer stop()
	out, err := s.opts.Invoker.Invoke(ctx, t.Hook.TargetARN, event)
	if err != nil {
		return nil, denied("invoke: %v", err)
	}
	var ans hookAnswer
	if err := json.Unmarshal(out, &ans); err != nil {
		return nil, denied("the answer is not a JSON object: %v", err)
	}
	if ans.ErrorType != "" {
		return nil, denied("the function failed: %s: %s", ans.ErrorType, ans.ErrorMessage)
	}
	switch v := ans.AllowProvisioning.(type) {
	case bool:
		if !v {
			return nil, denied("allowProvisioning is false")
		}
	case string:
		if !strings.EqualFold(v, "true") {
			return nil, denied("allowProvisioning is %q", v)
		}
	default:
		return nil, denied("allowProvisioning is missing")
	}
	return ans.ParameterOverrides, nil
}

// ProvisionJITP provisions a certificate presented for the first time, signed by ca, from the
// CA's registration config (a JITP template by name, or an inline template body). Parameters
// are the built-in AWS::IoT::Certificate::* values of the certificate's subject. It reports
// false when the CA has no registration template (JITR applies instead).
func (s *Service) ProvisionJITP(cert *x509.Certificate, ca registry.CACertificate) (bool, error) {
	rc := ca.RegistrationConfig
	var text string
	switch {
	case rc.TemplateName != "":
		t, err := s.DescribeTemplate(rc.TemplateName)
		if err != nil {
			return true, fmt.Errorf("JITP template %s of CA %s: %w", rc.TemplateName, ca.ID, err)
		}
		if t.Type != JITP {
			return true, fmt.Errorf("template %s of CA %s is not a JITP template", rc.TemplateName, ca.ID)
		}
		text = t.Body
	case rc.TemplateBody != "":
		text = rc.TemplateBody
	default:
		return false, nil
	}
	body, err := ParseBody(text, JITP)
	if err != nil {
		return true, fmt.Errorf("JITP template of CA %s: %w", ca.ID, err)
	}
	params := CertificateParameters(cert)
	for name := range body.Parameters {
		if strings.HasPrefix(name, "AWS::IoT::Certificate::") {
			if _, ok := params[name]; !ok && body.Parameters[name].Default == nil {
				return true, fmt.Errorf("JITP: the certificate has no %s, which the template declares", name)
			}
		}
	}
	if _, err := s.apply(body, params, params["AWS::IoT::Certificate::Id"], cert, &ca); err != nil {
		return true, fmt.Errorf("JITP with CA %s: %w", ca.ID, err)
	}
	return true, nil
}

// CertificateParameters are the built-in parameters of a certificate: its subject's fields and
// its AWS IoT certificate id.
func CertificateParameters(cert *x509.Certificate) map[string]string {
	p := map[string]string{"AWS::IoT::Certificate::Id": registry.CertificateID(cert.Raw)}
	sub := cert.Subject
	set := func(name string, vals []string) {
		if len(vals) > 0 && vals[0] != "" {
			p["AWS::IoT::Certificate::"+name] = vals[0]
		}
	}
	set("Country", sub.Country)
	set("Organization", sub.Organization)
	set("OrganizationalUnit", sub.OrganizationalUnit)
	set("StateName", sub.Province)
	set("CommonName", []string{sub.CommonName})
	set("SerialNumber", []string{sub.SerialNumber})
	for _, n := range sub.Names {
		if n.Type.Equal([]int{2, 5, 4, 46}) { // dnQualifier
			if s, ok := n.Value.(string); ok {
				p["AWS::IoT::Certificate::DistinguishedNameQualifier"] = s
			}
		}
	}
	return p
}

// Claim is a temporary claim certificate of CreateProvisioningClaim.
type Claim struct {
	CertificateID  string
	CertificatePEM string
	PublicKey      string
	PrivateKey     string
	Expiration     time.Time
}

// CreateClaim makes a claim certificate for a template, valid 5 minutes. It is not a registered
// certificate; ClaimTemplate recognises it when a device connects with it.
func (s *Service) CreateClaim(templateName string) (Claim, error) {
	t, err := s.DescribeTemplate(templateName)
	if err != nil {
		return Claim{}, err
	}
	creds, err := s.opts.Issuer.IssueDevice()
	if err != nil {
		return Claim{}, fmt.Errorf("provisioning: issue claim certificate: %w", err)
	}
	block, _ := pem.Decode([]byte(creds.CertificatePEM))
	if block == nil {
		return Claim{}, errors.New("provisioning: issued claim certificate is not PEM")
	}
	id := registry.CertificateID(block.Bytes)
	exp := s.now().Add(claimLifetime)
	err = s.db.Update(func(tx *bbolt.Tx) error {
		return putJSON(tx.Bucket(bucketClaims), id, storedClaim{TemplateName: t.Name, Expires: exp})
	})
	if err != nil {
		return Claim{}, err
	}
	return Claim{CertificateID: id, CertificatePEM: creds.CertificatePEM, PublicKey: creds.PublicKeyPEM, PrivateKey: creds.PrivateKeyPEM, Expiration: exp}, nil
}

// ClaimTemplate reports the template of a claim certificate that has not expired.
func (s *Service) ClaimTemplate(certID string) (string, time.Time, bool) {
	var c storedClaim
	var found bool
	_ = s.db.View(func(tx *bbolt.Tx) error {
		var err error
		found, err = getJSON(tx.Bucket(bucketClaims), certID, &c)
		return err
	})
	if !found || s.now().After(c.Expires) {
		return "", time.Time{}, false
	}
	return c.TemplateName, c.Expires, true
}

// ClaimPolicyDocument is the policy a claim certificate of CreateProvisioningClaim connects
// with: connect, and the fleet provisioning topics of its template only.
func (s *Service) ClaimPolicyDocument(templateName string) string {
	topic := "arn:aws:iot:" + s.region + ":" + s.acct + ":topic/"
	filter := "arn:aws:iot:" + s.region + ":" + s.acct + ":topicfilter/"
	paths := []string{"$aws/certificates/create/*", "$aws/certificates/create-from-csr/*", "$aws/provisioning-templates/" + templateName + "/provision/*"}
	var topics, filters []string
	for _, p := range paths {
		topics = append(topics, topic+p)
		filters = append(filters, filter+p)
	}
	doc := map[string]any{
		"Version": "2012-10-17",
		"Statement": []map[string]any{
			{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"},
			{"Effect": "Allow", "Action": []string{"iot:Publish", "iot:Receive"}, "Resource": topics},
			{"Effect": "Allow", "Action": "iot:Subscribe", "Resource": filters},
		},
	}
	data, _ := json.Marshal(doc)
	return string(data)
}
