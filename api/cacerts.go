package api

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"

	"github.com/iotcore-local/iotcore-local/registry"
)

// registrationCodeResponse is GetRegistrationCode's output.
type registrationCodeResponse struct {
	RegistrationCode string `json:"registrationCode"`
}

// getRegistrationCode is GetRegistrationCode: GET /registrationcode. The code is kept, so every
// call answers the same one until DeleteRegistrationCode.
func (s *server) getRegistrationCode(*call) (any, error) {
	code, err := s.reg.GetRegistrationCode()
	if err != nil {
		return nil, fmt.Errorf("get registration code: %w", err)
	}
	return registrationCodeResponse{RegistrationCode: code}, nil
}

// deleteRegistrationCode is DeleteRegistrationCode: DELETE /registrationcode.
func (s *server) deleteRegistrationCode(*call) (any, error) {
	if err := s.reg.DeleteRegistrationCode(); err != nil {
		return nil, fmt.Errorf("delete registration code: %w", err)
	}
	return empty{}, nil
}

// registrationConfig is RegistrationConfig, in requests and in DescribeCACertificate.
type registrationConfig struct {
	TemplateBody string `json:"templateBody,omitempty"`
	RoleARN      string `json:"roleArn,omitempty"`
	TemplateName string `json:"templateName,omitempty"`
}

// registerCACertificateRequest is RegisterCACertificate's JSON body.
type registerCACertificateRequest struct {
	CACertificate           *string             `json:"caCertificate"`
	VerificationCertificate string              `json:"verificationCertificate"`
	RegistrationConfig      *registrationConfig `json:"registrationConfig"`
	CertificateMode         string              `json:"certificateMode"`
	Tags                    []tag               `json:"tags"`
}

// registerCACertificate is RegisterCACertificate:
// POST /cacertificate?setAsActive&allowAutoRegistration. In DEFAULT mode the verification
// certificate must be signed by the CA and carry the registration code as its common name.
func (s *server) registerCACertificate(c *call) (any, error) {
	var in registerCACertificateRequest
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	if in.CACertificate == nil || *in.CACertificate == "" {
		return nil, invalidRequest("caCertificate: required")
	}
	active, err := boolQuery(c, "setAsActive")
	if err != nil {
		return nil, err
	}
	auto, err := boolQuery(c, "allowAutoRegistration")
	if err != nil {
		return nil, err
	}
	ri := registry.RegisterCACertificateInput{
		CACertificatePEM:           *in.CACertificate,
		VerificationCertificatePEM: in.VerificationCertificate,
		Mode:                       registry.CertificateMode(in.CertificateMode),
		SetAsActive:                active,
		AllowAutoRegistration:      auto,
		Tags:                       registryTags(in.Tags),
	}
	if in.RegistrationConfig != nil {
		ri.RegistrationConfig = registry.RegistrationConfig(*in.RegistrationConfig)
		if err := s.checkRegistrationConfig(ri.RegistrationConfig); err != nil {
			return nil, err
		}
	}
	ca, err := s.reg.RegisterCACertificate(ri)
	if err != nil {
		return nil, fmt.Errorf("register CA certificate: %w", err)
	}
	return certificateRef{CertificateArn: ca.ARN, CertificateID: ca.ID}, nil
}

// caCertificateDescription is DescribeCACertificate's certificateDescription.
type caCertificateDescription struct {
	CertificateArn         string              `json:"certificateArn"`
	CertificateID          string              `json:"certificateId"`
	Status                 string              `json:"status"`
	CertificatePem         string              `json:"certificatePem"`
	OwnedBy                string              `json:"ownedBy"`
	CreationDate           epochSeconds        `json:"creationDate,omitzero"`
	AutoRegistrationStatus string              `json:"autoRegistrationStatus"`
	LastModifiedDate       epochSeconds        `json:"lastModifiedDate,omitzero"`
	CustomerVersion        int64               `json:"customerVersion"`
	GenerationID           string              `json:"generationId"`
	Validity               certificateValidity `json:"validity"`
	CertificateMode        string              `json:"certificateMode"`
}

// describeCACertificateResponse is DescribeCACertificate's output.
type describeCACertificateResponse struct {
	CertificateDescription caCertificateDescription `json:"certificateDescription"`
	RegistrationConfig     *registrationConfig      `json:"registrationConfig,omitempty"`
}

