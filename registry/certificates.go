package registry

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.etcd.io/bbolt"
)

// RegisterCertificate stores a PEM certificate with the given status (and CA id, "" for none).
// The ID is the lowercase hex SHA-256 of the DER. A bad PEM gives ErrCertificateValidation; an
// already registered certificate ErrAlreadyExists.
//
// An empty status means INACTIVE, AWS's default for registered certificates. Only the first PEM
// block is used, and the certificate is stored re-encoded from its DER.
func (r *Registry) RegisterCertificate(pemText string, status CertificateStatus, caID string) (Certificate, error) {
	if status == "" {
		status = StatusInactive
	}
	if !status.Valid() {
		return Certificate{}, newError(ErrInvalidRequest, "Invalid certificate status %q", status)
	}
	if caID != "" {
		var err error
		if caID, err = certID(caID); err != nil {
			return Certificate{}, err
		}
	}
	x, err := parseCertificatePEM(pemText)
	if err != nil {
		return Certificate{}, err
	}
	c := r.newCertificate(x, status, caID, "")
	err = r.update(func(tx *bbolt.Tx, _ func(Event)) error { return insertCertificate(tx, c) })
	if err != nil {
		return Certificate{}, err
	}
	r.log.Debug("certificate registered", "id", c.ID, "status", status)
	return c, nil
}

// newCertificate builds the record of a certificate registered now.
func (r *Registry) newCertificate(x *x509.Certificate, status CertificateStatus, caID string, mode CertificateMode) Certificate {
	id := CertificateID(x.Raw)
	now := r.nowUTC()
	return Certificate{
		ID:               id,
		ARN:              r.CertificateARN(id),
		PEM:              string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: x.Raw})),
		Status:           status,
		CACertificateID:  caID,
		OwnedBy:          r.acct,
		GenerationID:     uuid.NewString(),
		CustomerVersion:  1,
		CreationDate:     now,
		LastModifiedDate: now,
		NotBefore:        x.NotBefore.UTC(),
		NotAfter:         x.NotAfter.UTC(),
		Mode:             mode,
	}
}

// insertCertificate stores a new certificate and its date index entry; ErrAlreadyExists if it
// is registered already.
func insertCertificate(tx *bbolt.Tx, c Certificate) error {
	b := tx.Bucket(bucketCerts)
	if b.Get([]byte(c.ID)) != nil {
		return alreadyExists(c.ID, c.ARN, "The certificate is already provisioned or registered")
	}
	if err := putJSON(b, c.ID, c); err != nil {
		return err
	}
	return putKey(tx.Bucket(bucketCertsByDate), dateKey(c.CreationDate, c.ID), nil)
}

// parseCertificatePEM decodes the first PEM block of text as an X.509 certificate.
func parseCertificatePEM(text string) (*x509.Certificate, error) {
	block, _ := pem.Decode([]byte(text))
	if block == nil {
		return nil, newError(ErrCertificateValidation,
			"The certificate is not PEM-encoded: no -----BEGIN CERTIFICATE----- block found")
	}
	if block.Type != "CERTIFICATE" {
		return nil, newError(ErrCertificateValidation,
			"The PEM block is a %s, not a CERTIFICATE", block.Type)
	}
	x, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, newError(ErrCertificateValidation, "The certificate is not a valid X.509 certificate: %v", err)
	}
	return x, nil
}

// dateKey orders certificates by creation time, then id. The sign bit is flipped so that the
// big-endian bytes of any int64 sort like the numbers.
func dateKey(t time.Time, id string) []byte {
	k := make([]byte, 8, 8+len(id))
	binary.BigEndian.PutUint64(k, uint64(t.UnixNano())^(1<<63))
	return append(k, id...)
}

// DescribeCertificate returns a certificate or ErrNotFound.
func (r *Registry) DescribeCertificate(id string) (Certificate, error) {
	id, err := certID(id)
	if err != nil {
		return Certificate{}, err
	}
	var c Certificate
	err = r.view(func(tx *bbolt.Tx) error {
		c, err = getCert(tx, id)
		return err
	})
	return c, err
}

// getCert reads a certificate by normalised id or returns ErrNotFound.
func getCert(tx *bbolt.Tx, id string) (Certificate, error) {
	return getRecord[Certificate](tx, bucketCerts, id, "The certificate %s does not exist")
}

// ListCertificates pages certificates by creation date (then id); the returned marker is empty on
// the last page. pageSize 0 means 25; at most 250.
func (r *Registry) ListCertificates(marker string, pageSize int, ascending bool) ([]Certificate, string, error) {
	size, err := pageSizeOf(pageSize)
	if err != nil {
		return nil, "", err
	}
	from, err := decodeToken(tokCertificates, marker, "marker")
	if err != nil {
		return nil, "", err
	}
	var (
		certs []Certificate
		p     = pager{size: size}
	)
	err = r.view(func(tx *bbolt.Tx) error {
		return walk(tx.Bucket(bucketCertsByDate), nil, from, ascending, func(k, _ []byte) (bool, error) {
			if len(k) <= 8 {
				return false, fmt.Errorf("registry: malformed certificate index key %x", k)
			}
			if !p.take(k) {
				return false, nil
			}
			c, err := getCert(tx, string(k[8:]))
			if err != nil {
				return false, fmt.Errorf("registry: certificate index names a missing certificate: %w", err)
			}
			certs = append(certs, c)
			return true, nil
		})
	})
	if err != nil {
		return nil, "", err
	}
	return certs, p.token(tokCertificates), nil
}

