// Package registry holds what AWS IoT Core's registry holds: things, certificates, policies and the
// attachments between them. It persists everything in one bbolt file so that a restart keeps the
// state and a crash mid-write leaves the previous one.
package registry

import (
	"errors"
	"time"
)

// CertificateStatus is AWS IoT's CertificateStatus enum.
type CertificateStatus string

// The certificate statuses AWS IoT knows. Only ACTIVE may connect.
const (
	StatusActive            CertificateStatus = "ACTIVE"
	StatusInactive          CertificateStatus = "INACTIVE"
	StatusRevoked           CertificateStatus = "REVOKED"
	StatusPendingTransfer   CertificateStatus = "PENDING_TRANSFER"
	StatusRegisterInactive  CertificateStatus = "REGISTER_INACTIVE"
	StatusPendingActivation CertificateStatus = "PENDING_ACTIVATION"
)

// Valid reports whether s is one of AWS's certificate statuses.
func (s CertificateStatus) Valid() bool {
	switch s {
	case StatusActive, StatusInactive, StatusRevoked, StatusPendingTransfer, StatusRegisterInactive, StatusPendingActivation:
		return true
	}
	return false
}

// ThingPrincipalType is how a principal is attached to a thing.
type ThingPrincipalType string

// The thing-principal association types of AttachThingPrincipal.
const (
	NonExclusiveThing ThingPrincipalType = "NON_EXCLUSIVE_THING"
	ExclusiveThing    ThingPrincipalType = "EXCLUSIVE_THING"
)

