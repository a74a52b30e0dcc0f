package registry

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"time"

	"github.com/google/uuid"
	"go.etcd.io/bbolt"
)

// CertificateMode is how device certificates of a CA are matched to an account: DEFAULT (the
// CA is registered in one account of the region) or SNI_ONLY (several accounts; the device must
// send SNI).
type CertificateMode string

// The certificate modes of AWS IoT.
const (
	ModeDefault CertificateMode = "DEFAULT"
	ModeSNIOnly CertificateMode = "SNI_ONLY"
)

// AutoRegistrationStatus says whether a CA registers unknown certificates it signed when a
// device presents them (just-in-time registration).
type AutoRegistrationStatus string

// The auto-registration statuses of AWS IoT.
const (
	AutoRegistrationEnable  AutoRegistrationStatus = "ENABLE"
	AutoRegistrationDisable AutoRegistrationStatus = "DISABLE"
)

// RegistrationConfig is a CA's just-in-time provisioning template. It is stored and described;
// the emulator does not provision from it yet.
type RegistrationConfig struct {
	TemplateBody string `json:"templateBody,omitempty"`
	RoleARN      string `json:"roleArn,omitempty"`
	TemplateName string `json:"templateName,omitempty"`
}

// CACertificate is a registered CA certificate. Its ID, like a device certificate's, is the
// lowercase hex SHA-256 of its DER.
type CACertificate struct {
	ID                     string                 `json:"id"`
	ARN                    string                 `json:"arn"`
	PEM                    string                 `json:"pem"`
	Status                 CertificateStatus      `json:"status"` // ACTIVE or INACTIVE
	AutoRegistrationStatus AutoRegistrationStatus `json:"autoRegistrationStatus"`
	Mode                   CertificateMode        `json:"certificateMode"`
	RegistrationConfig     RegistrationConfig     `json:"registrationConfig"`
	OwnedBy                string                 `json:"ownedBy"`
	GenerationID           string                 `json:"generationId"`
	CustomerVersion        int64                  `json:"customerVersion"`
	CreationDate           time.Time              `json:"creationDate"`
	LastModifiedDate       time.Time              `json:"lastModifiedDate"`
	NotBefore              time.Time              `json:"notBefore"`
	NotAfter               time.Time              `json:"notAfter"`
}

// maxCAsPerSubject is AWS IoT's quota of CA certificates with the same subject in one account.
const maxCAsPerSubject = 10

var keyRegistrationCode = []byte("registrationCode")

// registrationCode returns the account's registration code, making one (64 hex digits, the form
// AWS answers) if there is none yet.
func registrationCode(tx *bbolt.Tx) (string, error) {
	meta := tx.Bucket(bucketMeta)
	if v := meta.Get(keyRegistrationCode); v != nil {
		return string(v), nil
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("registry: make a registration code: %w", err)
	}
	code := hex.EncodeToString(b[:])
	return code, putKey(meta, keyRegistrationCode, []byte(code))
}

// GetRegistrationCode returns the account's registration code: the common name a CA's
// verification certificate must carry. It stays the same until DeleteRegistrationCode.
func (r *Registry) GetRegistrationCode() (string, error) {
	var code string
	err := r.update(func(tx *bbolt.Tx, _ func(Event)) error {
		var err error
		code, err = registrationCode(tx)
		return err
	})
	return code, err
}

// DeleteRegistrationCode forgets the registration code; the next GetRegistrationCode makes a
// new one.
func (r *Registry) DeleteRegistrationCode() error {
	return r.update(func(tx *bbolt.Tx, _ func(Event)) error {
		return delKey(tx.Bucket(bucketMeta), keyRegistrationCode)
	})
}

// RegisterCACertificateInput is the input of RegisterCACertificate.
type RegisterCACertificateInput struct {
	CACertificatePEM string
	// VerificationCertificatePEM is required in DEFAULT mode and refused in SNI_ONLY mode.
	VerificationCertificatePEM string
	Mode                       CertificateMode // "": DEFAULT
	SetAsActive                bool
	AllowAutoRegistration      bool
	RegistrationConfig         RegistrationConfig
	Tags                       []Tag
}