// pageSizeOf applies the marker-paged operations' default (25) and maximum (250).
func pageSizeOf(n int) (int, error) { return pageSize(n, defaultPage, "pageSize") }

// UpdateCertificateStatus sets a certificate's status (idempotent) and notifies watchers.
//
// AWS refuses PENDING_TRANSFER and PENDING_ACTIVATION as a new status, and a revoked certificate
// cannot become ACTIVE again. Setting the status it already has changes nothing and notifies
// no one; a change bumps LastModifiedDate and CustomerVersion.
func (r *Registry) UpdateCertificateStatus(id string, status CertificateStatus) error {
	id, err := certID(id)
	if err != nil {
		return err
	}
	switch {
	case !status.Valid():
		return newError(ErrInvalidRequest, "Invalid certificate status %q", status)
	case status == StatusPendingTransfer || status == StatusPendingActivation:
		return newError(ErrInvalidRequest, "The certificate status cannot be set to %s", status)
	}
	return r.update(r.setCertificateStatusTx(id, status))
}

// setCertificateStatusTx is UpdateCertificateStatus inside a write transaction (for Provision too).
func (r *Registry) setCertificateStatusTx(id string, status CertificateStatus) func(tx *bbolt.Tx, emit func(Event)) error {
	return func(tx *bbolt.Tx, emit func(Event)) error {
		c, err := getCert(tx, id)
		if err != nil {
			return err
		}
		if c.Status == status {
			return nil
		}
		if c.Status == StatusRevoked && status == StatusActive {
			return newError(ErrCertificateState, "Certificate is revoked")
		}
		c.Status = status
		c.LastModifiedDate = r.nowUTC()
		c.CustomerVersion++
		if err := putJSON(tx.Bucket(bucketCerts), id, c); err != nil {
			return err
		}
		emit(Event{Kind: CertificateStatusChanged, CertificateID: id, Status: status})
		return nil
	}
}

// DeleteCertificate deletes a certificate. An ACTIVE one gives ErrCertificateState; one with things
// attached, or policies attached and force false, gives ErrDeleteConflict. force detaches the
// policies in the same transaction.
func (r *Registry) DeleteCertificate(id string, force bool) error {
	id, err := certID(id)
	if err != nil {
		return err
	}
	return r.update(func(tx *bbolt.Tx, emit func(Event)) error {
		c, err := getCert(tx, id)
		if err != nil {
			return err
		}
		if c.Status == StatusActive {
			return newError(ErrCertificateState, "Certificate must be deactivated (not ACTIVE) before deletion.")
		}
		if hasPrefix(tx.Bucket(bucketPrincipalThings), pairPrefix(id)) {
			return newError(ErrDeleteConflict, "Things must be detached before deletion (arn: %s)", c.ARN)
		}
		policies, err := attachedPolicyNames(tx, id)
		if err != nil {
			return err
		}
		if len(policies) > 0 && !force {
			return newError(ErrDeleteConflict,
				"Certificate policies must be detached before deletion (arn: %s)", c.ARN)
		}
		for _, name := range policies {
			if err := unlinkPolicy(tx, name, id); err != nil {
				return err
			}
		}
		if err := delKey(tx.Bucket(bucketCertsByDate), dateKey(c.CreationDate, id)); err != nil {
			return err
		}
		if err := delKey(tx.Bucket(bucketCerts), []byte(id)); err != nil {
			return err
		}
		emit(Event{Kind: CertificateDeleted, CertificateID: id, Status: c.Status})
		return nil
	})
}

// CertificateIdentity reads a certificate with its attached policies and things, and the
// policies its things receive from their thing groups, in one transaction.
func (r *Registry) CertificateIdentity(id string) (CertificateView, error) {
	id, err := certID(id)
	if err != nil {
		return CertificateView{}, err
	}
	var v CertificateView
	err = r.view(func(tx *bbolt.Tx) error {
		if v.Certificate, err = getCert(tx, id); err != nil {
			return err
		}
		if v.Policies, err = attachedPolicies(tx, id); err != nil {
			return err
		}
		prefix := pairPrefix(id)
		err := walk(tx.Bucket(bucketPrincipalThings), prefix, nil, true, func(k, val []byte) (bool, error) {
			v.Things = append(v.Things, ThingAttachment{
				ThingName: secondOf(k, prefix),
				Principal: v.Certificate.ARN,
				Type:      ThingPrincipalType(val),
			})
			return true, nil
		})
		if err != nil {
			return err
		}
		for _, t := range v.Things {
			ps, err := thingGroupPolicies(tx, t.ThingName)
			if err != nil {
				return err
			}
			if len(ps) > 0 {
				if v.GroupPolicies == nil {
					v.GroupPolicies = make(map[string][]Policy)
				}
				v.GroupPolicies[t.ThingName] = ps
			}
		}
		return nil
	})
	if err != nil {
		return CertificateView{}, err
	}
	return v, nil
}

// isCertificateARN reports whether s looks like a certificate ARN of any region or account.
func isCertificateARN(s string) bool {
	parts := strings.SplitN(s, ":", 6)
	return len(parts) == 6 && parts[0] == "arn" && parts[2] == "iot" && strings.HasPrefix(parts[5], "cert/")
}

// CertificateID is AWS IoT's id for a certificate: the lowercase hex SHA-256 of its DER.
func CertificateID(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}
