package provisioning

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"

	"github.com/iotcore-local/iotcore-local/registry"
)

// RegisterThingResult is the answer of the control plane's RegisterThing.
type RegisterThingResult struct {
	CertificatePEM string
	ResourceARNs   map[string]string
}

// RegisterThingFromTemplate is the control plane's RegisterThing (single-thing provisioning): a
// template body given with the request, whose certificate may be an existing one
// (CertificateId), a CSR to sign (CertificateSigningRequest) or a certificate to register
// (CertificatePem, registered without a CA). Everything is made in one registry transaction.
func (s *Service) RegisterThingFromTemplate(text string, params map[string]string) (RegisterThingResult, error) {
	body, err := ParseBody(text, singleThing)
	if err != nil {
		return RegisterThingResult{}, err
	}
	plan, err := body.Evaluate(params)
	if err != nil {
		var de *DeviceError
		if errors.As(err, &de) {
			return RegisterThingResult{}, newError(ErrInvalidRequest, "%s", de.ErrorMessage)
		}
		return RegisterThingResult{}, err
	}
	in := planInput(plan)
	if c := plan.Certificate; c != nil {
		in.CertificateStatus = registry.CertificateStatus(c.Status)
		in.CertificateOverride = c.Override
		switch {
		case c.ID != "":
			in.CertificateID = strings.ToLower(c.ID)
		case c.CSR != "":
			block, _ := pem.Decode([]byte(c.CSR))
			if block == nil {
				return RegisterThingResult{}, newError(ErrInvalidRequest, "Resources.%s.Properties.CertificateSigningRequest: not a PEM certificate request", c.LogicalID)
			}
			csr, err := x509.ParseCertificateRequest(block.Bytes)
			if err != nil {
				return RegisterThingResult{}, newError(ErrInvalidRequest, "Resources.%s.Properties.CertificateSigningRequest: %v", c.LogicalID, err)
			}
			certPEM, err := s.opts.Issuer.SignCSR(csr)
			if err != nil {
				return RegisterThingResult{}, newError(ErrInvalidRequest, "Resources.%s.Properties.CertificateSigningRequest: %s", c.LogicalID, strings.TrimPrefix(err.Error(), "pki: sign CSR: "))
			}
			if in.NewCertificate, err = parseCert(certPEM); err != nil {
				return RegisterThingResult{}, err
			}
		case c.PEM != "":
			if in.NewCertificate, err = parseCert(c.PEM); err != nil {
				return RegisterThingResult{}, newError(ErrInvalidRequest, "Resources.%s.Properties.CertificatePem: %v", c.LogicalID, err)
			}
		}
	}
	out, err := s.opts.Registry.Provision(in)
	if err != nil {
		var re *registry.Error
		if errors.As(err, &re) {
			if errors.Is(err, registry.ErrResourceConflicts) {
				return RegisterThingResult{}, newError(ErrConflictingUpdate, "%s", re.Message)
			}
			return RegisterThingResult{}, newError(ErrRegistrationFailure, "%s", re.Message)
		}
		return RegisterThingResult{}, err
	}
	res := RegisterThingResult{ResourceARNs: map[string]string{}}
	if plan.Certificate != nil {
		res.CertificatePEM = out.Certificate.PEM
		res.ResourceARNs[plan.Certificate.LogicalID] = out.Certificate.ARN
	}
	if out.Thing != nil {
		res.ResourceARNs[plan.Thing.LogicalID] = out.Thing.ARN
	}
	for i, p := range out.Policies {
		res.ResourceARNs[plan.Policies[i].LogicalID] = p.ARN
	}
	return res, nil
}

func parseCert(text string) (*x509.Certificate, error) {
	block, _ := pem.Decode([]byte(text))
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("not a PEM certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}

// planInput is the thing and policies of a plan as the registry takes them.
func planInput(plan *Plan) registry.ProvisionInput {
	var in registry.ProvisionInput
	if t := plan.Thing; t != nil {
		in.Thing = &registry.ProvisionThing{
			Name: t.Name, TypeName: t.TypeName, Attributes: t.Attributes, Groups: t.Groups, BillingGroup: t.BillingGroup,
			HasAttributes: t.HasAttributes, HasType: t.HasType, HasGroups: t.HasGroups, Overrides: t.Overrides,
		}
	}
	for _, p := range plan.Policies {
		in.Policies = append(in.Policies, registry.ProvisionPolicy{Name: p.Name, Document: p.Document})
	}
	return in
}