// RegisterCACertificate registers a CA certificate, ACTIVE with SetAsActive and INACTIVE
// otherwise. The certificate must be a CA (basic constraints CA:TRUE), else
// ErrCertificateValidation. In DEFAULT mode the verification certificate proves possession of
// the CA key: it must be signed by the CA and its subject common name must be the registration
// code, else ErrRegistrationCodeValidation. A CA registered already gives ErrAlreadyExists; an
// eleventh CA with the same subject, ErrLimitExceeded.
func (r *Registry) RegisterCACertificate(in RegisterCACertificateInput) (CACertificate, error) {
	mode := in.Mode
	switch mode {
	case "":
		mode = ModeDefault
	case ModeDefault, ModeSNIOnly:
	default:
		return CACertificate{}, newError(ErrInvalidRequest, "Invalid certificateMode %q: it must be DEFAULT or SNI_ONLY", in.Mode)
	}
	ca, err := parseCertificatePEM(in.CACertificatePEM)
	if err != nil {
		return CACertificate{}, err
	}
	if !ca.BasicConstraintsValid || !ca.IsCA {
		return CACertificate{}, newError(ErrCertificateValidation,
			"The certificate is not a CA certificate: it lacks the basic constraint CA:TRUE")
	}
	var verification *x509.Certificate
	switch {
	case mode == ModeDefault && in.VerificationCertificatePEM == "":
		return CACertificate{}, newError(ErrInvalidRequest, "verificationCertificate: required when certificateMode is DEFAULT")
	case mode == ModeSNIOnly && in.VerificationCertificatePEM != "":
		return CACertificate{}, newError(ErrInvalidRequest, "verificationCertificate: must be empty when certificateMode is SNI_ONLY")
	case mode == ModeDefault:
		if verification, err = parseCertificatePEM(in.VerificationCertificatePEM); err != nil {
			return CACertificate{}, err
		}
		if err := verification.CheckSignatureFrom(ca); err != nil {
			return CACertificate{}, newError(ErrRegistrationCodeValidation,
				"The verification certificate is not signed by the CA certificate's private key: %v", err)
		}
	}
	tags, err := tagMap(in.Tags)
	if err != nil {
		return CACertificate{}, err
	}
	id := CertificateID(ca.Raw)
	now := r.nowUTC()
	out := CACertificate{
		ID:                     id,
		ARN:                    r.CACertificateARN(id),
		PEM:                    string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw})),
		Status:                 StatusInactive,
		AutoRegistrationStatus: AutoRegistrationDisable,
		Mode:                   mode,
		RegistrationConfig:     in.RegistrationConfig,
		OwnedBy:                r.acct,
		GenerationID:           uuid.NewString(),
		CustomerVersion:        1,
		CreationDate:           now,
		LastModifiedDate:       now,
		NotBefore:              ca.NotBefore.UTC(),
		NotAfter:               ca.NotAfter.UTC(),
	}
	if in.SetAsActive {
		out.Status = StatusActive
	}
	if in.AllowAutoRegistration {
		out.AutoRegistrationStatus = AutoRegistrationEnable
	}
	err = r.update(func(tx *bbolt.Tx, _ func(Event)) error {
		if verification != nil {
			code, err := registrationCode(tx)
			if err != nil {
				return err
			}
			if verification.Subject.CommonName != code {
				return newError(ErrRegistrationCodeValidation,
					"The verification certificate's common name %q is not this account's registration code (see GetRegistrationCode)",
					verification.Subject.CommonName)
			}
		}
		b := tx.Bucket(bucketCACerts)
		if b.Get([]byte(id)) != nil {
			return alreadyExists(id, out.ARN, "The CA certificate is already registered")
		}
		same := 0
		err := eachCA(tx, func(c CACertificate, x *x509.Certificate) error {
			if bytes.Equal(x.RawSubject, ca.RawSubject) {
				same++
			}
			return nil
		})
		if err != nil {
			return err
		}
		if same >= maxCAsPerSubject {
			return newError(ErrLimitExceeded, "At most %d CA certificates with the same subject can be registered", maxCAsPerSubject)
		}
		if err := putJSON(b, id, out); err != nil {
			return err
		}
		if err := putKey(tx.Bucket(bucketCACertsByDate), dateKey(now, id), nil); err != nil {
			return err
		}
		return putTags(tx, out.ARN, tags)
	})
	if err != nil {
		return CACertificate{}, err
	}
	r.log.Debug("CA certificate registered", "id", id, "status", out.Status, "autoRegistration", out.AutoRegistrationStatus)
	return out, nil
}

