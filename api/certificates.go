package api

import (
	"fmt"

	"github.com/iotcore-local/iotcore-local/registry"
)

// keyPair is CreateKeysAndCertificate's keyPair; its members are capitalised in the model.
type keyPair struct {
	PublicKey  string `json:"PublicKey"`
	PrivateKey string `json:"PrivateKey"`
}

// createKeysAndCertificateResponse is CreateKeysAndCertificate's output.
type createKeysAndCertificateResponse struct {
	CertificateArn string  `json:"certificateArn"`
	CertificateID  string  `json:"certificateId"`
	CertificatePem string  `json:"certificatePem"`
	KeyPair        keyPair `json:"keyPair"`
}

// createKeysAndCertificate is CreateKeysAndCertificate: POST /keys-and-certificate?setAsActive.
// The certificate is issued by the emulator's device CA and registered ACTIVE or INACTIVE; the
// private key is returned once and never stored.
func (s *server) createKeysAndCertificate(c *call) (any, error) {
	active, err := boolQuery(c, "setAsActive")
	if err != nil {
		return nil, err
	}
	if s.cfg.Issuer == nil {
		return nil, errIssuerMissing
	}
	creds, err := s.cfg.Issuer.IssueDevice()
	if err != nil {
		return nil, fmt.Errorf("issue device certificate: %w", err)
	}
	status := registry.StatusInactive
	if active {
		status = registry.StatusActive
	}
	cert, err := s.reg.RegisterCertificate(creds.CertificatePEM, status, "")
	if err != nil {
		return nil, fmt.Errorf("register issued certificate: %w", err)
	}
	return createKeysAndCertificateResponse{
		CertificateArn: cert.ARN,
		CertificateID:  cert.ID,
		CertificatePem: cert.PEM,
		KeyPair:        keyPair{PublicKey: creds.PublicKeyPEM, PrivateKey: creds.PrivateKeyPEM},
	}, nil
}

// registerCertificateWithoutCARequest is RegisterCertificateWithoutCA's JSON body.
type registerCertificateWithoutCARequest struct {
	CertificatePem *string `json:"certificatePem"`
	Status         string  `json:"status"`
}

// certificateRef is the output of the certificate registrations.
type certificateRef struct {
	CertificateArn string `json:"certificateArn"`
	CertificateID  string `json:"certificateId"`
}

// registerCertificateWithoutCA is RegisterCertificateWithoutCA: POST /certificate/register-no-ca.
// Without a status the certificate is INACTIVE, as in AWS.
func (s *server) registerCertificateWithoutCA(c *call) (any, error) {
	var in registerCertificateWithoutCARequest
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	if in.CertificatePem == nil || *in.CertificatePem == "" {
		return nil, invalidRequest("certificatePem: required")
	}
	status := registry.StatusInactive
	if in.Status != "" {
		status = registry.CertificateStatus(in.Status)
		if !status.Valid() {
			return nil, invalidRequest("status: %q is not a certificate status", in.Status)
		}
	}
	cert, err := s.reg.RegisterCertificate(*in.CertificatePem, status, "")
	if err != nil {
		return nil, fmt.Errorf("register certificate: %w", err)
	}
	return certificateRef{CertificateArn: cert.ARN, CertificateID: cert.ID}, nil
}

// certificateValidity is the validity of a CertificateDescription.
type certificateValidity struct {
	NotBefore epochSeconds `json:"notBefore,omitzero"`
	NotAfter  epochSeconds `json:"notAfter,omitzero"`
}

// certificateDescription is DescribeCertificate's certificateDescription.
type certificateDescription struct {
	CertificateArn   string              `json:"certificateArn"`
	CertificateID    string              `json:"certificateId"`
	CACertificateID  string              `json:"caCertificateId,omitempty"`
	Status           string              `json:"status"`
	CertificatePem   string              `json:"certificatePem"`
	OwnedBy          string              `json:"ownedBy,omitempty"`
	CreationDate     epochSeconds        `json:"creationDate,omitzero"`
	LastModifiedDate epochSeconds        `json:"lastModifiedDate,omitzero"`
	CustomerVersion  int64               `json:"customerVersion"`
	GenerationID     string              `json:"generationId,omitempty"`
	Validity         certificateValidity `json:"validity"`
	CertificateMode  string              `json:"certificateMode"`
}

// describeCertificateResponse is DescribeCertificate's output.
type describeCertificateResponse struct {
	CertificateDescription certificateDescription `json:"certificateDescription"`
}

