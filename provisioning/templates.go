package provisioning

import (
	"encoding/base64"
	"encoding/binary"
	"regexp"
	"sort"
	"strconv"
	"time"

	"go.etcd.io/bbolt"
)

// TemplateType is a template's type, fixed at creation.
type TemplateType string

// The template types.
const (
	FleetProvisioning TemplateType = "FLEET_PROVISIONING"
	JITP              TemplateType = "JITP"
	// singleThing is the body of the control plane's RegisterThing, which may also name the
	// certificate by CSR or PEM; it is never stored.
	singleThing TemplateType = "REGISTER_THING"
)

// Hook is a template's pre-provisioning hook.
type Hook struct {
	TargetARN      string `json:"targetArn"`
	PayloadVersion string `json:"payloadVersion,omitempty"`
}

// Template is a provisioning template (without its version bodies).
type Template struct {
	Name             string            `json:"name"`
	ARN              string            `json:"arn"`
	Description      string            `json:"description,omitempty"`
	Enabled          bool              `json:"enabled"`
	RoleARN          string            `json:"provisioningRoleArn"`
	Hook             *Hook             `json:"preProvisioningHook,omitempty"`
	Type             TemplateType      `json:"type"`
	DefaultVersionID int               `json:"defaultVersionId"`
	CreationDate     time.Time         `json:"creationDate"`
	LastModifiedDate time.Time         `json:"lastModifiedDate"`
	Tags             map[string]string `json:"tags,omitempty"`
	// Body is the default version's body (filled by Describe).
	Body string `json:"-"`
}

// Version is one version of a template's body.
type Version struct {
	ID           int       `json:"id"`
	Body         string    `json:"body"`
	CreationDate time.Time `json:"creationDate"`
	IsDefault    bool      `json:"-"` // filled when read
}

// CreateTemplateInput is CreateProvisioningTemplate's input.
type CreateTemplateInput struct {
	Name, Description, Body, RoleARN string
	Enabled                          bool
	Hook                             *Hook
	Type                             TemplateType // empty: FLEET_PROVISIONING
	Tags                             map[string]string
}

var (
	templateNamePattern   = regexp.MustCompile(`^[0-9A-Za-z_-]{1,36}$`)
	payloadVersionPattern = regexp.MustCompile(`^[0-9-]{10,32}$`)
)

func validTemplateName(name string) error {
	if !templateNamePattern.MatchString(name) {
		return newError(ErrInvalidRequest, "Invalid templateName %q: 1 to 36 characters of [0-9A-Za-z_-]", name)
	}
	return nil
}

func validRoleARN(arn string) error {
	if len(arn) < 20 || len(arn) > 2048 {
		return newError(ErrInvalidRequest, "Invalid provisioningRoleArn: it must be 20 to 2048 characters long")
	}
	return nil
}

func validHook(h *Hook, typ TemplateType) error {
	if h == nil {
		return nil
	}
	if typ == JITP {
		return newError(ErrInvalidRequest, "preProvisioningHook: a JITP template cannot have a pre-provisioning hook")
	}
	if h.TargetARN == "" || len(h.TargetARN) > 2048 {
		return newError(ErrInvalidRequest, "preProvisioningHook.targetArn: required, at most 2048 characters")
	}
	if h.PayloadVersion != "" && !payloadVersionPattern.MatchString(h.PayloadVersion) {
		return newError(ErrInvalidRequest, "preProvisioningHook.payloadVersion: %q is not a payload version such as 2020-04-01", h.PayloadVersion)
	}
	return nil
}

// CreateTemplate creates a template with its body as version 1, the default.
func (s *Service) CreateTemplate(in CreateTemplateInput) (Template, error) {
	if err := validTemplateName(in.Name); err != nil {
		return Template{}, err
	}
	if len([]rune(in.Description)) > 500 {
		return Template{}, newError(ErrInvalidRequest, "Invalid description: at most 500 characters")
	}
	if in.Type == "" {
		in.Type = FleetProvisioning
	}
	if in.Type != FleetProvisioning && in.Type != JITP {
		return Template{}, newError(ErrInvalidRequest, "Invalid type %q: it must be FLEET_PROVISIONING or JITP", in.Type)
	}
	if err := validRoleARN(in.RoleARN); err != nil {
		return Template{}, err
	}
	if err := validHook(in.Hook, in.Type); err != nil {
		return Template{}, err
	}
	if _, err := ParseBody(in.Body, in.Type); err != nil {
		return Template{}, err
	}
	now := s.now()
	t := storedTemplate{
		Template: Template{
			Name: in.Name, ARN: s.TemplateARN(in.Name), Description: in.Description, Enabled: in.Enabled,
			RoleARN: in.RoleARN, Hook: in.Hook, Type: in.Type, DefaultVersionID: 1,
			CreationDate: now, LastModifiedDate: now, Tags: in.Tags,
		},
		Versions:    []Version{{ID: 1, Body: in.Body, CreationDate: now}},
		LastVersion: 1,
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketTemplates)
		if b.Get([]byte(in.Name)) != nil {
			return newError(ErrAlreadyExists, "Provisioning template %s already exists", in.Name)
		}
		if b.Stats().KeyN >= maxTemplates {
			return newError(ErrLimitExceeded, "The account already has the maximum of %d provisioning templates", maxTemplates)
		}
		return putJSON(b, in.Name, t)
	})
	if err != nil {
		return Template{}, err
	}
	s.log.Info("provisioning template created", "name", in.Name, "type", in.Type, "enabled", in.Enabled)
	return t.Template, nil
}