// Thing is a registry thing.
type Thing struct {
	Name       string            `json:"name"`
	ID         string            `json:"id"` // UUID, fixed at creation
	ARN        string            `json:"arn"`
	TypeName   string            `json:"typeName,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
	Version    int64             `json:"version"` // 1 at creation, +1 per update
}

// Certificate is a registered X.509 certificate. Its ID is the lowercase hex SHA-256 of its DER.
type Certificate struct {
	ID               string            `json:"id"`
	ARN              string            `json:"arn"`
	PEM              string            `json:"pem"`
	Status           CertificateStatus `json:"status"`
	CACertificateID  string            `json:"caCertificateId,omitempty"`
	OwnedBy          string            `json:"ownedBy"` // account id
	GenerationID     string            `json:"generationId"`
	CustomerVersion  int64             `json:"customerVersion"`
	CreationDate     time.Time         `json:"creationDate"`
	LastModifiedDate time.Time         `json:"lastModifiedDate"`
	NotBefore        time.Time         `json:"notBefore"`
	NotAfter         time.Time         `json:"notAfter"`
	// Mode is the certificate mode of the CA it was registered with (DEFAULT when empty: the
	// certificates the emulator issues and those registered without a CA).
	Mode CertificateMode `json:"certificateMode,omitempty"`
}

// Policy is an AWS IoT policy with its default version's document: Document is always the
// document in force, so that whoever decides with a policy need not know about versions.
type Policy struct {
	Name             string    `json:"name"`
	ARN              string    `json:"arn"`
	Document         string    `json:"document"`
	DefaultVersionID string    `json:"defaultVersionId"`
	GenerationID     string    `json:"generationId"`
	CreationDate     time.Time `json:"creationDate"`
	LastModifiedDate time.Time `json:"lastModifiedDate"`
}

// PolicyVersion is one version of a policy's document. Versions are immutable; only which one is
// the default changes (and with it LastModifiedDate).
type PolicyVersion struct {
	PolicyName       string
	PolicyARN        string
	VersionID        string // "1", "2", ...: counted from the policy's creation, never reused
	Document         string
	IsDefault        bool
	GenerationID     string
	CreationDate     time.Time
	LastModifiedDate time.Time
}

// ThingAttachment links a thing to a principal (a certificate ARN).
type ThingAttachment struct {
	ThingName string             `json:"thingName"`
	Principal string             `json:"principal"`
	Type      ThingPrincipalType `json:"type"`
}

// CertificateView is everything needed to decide a connection made with one certificate, read in
// one consistent transaction.
type CertificateView struct {
	Certificate Certificate
	Policies    []Policy          // attached to the certificate's ARN, by name order
	Things      []ThingAttachment // things attached to the certificate's ARN
	// GroupPolicies maps the name of each attached thing that is in a thing group to the policies
	// attached to its groups and to their ancestor groups (by name, each once). AWS applies them
	// to a connection whose bound thing is that thing; a thing in no group with a policy has no
	// entry.
	GroupPolicies map[string][]Policy
}

// Error kinds. Every error the registry returns for bad input or state wraps one of these (test
// with errors.Is); the api package maps them to AWS exception names and status codes.
var (
	ErrNotFound              = errors.New("ResourceNotFoundException")
	ErrAlreadyExists         = errors.New("ResourceAlreadyExistsException")
	ErrInvalidRequest        = errors.New("InvalidRequestException")
	ErrCertificateState      = errors.New("CertificateStateException")
	ErrCertificateValidation = errors.New("CertificateValidationException")
	ErrDeleteConflict        = errors.New("DeleteConflictException")
	ErrVersionConflict       = errors.New("VersionConflictException")
	ErrMalformedPolicy       = errors.New("MalformedPolicyException")
	ErrLimitExceeded         = errors.New("LimitExceededException")
	ErrVersionsLimitExceeded = errors.New("VersionsLimitExceededException")
	// ErrRegistrationCodeValidation refuses a CA whose verification certificate does not prove
	// possession of the CA key for this account's registration code.
	ErrRegistrationCodeValidation = errors.New("RegistrationCodeValidationException")
	// ErrCertificateConflict refuses a device certificate that more than one registered CA
	// (same subject and key) could have signed, when the caller did not say which.
	ErrCertificateConflict = errors.New("CertificateConflictException")
)

// Error is a registry error with an AWS-style message. Kind is one of the Err* values above.
type Error struct {
	Kind        error
	Message     string
	ResourceID  string // for ResourceAlreadyExistsException
	ResourceARN string
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.Kind }

// EventKind says what changed in an Event.
type EventKind int

// The changes the registry reports to watchers.
const (
	CertificateStatusChanged EventKind = iota + 1 // Status holds the new status
	CertificateDeleted
	PolicyChanged // PolicyName's document in force (its default version) changed, or it was deleted
	// AttachmentChanged says the policies that apply to connections made with CertificateID may
	// have changed: a policy or thing was attached to or detached from the certificate, or the
	// thing-group policies reaching one of its things changed (group membership, a policy
	// attached to or detached from a group or an ancestor, a group deleted). One event is sent
	// per affected certificate.
	AttachmentChanged
	// CertificateRegistered says AutoRegisterCertificate registered CertificateID as
	// PENDING_ACTIVATION under CACertificateID (just-in-time registration). Publications holds
	// the message AWS publishes on $aws/events/certificates/registered/<caCertificateId>.
	CertificateRegistered
	// RegistryChanged says a thing, thing type, thing group or group membership changed while
	// the matching event type is enabled by UpdateEventConfigurations. Publications holds the
	// registry event messages AWS publishes for it, to be published as they are.
	RegistryChanged
	// MembershipChanged says ThingName joined (Added) or left GroupName, whatever the event
	// configuration: the jobs service follows it for continuous jobs.
	MembershipChanged
	// ThingDeleted says ThingName was deleted, whatever the event configuration: the jobs
	// service removes its pending executions.
	ThingDeleted
	// ThingChanged says ThingName was created, updated or deleted, or joined or left a thing
	// group or billing group. It is sent whatever the event configurations (fleet indexing
	// follows it).
	ThingChanged
)

// Event is a committed change, delivered to watchers after the transaction.
type Event struct {
	Kind            EventKind
	CertificateID   string
	Status          CertificateStatus
	PolicyName      string
	CACertificateID string // CertificateRegistered
	// ThingName, GroupName and Added describe a MembershipChanged event (ThingName a
	// ThingDeleted and a ThingChanged one too).
	ThingName, GroupName string
	Added                bool
	// Publications are the MQTT messages AWS IoT publishes for this change (topic and JSON
	// payload, ready to send, QoS 0, not retained), so that whoever owns the broker can publish
	// them without knowing their shapes. Empty for most kinds.
	Publications []Publication
}

// Publication is one MQTT message to publish on behalf of the registry.
type Publication struct {
	Topic   string
	Payload []byte
}