// eachCA calls fn with every registered CA and its parsed certificate, in id order.
func eachCA(tx *bbolt.Tx, fn func(CACertificate, *x509.Certificate) error) error {
	return tx.Bucket(bucketCACerts).ForEach(func(k, v []byte) error {
		var c CACertificate
		if err := decodeJSON(k, v, &c); err != nil {
			return err
		}
		x, err := parseCertificatePEM(c.PEM)
		if err != nil {
			return fmt.Errorf("registry: stored CA certificate %s does not parse: %w", k, err)
		}
		return fn(c, x)
	})
}

// signersOf returns the registered CAs that signed cert: same subject as its issuer, and a
// signature that verifies with their key.
func signersOf(tx *bbolt.Tx, cert *x509.Certificate) ([]CACertificate, error) {
	var out []CACertificate
	err := eachCA(tx, func(c CACertificate, x *x509.Certificate) error {
		if bytes.Equal(x.RawSubject, cert.RawIssuer) && cert.CheckSignatureFrom(x) == nil {
			out = append(out, c)
		}
		return nil
	})
	return out, err
}

// getCA reads a CA certificate by normalised id or returns ErrNotFound.
func getCA(tx *bbolt.Tx, id string) (CACertificate, error) {
	return getRecord[CACertificate](tx, bucketCACerts, id, "The CA certificate %s does not exist")
}

// DescribeCACertificate returns a CA certificate or ErrNotFound.
func (r *Registry) DescribeCACertificate(id string) (CACertificate, error) {
	id, err := certID(id)
	if err != nil {
		return CACertificate{}, err
	}
	var c CACertificate
	err = r.view(func(tx *bbolt.Tx) error {
		c, err = getCA(tx, id)
		return err
	})
	return c, err
}

// UpdateCACertificateInput is the input of UpdateCACertificate; empty members change nothing.
type UpdateCACertificateInput struct {
	NewStatus                 CertificateStatus      // ACTIVE or INACTIVE
	NewAutoRegistrationStatus AutoRegistrationStatus // ENABLE or DISABLE
	RegistrationConfig        *RegistrationConfig    // replaces the provisioning template
	RemoveAutoRegistration    bool                   // removes the provisioning template
}

// UpdateCACertificate changes a CA's status, auto-registration status or provisioning template.
// AWS deprecates REGISTER_INACTIVE as a new status and knows no other for a CA, so any status but
// ACTIVE and INACTIVE is an invalid request. Deactivating a CA stops just-in-time registration
// by it; the device certificates registered with it keep working, as in AWS.
func (r *Registry) UpdateCACertificate(id string, in UpdateCACertificateInput) error {
	id, err := certID(id)
	if err != nil {
		return err
	}
	switch in.NewStatus {
	case "", StatusActive, StatusInactive:
	default:
		return newError(ErrInvalidRequest, "Invalid newStatus %q for a CA certificate: it must be ACTIVE or INACTIVE", in.NewStatus)
	}
	switch in.NewAutoRegistrationStatus {
	case "", AutoRegistrationEnable, AutoRegistrationDisable:
	default:
		return newError(ErrInvalidRequest, "Invalid newAutoRegistrationStatus %q: it must be ENABLE or DISABLE", in.NewAutoRegistrationStatus)
	}
	return r.update(func(tx *bbolt.Tx, _ func(Event)) error {
		c, err := getCA(tx, id)
		if err != nil {
			return err
		}
		old := c
		if in.NewStatus != "" {
			c.Status = in.NewStatus
		}
		if in.NewAutoRegistrationStatus != "" {
			c.AutoRegistrationStatus = in.NewAutoRegistrationStatus
		}
		if in.RegistrationConfig != nil {
			c.RegistrationConfig = *in.RegistrationConfig
		}
		if in.RemoveAutoRegistration {
			c.RegistrationConfig = RegistrationConfig{}
		}
		if c == old {
			return nil
		}
		c.LastModifiedDate = r.nowUTC()
		c.CustomerVersion++
		return putJSON(tx.Bucket(bucketCACerts), id, c)
	})
}