// describeCACertificate is DescribeCACertificate: GET /cacertificate/{certificateId}.
func (s *server) describeCACertificate(c *call) (any, error) {
	id := c.vars["certificateId"] // its form (64 hex digits) is checked by the registry
	ca, err := s.reg.DescribeCACertificate(id)
	if err != nil {
		return nil, fmt.Errorf("describe CA certificate %s: %w", id, err)
	}
	out := describeCACertificateResponse{CertificateDescription: caCertificateDescription{
		CertificateArn:         ca.ARN,
		CertificateID:          ca.ID,
		Status:                 string(ca.Status),
		CertificatePem:         ca.PEM,
		OwnedBy:                ca.OwnedBy,
		CreationDate:           epochSeconds(ca.CreationDate),
		AutoRegistrationStatus: string(ca.AutoRegistrationStatus),
		LastModifiedDate:       epochSeconds(ca.LastModifiedDate),
		CustomerVersion:        ca.CustomerVersion,
		GenerationID:           ca.GenerationID,
		Validity:               certificateValidity{NotBefore: epochSeconds(ca.NotBefore), NotAfter: epochSeconds(ca.NotAfter)},
		CertificateMode:        string(ca.Mode),
	}}
	if ca.RegistrationConfig != (registry.RegistrationConfig{}) {
		rc := registrationConfig(ca.RegistrationConfig)
		out.RegistrationConfig = &rc
	}
	return out, nil
}

// updateCACertificateRequest is UpdateCACertificate's JSON body.
type updateCACertificateRequest struct {
	RegistrationConfig     *registrationConfig `json:"registrationConfig"`
	RemoveAutoRegistration bool                `json:"removeAutoRegistration"`
}

// updateCACertificate is UpdateCACertificate:
// PUT /cacertificate/{certificateId}?newStatus&newAutoRegistrationStatus.
func (s *server) updateCACertificate(c *call) (any, error) {
	var in updateCACertificateRequest
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	id := c.vars["certificateId"]
	ui := registry.UpdateCACertificateInput{
		NewStatus:                 registry.CertificateStatus(c.query("newStatus")),
		NewAutoRegistrationStatus: registry.AutoRegistrationStatus(c.query("newAutoRegistrationStatus")),
		RemoveAutoRegistration:    in.RemoveAutoRegistration,
	}
	if in.RegistrationConfig != nil {
		rc := registry.RegistrationConfig(*in.RegistrationConfig)
		ui.RegistrationConfig = &rc
		if err := s.checkRegistrationConfig(rc); err != nil {
			return nil, err
		}
	}
	if err := s.reg.UpdateCACertificate(id, ui); err != nil {
		return nil, fmt.Errorf("update CA certificate %s: %w", id, err)
	}
	return empty{}, nil
}

// caCertificateSummary is one CA of ListCACertificates.
type caCertificateSummary struct {
	CertificateArn string       `json:"certificateArn"`
	CertificateID  string       `json:"certificateId"`
	Status         string       `json:"status"`
	CreationDate   epochSeconds `json:"creationDate,omitzero"`
}

// listCACertificatesResponse is ListCACertificates' output; nextMarker is absent on the last page.
type listCACertificatesResponse struct {
	Certificates []caCertificateSummary `json:"certificates"`
	NextMarker   string                 `json:"nextMarker,omitempty"`
}

// listCACertificates is ListCACertificates: GET /cacertificates?pageSize&marker&isAscendingOrder&templateName.
func (s *server) listCACertificates(c *call) (any, error) {
	pageSize, asc, err := markerPaging(c)
	if err != nil {
		return nil, err
	}
	cas, next, err := s.reg.ListCACertificates(c.query("marker"), pageSize, asc, c.query("templateName"))
	if err != nil {
		return nil, fmt.Errorf("list CA certificates: %w", err)
	}
	out := listCACertificatesResponse{Certificates: make([]caCertificateSummary, 0, len(cas)), NextMarker: next}
	for _, ca := range cas {
		out.Certificates = append(out.Certificates, caCertificateSummary{
			CertificateArn: ca.ARN,
			CertificateID:  ca.ID,
			Status:         string(ca.Status),
			CreationDate:   epochSeconds(ca.CreationDate),
		})
	}
	return out, nil
}

// deleteCACertificate is DeleteCACertificate: DELETE /cacertificate/{certificateId}. An ACTIVE
// CA gives a CertificateStateException (406).
func (s *server) deleteCACertificate(c *call) (any, error) {
	id := c.vars["certificateId"]
	if err := s.reg.DeleteCACertificate(id); err != nil {
		return nil, fmt.Errorf("delete CA certificate %s: %w", id, err)
	}
	return empty{}, nil
}

// registerCertificateRequest is RegisterCertificate's JSON body.
type registerCertificateRequest struct {
	CertificatePem   *string `json:"certificatePem"`
	CACertificatePem string  `json:"caCertificatePem"`
	Status           string  `json:"status"`
}

