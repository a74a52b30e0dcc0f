package registry

// RegisterCertificate stores a PEM certificate with the given status (and CA id, "" for none).
// The ID is the lowercase hex SHA-256 of the DER. A bad PEM gives ErrCertificateValidation; an
// already registered certificate ErrAlreadyExists.
func (r *Registry) RegisterCertificate(pem string, status CertificateStatus, caID string) (Certificate, error) {
	panic("not implemented")
}

// DescribeCertificate returns a certificate or ErrNotFound.
func (r *Registry) DescribeCertificate(id string) (Certificate, error) { panic("not implemented") }

// ListCertificates pages certificates by creation date; the returned marker is empty on the last page.
func (r *Registry) ListCertificates(marker string, pageSize int, ascending bool) ([]Certificate, string, error) {
	panic("not implemented")
}

// UpdateCertificateStatus sets a certificate's status (idempotent) and notifies watchers.
func (r *Registry) UpdateCertificateStatus(id string, status CertificateStatus) error {
	panic("not implemented")
}

// DeleteCertificate deletes a certificate. An ACTIVE one gives ErrCertificateState; one with things
// attached, or policies attached and force false, gives ErrDeleteConflict.
func (r *Registry) DeleteCertificate(id string, force bool) error { panic("not implemented") }

// CertificateIdentity reads a certificate with its attached policies and things in one transaction.
func (r *Registry) CertificateIdentity(id string) (CertificateView, error) {
	panic("not implemented")
}