// ListCACertificates pages CA certificates by creation date (then id); templateName, when given,
// keeps those whose provisioning template has that name. pageSize 0 means 25; at most 250.
func (r *Registry) ListCACertificates(marker string, pageSize int, ascending bool, templateName string) ([]CACertificate, string, error) {
	size, err := pageSizeOf(pageSize)
	if err != nil {
		return nil, "", err
	}
	from, err := decodeToken(tokCACertificates, marker, "marker")
	if err != nil {
		return nil, "", err
	}
	var (
		out []CACertificate
		p   = pager{size: size}
	)
	err = r.view(func(tx *bbolt.Tx) error {
		return walk(tx.Bucket(bucketCACertsByDate), nil, from, ascending, func(k, _ []byte) (bool, error) {
			if len(k) <= 8 {
				return false, fmt.Errorf("registry: malformed CA certificate index key %x", k)
			}
			c, err := getCA(tx, string(k[8:]))
			if err != nil {
				return false, fmt.Errorf("registry: CA index names a missing CA certificate: %w", err)
			}
			if templateName != "" && c.RegistrationConfig.TemplateName != templateName {
				return true, nil
			}
			if !p.take(k) {
				return false, nil
			}
			out = append(out, c)
			return true, nil
		})
	})
	if err != nil {
		return nil, "", err
	}
	return out, p.token(tokCACertificates), nil
}

// DeleteCACertificate deletes a CA certificate, which must not be ACTIVE (ErrCertificateState).
// The device certificates registered with it stay registered.
func (r *Registry) DeleteCACertificate(id string) error {
	id, err := certID(id)
	if err != nil {
		return err
	}
	return r.update(func(tx *bbolt.Tx, _ func(Event)) error {
		c, err := getCA(tx, id)
		if err != nil {
			return err
		}
		if c.Status == StatusActive {
			return newError(ErrCertificateState, "The CA certificate must be deactivated (not ACTIVE) before deletion.")
		}
		if err := delKey(tx.Bucket(bucketCACertsByDate), dateKey(c.CreationDate, id)); err != nil {
			return err
		}
		if err := delKey(tx.Bucket(bucketCACerts), []byte(id)); err != nil {
			return err
		}
		return deleteTags(tx, c.ARN)
	})
}

// RegisterCertificateInput is the input of RegisterCertificateWithCA.
type RegisterCertificateInput struct {
	CertificatePEM string
	// CACertificatePEM names the registered CA that signed the certificate; when empty, the
	// registered CA whose subject is the certificate's issuer and whose key verifies its
	// signature is used.
	CACertificatePEM string
	Status           CertificateStatus // "": INACTIVE
}

// RegisterCertificateWithCA registers a device certificate signed by a registered CA (AWS's
// RegisterCertificate). The certificate must chain directly to that CA (ErrCertificateValidation
// otherwise, or when the given CA is not registered). Without a CA given, two registered CAs that
// could have signed it (same subject and key) give ErrCertificateConflict. An ACTIVE certificate
// needs an ACTIVE CA (ErrCertificateState). The certificate takes the CA's id and certificate mode.
// AWS accepts ACTIVE, INACTIVE and REVOKED (and the deprecated REGISTER_INACTIVE) as the status.
func (r *Registry) RegisterCertificateWithCA(in RegisterCertificateInput) (Certificate, error) {
	status := in.Status
	switch status {
	case "":
		status = StatusInactive
	case StatusActive, StatusInactive, StatusRevoked, StatusRegisterInactive:
	default:
		return Certificate{}, newError(ErrInvalidRequest, "Invalid status %q: it must be ACTIVE, INACTIVE or REVOKED", in.Status)
	}
	x, err := parseCertificatePEM(in.CertificatePEM)
	if err != nil {
		return Certificate{}, err
	}
	var given *x509.Certificate
	if in.CACertificatePEM != "" {
		if given, err = parseCertificatePEM(in.CACertificatePEM); err != nil {
			return Certificate{}, err
		}
		if err := x.CheckSignatureFrom(given); err != nil {
			return Certificate{}, newError(ErrCertificateValidation, "The certificate is not signed by the given CA certificate: %v", err)
		}
	}
	var out Certificate
	err = r.update(func(tx *bbolt.Tx, _ func(Event)) error {
		var ca CACertificate
		if given != nil {
			found, err := getJSON(tx.Bucket(bucketCACerts), CertificateID(given.Raw), &ca)
			if err != nil {
				return err
			}
			if !found {
				return newError(ErrCertificateValidation, "The CA certificate given is not registered; register it with RegisterCACertificate first")
			}
		} else {
			signers, err := signersOf(tx, x)
			if err != nil {
				return err
			}
			switch len(signers) {
			case 0:
				return newError(ErrCertificateValidation,
					"The certificate is not signed by a registered CA certificate; register its CA, or use RegisterCertificateWithoutCA")
			case 1:
				ca = signers[0]
			default:
				return newError(ErrCertificateConflict,
					"Unable to verify the CA certificate used to sign the device certificate: %d registered CA certificates have its subject and public key; give caCertificatePem",
					len(signers))
			}
		}
		if status == StatusActive && ca.Status != StatusActive {
			return newError(ErrCertificateState, "The CA certificate %s is %s; an ACTIVE certificate needs an ACTIVE CA", ca.ID, ca.Status)
		}
		out = r.newCertificate(x, status, ca.ID, ca.Mode)
		return insertCertificate(tx, out)
	})
	if err != nil {
		return Certificate{}, err
	}
	r.log.Debug("certificate registered with its CA", "id", out.ID, "ca", out.CACertificateID, "status", out.Status)
	return out, nil
}

