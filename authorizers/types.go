package authorizers

import "time"

// Status of an authorizer.
const (
	StatusActive   = "ACTIVE"
	StatusInactive = "INACTIVE"
)

// Authorizer is one custom authorizer's definition, as DescribeAuthorizer answers it.
type Authorizer struct {
	Name                   string            `json:"authorizerName"`
	ARN                    string            `json:"authorizerArn"`
	FunctionARN            string            `json:"authorizerFunctionArn"`
	TokenKeyName           string            `json:"tokenKeyName,omitempty"`
	TokenSigningPublicKeys map[string]string `json:"tokenSigningPublicKeys,omitempty"`
	Status                 string            `json:"status"`
	SigningDisabled        bool              `json:"signingDisabled"`
	EnableCachingForHTTP   bool              `json:"enableCachingForHttp"`
	CreationDate           time.Time         `json:"creationDate"`
	LastModifiedDate       time.Time         `json:"lastModifiedDate"`
	Tags                   []Tag             `json:"tags,omitempty"`
}

// Tag is a resource tag.
type Tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// CreateInput is CreateAuthorizer's request. Nil pointers are absent members.
type CreateInput struct {
	Name                   string
	FunctionARN            string
	TokenKeyName           string
	TokenSigningPublicKeys map[string]string
	Status                 string // "" is ACTIVE
	SigningDisabled        bool
	EnableCachingForHTTP   bool
	Tags                   []Tag
}

// UpdateInput is UpdateAuthorizer's request: only the members given change. signingDisabled
// cannot change after creation.
type UpdateInput struct {
	Name                   string
	FunctionARN            *string
	TokenKeyName           *string
	TokenSigningPublicKeys map[string]string // nil: unchanged
	Status                 *string
	EnableCachingForHTTP   *bool
}