// registerCertificate is RegisterCertificate: POST /certificate/register?setAsActive. The
// certificate must be signed by a registered CA (the one given, or the one found); status wins
// over the deprecated setAsActive, and with neither the certificate is INACTIVE.
func (s *server) registerCertificate(c *call) (any, error) {
	var in registerCertificateRequest
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	if in.CertificatePem == nil || *in.CertificatePem == "" {
		return nil, invalidRequest("certificatePem: required")
	}
	active, err := boolQuery(c, "setAsActive")
	if err != nil {
		return nil, err
	}
	status := registry.CertificateStatus(in.Status)
	if status == "" && active {
		status = registry.StatusActive
	}
	if status != "" && !status.Valid() {
		return nil, invalidRequest("status: %q is not a certificate status", in.Status)
	}
	cert, err := s.reg.RegisterCertificateWithCA(registry.RegisterCertificateInput{
		CertificatePEM:   *in.CertificatePem,
		CACertificatePEM: in.CACertificatePem,
		Status:           status,
	})
	if err != nil {
		return nil, fmt.Errorf("register certificate: %w", err)
	}
	return certificateRef{CertificateArn: cert.ARN, CertificateID: cert.ID}, nil
}

// listCertificatesByCA is ListCertificatesByCA:
// GET /certificates-by-ca/{caCertificateId}?pageSize&marker&isAscendingOrder.
func (s *server) listCertificatesByCA(c *call) (any, error) {
	pageSize, asc, err := markerPaging(c)
	if err != nil {
		return nil, err
	}
	id := c.vars["caCertificateId"]
	certs, next, err := s.reg.ListCertificatesByCA(id, c.query("marker"), pageSize, asc)
	if err != nil {
		return nil, fmt.Errorf("list certificates of CA %s: %w", id, err)
	}
	return listCertificatesResponse{Certificates: summarizeCertificates(certs), NextMarker: next}, nil
}

// createCertificateFromCsrRequest is CreateCertificateFromCsr's JSON body.
type createCertificateFromCsrRequest struct {
	CertificateSigningRequest *string `json:"certificateSigningRequest"`
}

// createCertificateFromCsrResponse is CreateCertificateFromCsr's output.
type createCertificateFromCsrResponse struct {
	CertificateArn string `json:"certificateArn"`
	CertificateID  string `json:"certificateId"`
	CertificatePem string `json:"certificatePem"`
}

// createCertificateFromCsr is CreateCertificateFromCsr: POST /certificates?setAsActive. The
// emulator's device CA signs the CSR's key (each call a new certificate, as in AWS); the
// certificate is registered ACTIVE or INACTIVE like CreateKeysAndCertificate's.
func (s *server) createCertificateFromCsr(c *call) (any, error) {
	var in createCertificateFromCsrRequest
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	if in.CertificateSigningRequest == nil || *in.CertificateSigningRequest == "" {
		return nil, invalidRequest("certificateSigningRequest: required")
	}
	active, err := boolQuery(c, "setAsActive")
	if err != nil {
		return nil, err
	}
	csr, err := parseCSR(*in.CertificateSigningRequest)
	if err != nil {
		return nil, err
	}
	if s.cfg.CSRSigner == nil {
		return nil, errSignerMissing
	}
	certPEM, err := s.cfg.CSRSigner.SignCSR(csr)
	if err != nil {
		return nil, fmt.Errorf("sign CSR: %w", err)
	}
	status := registry.StatusInactive
	if active {
		status = registry.StatusActive
	}
	cert, err := s.reg.RegisterCertificate(certPEM, status, "")
	if err != nil {
		return nil, fmt.Errorf("register certificate signed from a CSR: %w", err)
	}
	return createCertificateFromCsrResponse{CertificateArn: cert.ARN, CertificateID: cert.ID, CertificatePem: cert.PEM}, nil
}

// parseCSR decodes a PEM certificate signing request and checks what AWS checks: its signature,
// and a key that is RSA of at least 2048 bits or ECDSA on P-256, P-384 or P-521.
func parseCSR(text string) (*x509.CertificateRequest, error) {
	block, _ := pem.Decode([]byte(text))
	if block == nil || (block.Type != "CERTIFICATE REQUEST" && block.Type != "NEW CERTIFICATE REQUEST") {
		return nil, invalidRequest("certificateSigningRequest: not a PEM certificate signing request (-----BEGIN CERTIFICATE REQUEST-----)")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, invalidRequest("certificateSigningRequest: not a valid certificate signing request: %v", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, invalidRequest("certificateSigningRequest: its signature does not verify: %v", err)
	}
	switch k := csr.PublicKey.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return nil, invalidRequest("certificateSigningRequest: RSA key of %d bits; at least 2048 are required", k.N.BitLen())
		}
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
		default:
			return nil, invalidRequest("certificateSigningRequest: ECDSA curve %s is not supported; use P-256, P-384 or P-521", k.Curve.Params().Name)
		}
	default:
		return nil, invalidRequest("certificateSigningRequest: %T keys are not supported; use RSA (2048 bits or more) or ECDSA", csr.PublicKey)
	}
	return csr, nil
}