// loadTemplate reads a template or returns ErrNotFound.
func loadTemplate(tx *bbolt.Tx, name string) (storedTemplate, error) {
	var t storedTemplate
	found, err := getJSON(tx.Bucket(bucketTemplates), name, &t)
	if err != nil {
		return t, err
	}
	if !found {
		return t, newError(ErrNotFound, "The provisioning template %s does not exist", name)
	}
	return t, nil
}

func (t storedTemplate) version(id int) (Version, bool) {
	for _, v := range t.Versions {
		if v.ID == id {
			v.IsDefault = id == t.DefaultVersionID
			return v, true
		}
	}
	return Version{}, false
}

// DescribeTemplate returns a template with its default version's body.
func (s *Service) DescribeTemplate(name string) (Template, error) {
	if err := validTemplateName(name); err != nil {
		return Template{}, err
	}
	var out Template
	err := s.db.View(func(tx *bbolt.Tx) error {
		t, err := loadTemplate(tx, name)
		if err != nil {
			return err
		}
		out = t.Template
		v, _ := t.version(t.DefaultVersionID)
		out.Body = v.Body
		return nil
	})
	return out, err
}

// UpdateTemplateInput is UpdateProvisioningTemplate's input; nil members are left unchanged.
type UpdateTemplateInput struct {
	Description      *string
	Enabled          *bool
	DefaultVersionID *int
	RoleARN          *string
	Hook             *Hook
	RemoveHook       bool
}

// UpdateTemplate changes a template's settings or default version.
func (s *Service) UpdateTemplate(name string, in UpdateTemplateInput) error {
	if err := validTemplateName(name); err != nil {
		return err
	}
	if in.Hook != nil && in.RemoveHook {
		return newError(ErrInvalidRequest, "preProvisioningHook and removePreProvisioningHook cannot be given together")
	}
	if in.Description != nil && len([]rune(*in.Description)) > 500 {
		return newError(ErrInvalidRequest, "Invalid description: at most 500 characters")
	}
	if in.RoleARN != nil {
		if err := validRoleARN(*in.RoleARN); err != nil {
			return err
		}
	}
	return s.db.Update(func(tx *bbolt.Tx) error {
		t, err := loadTemplate(tx, name)
		if err != nil {
			return err
		}
		if in.Description != nil {
			t.Description = *in.Description
		}
		if in.Enabled != nil {
			t.Enabled = *in.Enabled
		}
		if in.RoleARN != nil {
			t.RoleARN = *in.RoleARN
		}
		if in.Hook != nil {
			if err := validHook(in.Hook, t.Type); err != nil {
				return err
			}
			t.Hook = in.Hook
		}
		if in.RemoveHook {
			t.Hook = nil
		}
		if in.DefaultVersionID != nil {
			if _, ok := t.version(*in.DefaultVersionID); !ok {
				return newError(ErrNotFound, "Version %d of provisioning template %s does not exist", *in.DefaultVersionID, name)
			}
			t.DefaultVersionID = *in.DefaultVersionID
		}
		t.LastModifiedDate = s.now()
		return putJSON(tx.Bucket(bucketTemplates), name, t)
	})
}

// DeleteTemplate deletes a template with its versions. A template a CA's registration config
// names is in use (DeleteConflictException).
func (s *Service) DeleteTemplate(name string) error {
	if err := validTemplateName(name); err != nil {
		return err
	}
	cas, _, err := s.opts.Registry.ListCACertificates("", 1, true, name)
	if err != nil {
		return err
	}
	if len(cas) > 0 {
		return newError(ErrDeleteConflict, "Provisioning template %s is the registration template of CA certificate %s", name, cas[0].ID)
	}
	return s.db.Update(func(tx *bbolt.Tx) error {
		if _, err := loadTemplate(tx, name); err != nil {
			return err
		}
		return tx.Bucket(bucketTemplates).Delete([]byte(name))
	})
}

// ListTemplates pages templates by name. maxResults 0 means 250.
func (s *Service) ListTemplates(maxResults int, nextToken string) ([]Template, string, error) {
	if maxResults == 0 {
		maxResults = 250
	}
	if maxResults < 1 || maxResults > 250 {
		return nil, "", newError(ErrInvalidRequest, "Invalid maxResults %d: 1 to 250", maxResults)
	}
	after, err := decodeToken(nextToken)
	if err != nil {
		return nil, "", err
	}
	var out []Template
	next := ""
	err = s.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketTemplates).Cursor()
		k, v := c.First()
		if after != "" {
			k, v = c.Seek([]byte(after))
			if k != nil && string(k) == after {
				k, v = c.Next()
			}
		}
		for ; k != nil; k, v = c.Next() {
			if len(out) == maxResults {
				next = encodeToken(out[len(out)-1].Name)
				return nil
			}
			var t storedTemplate
			if err := jsonUnmarshal(v, &t); err != nil {
				return err
			}
			out = append(out, t.Template)
		}
		return nil
	})
	return out, next, err
}