// AutoRegisterCertificate is just-in-time registration: a device presented cert and it is not
// registered. If a registered CA that is ACTIVE and has auto-registration ENABLE signed it
// (issuer subject and signature checked), it is registered as PENDING_ACTIVATION with that CA's
// id and mode, and returned with true; watchers get a CertificateRegistered event carrying the
// message of $aws/events/certificates/registered/<caCertificateId>. A certificate already
// registered is returned as it is, with false (when it is still PENDING_ACTIVATION, AWS publishes
// that message again: use CertificateRegisteredPublication). A certificate no such CA signed gives
// the zero Certificate and false.
func (r *Registry) AutoRegisterCertificate(cert *x509.Certificate) (Certificate, bool, error) {
	if cert == nil {
		return Certificate{}, false, newError(ErrInvalidRequest, "no certificate given")
	}
	id := CertificateID(cert.Raw)
	var (
		out     Certificate
		created bool
	)
	err := r.update(func(tx *bbolt.Tx, emit func(Event)) error {
		var known Certificate
		found, err := getJSON(tx.Bucket(bucketCerts), id, &known)
		if err != nil || found {
			out = known
			return err
		}
		signers, err := signersOf(tx, cert)
		if err != nil {
			return err
		}
		for _, ca := range signers {
			if ca.Status != StatusActive || ca.AutoRegistrationStatus != AutoRegistrationEnable {
				continue
			}
			c := r.newCertificate(cert, StatusPendingActivation, ca.ID, ca.Mode)
			if err := insertCertificate(tx, c); err != nil {
				return err
			}
			pub, err := r.CertificateRegisteredPublication(c)
			if err != nil {
				return err
			}
			emit(Event{Kind: CertificateRegistered, CertificateID: c.ID, Status: c.Status, CACertificateID: ca.ID, Publications: []Publication{pub}})
			out, created = c, true
			return nil
		}
		return nil
	})
	if err != nil {
		return Certificate{}, false, err
	}
	if created {
		r.log.Info("certificate registered just in time", "id", out.ID, "ca", out.CACertificateID)
	}
	return out, created, nil
}

// ListCertificatesByCA pages the certificates registered with a CA, by creation date (then id).
// A CA that does not exist has no certificates (the model has no ResourceNotFoundException for
// this operation). pageSize 0 means 25; at most 250.
func (r *Registry) ListCertificatesByCA(caID, marker string, pageSize int, ascending bool) ([]Certificate, string, error) {
	caID, err := certID(caID)
	if err != nil {
		return nil, "", err
	}
	size, err := pageSizeOf(pageSize)
	if err != nil {
		return nil, "", err
	}
	from, err := decodeToken(tokCertsByCA, marker, "marker")
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
			c, err := getCert(tx, string(k[8:]))
			if err != nil {
				return false, fmt.Errorf("registry: certificate index names a missing certificate: %w", err)
			}
			if c.CACertificateID != caID {
				return true, nil
			}
			if !p.take(k) {
				return false, nil
			}
			certs = append(certs, c)
			return true, nil
		})
	})
	if err != nil {
		return nil, "", err
	}
	return certs, p.token(tokCertsByCA), nil
}