// modeOf is a certificate's certificateMode: its CA's, DEFAULT for the others.
func modeOf(c registry.Certificate) string {
	if c.Mode == "" {
		return string(registry.ModeDefault)
	}
	return string(c.Mode)
}

// describeCertificate is DescribeCertificate: GET /certificates/{certificateId}.
func (s *server) describeCertificate(c *call) (any, error) {
	id := c.vars["certificateId"] // its form (64 hex digits) is checked by the registry
	cert, err := s.reg.DescribeCertificate(id)
	if err != nil {
		return nil, fmt.Errorf("describe certificate %s: %w", id, err)
	}
	return describeCertificateResponse{CertificateDescription: certificateDescription{
		CertificateArn:   cert.ARN,
		CertificateID:    cert.ID,
		CACertificateID:  cert.CACertificateID,
		Status:           string(cert.Status),
		CertificatePem:   cert.PEM,
		OwnedBy:          cert.OwnedBy,
		CreationDate:     epochSeconds(cert.CreationDate),
		LastModifiedDate: epochSeconds(cert.LastModifiedDate),
		CustomerVersion:  cert.CustomerVersion,
		GenerationID:     cert.GenerationID,
		Validity:         certificateValidity{NotBefore: epochSeconds(cert.NotBefore), NotAfter: epochSeconds(cert.NotAfter)},
		CertificateMode:  modeOf(cert),
	}}, nil
}

// certificateSummary is one certificate of ListCertificates.
type certificateSummary struct {
	CertificateArn  string       `json:"certificateArn"`
	CertificateID   string       `json:"certificateId"`
	Status          string       `json:"status"`
	CertificateMode string       `json:"certificateMode"`
	CreationDate    epochSeconds `json:"creationDate,omitzero"`
}

// listCertificatesResponse is ListCertificates' output; nextMarker is absent on the last page.
type listCertificatesResponse struct {
	Certificates []certificateSummary `json:"certificates"`
	NextMarker   string               `json:"nextMarker,omitempty"`
}

// listCertificates is ListCertificates: GET /certificates?pageSize&marker&isAscendingOrder.
func (s *server) listCertificates(c *call) (any, error) {
	pageSize, asc, err := markerPaging(c)
	if err != nil {
		return nil, err
	}
	certs, next, err := s.reg.ListCertificates(c.query("marker"), pageSize, asc)
	if err != nil {
		return nil, fmt.Errorf("list certificates: %w", err)
	}
	return listCertificatesResponse{Certificates: summarizeCertificates(certs), NextMarker: next}, nil
}

// summarizeCertificates builds the certificates list of ListCertificates and
// ListCertificatesByCA; an empty one encodes as [].
func summarizeCertificates(certs []registry.Certificate) []certificateSummary {
	out := make([]certificateSummary, 0, len(certs))
	for _, cert := range certs {
		out = append(out, certificateSummary{
			CertificateArn:  cert.ARN,
			CertificateID:   cert.ID,
			Status:          string(cert.Status),
			CertificateMode: modeOf(cert),
			CreationDate:    epochSeconds(cert.CreationDate),
		})
	}
	return out
}

// updateCertificate is UpdateCertificate: PUT /certificates/{certificateId}?newStatus. The
// registry decides which transitions are allowed (CertificateStateException otherwise).
func (s *server) updateCertificate(c *call) (any, error) {
	id := c.vars["certificateId"] // its form (64 hex digits) is checked by the registry
	v := c.query("newStatus")
	if v == "" {
		return nil, invalidRequest("newStatus: required")
	}
	status := registry.CertificateStatus(v)
	if !status.Valid() {
		return nil, invalidRequest("newStatus: %q is not a certificate status", v)
	}
	if err := s.reg.UpdateCertificateStatus(id, status); err != nil {
		return nil, fmt.Errorf("update certificate %s to %s: %w", id, status, err)
	}
	return empty{}, nil
}

// deleteCertificate is DeleteCertificate: DELETE /certificates/{certificateId}?forceDelete.
func (s *server) deleteCertificate(c *call) (any, error) {
	id := c.vars["certificateId"] // its form (64 hex digits) is checked by the registry
	force, err := boolQuery(c, "forceDelete")
	if err != nil {
		return nil, err
	}
	if err := s.reg.DeleteCertificate(id, force); err != nil {
		return nil, fmt.Errorf("delete certificate %s: %w", id, err)
	}
	return empty{}, nil
}