// CreateVersion adds a version to a template, optionally as the new default.
func (s *Service) CreateVersion(name, body string, setAsDefault bool) (Version, Template, error) {
	if err := validTemplateName(name); err != nil {
		return Version{}, Template{}, err
	}
	var (
		v   Version
		out Template
	)
	err := s.db.Update(func(tx *bbolt.Tx) error {
		t, err := loadTemplate(tx, name)
		if err != nil {
			return err
		}
		if _, err := ParseBody(body, t.Type); err != nil {
			return err
		}
		if len(t.Versions) >= maxVersions {
			return newError(ErrVersionsLimitExceeded, "Provisioning template %s already has the maximum of %d versions; delete one first", name, maxVersions)
		}
		t.LastVersion++
		v = Version{ID: t.LastVersion, Body: body, CreationDate: s.now()}
		t.Versions = append(t.Versions, v)
		if setAsDefault {
			t.DefaultVersionID = v.ID
		}
		v.IsDefault = t.DefaultVersionID == v.ID
		t.LastModifiedDate = v.CreationDate
		out = t.Template
		return putJSON(tx.Bucket(bucketTemplates), name, t)
	})
	return v, out, err
}

// DescribeVersion returns one version of a template.
func (s *Service) DescribeVersion(name string, id int) (Version, error) {
	if err := validTemplateName(name); err != nil {
		return Version{}, err
	}
	var v Version
	err := s.db.View(func(tx *bbolt.Tx) error {
		t, err := loadTemplate(tx, name)
		if err != nil {
			return err
		}
		var ok bool
		if v, ok = t.version(id); !ok {
			return newError(ErrNotFound, "Version %d of provisioning template %s does not exist", id, name)
		}
		return nil
	})
	return v, err
}

// ListVersions pages a template's versions by id. maxResults 0 means 250.
func (s *Service) ListVersions(name string, maxResults int, nextToken string) ([]Version, string, error) {
	if err := validTemplateName(name); err != nil {
		return nil, "", err
	}
	if maxResults == 0 {
		maxResults = 250
	}
	if maxResults < 1 || maxResults > 250 {
		return nil, "", newError(ErrInvalidRequest, "Invalid maxResults %d: 1 to 250", maxResults)
	}
	after := 0
	if nextToken != "" {
		tok, err := decodeToken(nextToken)
		if err != nil {
			return nil, "", err
		}
		if after, err = strconv.Atoi(tok); err != nil {
			return nil, "", newError(ErrInvalidRequest, "Invalid nextToken")
		}
	}
	var out []Version
	next := ""
	err := s.db.View(func(tx *bbolt.Tx) error {
		t, err := loadTemplate(tx, name)
		if err != nil {
			return err
		}
		sort.Slice(t.Versions, func(i, j int) bool { return t.Versions[i].ID < t.Versions[j].ID })
		for _, v := range t.Versions {
			if v.ID <= after {
				continue
			}
			if len(out) == maxResults {
				next = encodeToken(strconv.Itoa(out[len(out)-1].ID))
				break
			}
			v.IsDefault = v.ID == t.DefaultVersionID
			out = append(out, v)
		}
		return nil
	})
	return out, next, err
}

// DeleteVersion deletes a version; the default version cannot be deleted (DeleteConflict).
func (s *Service) DeleteVersion(name string, id int) error {
	if err := validTemplateName(name); err != nil {
		return err
	}
	return s.db.Update(func(tx *bbolt.Tx) error {
		t, err := loadTemplate(tx, name)
		if err != nil {
			return err
		}
		if _, ok := t.version(id); !ok {
			return newError(ErrNotFound, "Version %d of provisioning template %s does not exist", id, name)
		}
		if id == t.DefaultVersionID {
			return newError(ErrDeleteConflict, "Version %d is the default version of provisioning template %s; make another version the default first", id, name)
		}
		kept := t.Versions[:0]
		for _, v := range t.Versions {
			if v.ID != id {
				kept = append(kept, v)
			}
		}
		t.Versions = kept
		t.LastModifiedDate = s.now()
		return putJSON(tx.Bucket(bucketTemplates), name, t)
	})
}

// encodeToken and decodeToken make list continuation tokens (the last key returned).
func encodeToken(key string) string {
	b := make([]byte, 2, 2+len(key))
	binary.BigEndian.PutUint16(b, 1)
	return base64.RawURLEncoding.EncodeToString(append(b, key...))
}

func decodeToken(tok string) (string, error) {
	if tok == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) < 2 || binary.BigEndian.Uint16(b) != 1 {
		return "", newError(ErrInvalidRequest, "Invalid nextToken")
	}
	return string(b[2:]), nil
}
