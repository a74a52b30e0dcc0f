package registry

import (
	"crypto/x509"
	"errors"
	"maps"
	"slices"

	"github.com/google/uuid"
	"go.etcd.io/bbolt"
)

// ErrResourceConflicts refuses a provisioning whose template says FAIL for a property of a
// resource that already exists (AWS's ResourceConflictsException).
var ErrResourceConflicts = errors.New("ResourceConflictsException")

// The OverrideSettings actions of a provisioning template.
const (
	overrideDoNothing = "DO_NOTHING"
	overrideReplace   = "REPLACE"
	overrideFail      = "FAIL"
	overrideMerge     = "MERGE"
)

// ProvisionInput is what a provisioning template produced for one device, ready to apply.
type ProvisionInput struct {
	// CertificateID names a registered certificate (fleet provisioning: the one the ownership
	// token stands for). NewCertificate instead registers a certificate in the same transaction
	// (just-in-time provisioning, RegisterThing with a CSR or PEM), with CACertificateID and Mode
	// of the CA that signed it. With neither, only the thing and the policies are made.
	CertificateID   string
	NewCertificate  *x509.Certificate
	CACertificateID string
	Mode            CertificateMode
	// CertificateStatus is the status the certificate ends with (ACTIVE or INACTIVE).
	// CertificateOverride (DO_NOTHING, REPLACE, FAIL) applies when the certificate was already
	// out of PENDING_ACTIVATION; by default such a certificate keeps its status.
	CertificateStatus   CertificateStatus
	CertificateOverride string
	// Thing, when set, is created, or updated per its overrides when it exists; the certificate
	// is attached to it.
	Thing *ProvisionThing
	// Policies are attached to the certificate: existing ones by name (Document empty), new
	// ones created (or reused when a policy of that name has the same document).
	Policies []ProvisionPolicy
}

// ProvisionThing is a template's thing.
type ProvisionThing struct {
	Name       string
	TypeName   string
	Attributes map[string]string
	Groups     []string
	// BillingGroup, when set, is the billing group a new thing joins, or an existing thing in
	// no billing group joins (templates have no override setting for it, so a thing already in
	// another billing group stays there). The group must exist.
	BillingGroup string
	// HasAttributes, HasType and HasGroups say which properties the template gave.
	HasAttributes, HasType, HasGroups bool
	// Overrides maps AttributePayload, ThingTypeName and ThingGroups to DO_NOTHING (the
	// default), REPLACE, FAIL or MERGE.
	Overrides map[string]string
}

// ProvisionPolicy is a template's policy.
type ProvisionPolicy struct {
	Name     string
	Document string
}

// ProvisionResult is what Provision did.
type ProvisionResult struct {
	Certificate Certificate
	Thing       *Thing
	Policies    []Policy
}

// Provision applies a provisioning template's resources in one write transaction, in AWS's
// order: register the certificate (JITP), create or update the thing and its groups, create the
// policies, attach them to the certificate, attach the certificate to the thing, set the
// certificate's status. Either everything is stored and its registry events published, or
// nothing is.
func (r *Registry) Provision(in ProvisionInput) (ProvisionResult, error) {
	var out ProvisionResult
	if t := in.Thing; t != nil {
		if err := validThingName(t.Name); err != nil {
			return out, err
		}
		if t.TypeName != "" {
			if err := validThingTypeName(t.TypeName); err != nil {
				return out, err
			}
		}
		if err := validAttributes(t.Attributes); err != nil {
			return out, err
		}
		for _, g := range t.Groups {
			if err := validThingGroupName(g); err != nil {
				return out, err
			}
		}
		if t.BillingGroup != "" {
			if err := validBillingGroupName(t.BillingGroup); err != nil {
				return out, err
			}
		}
	}
	var docs = map[string]string{}
	for _, p := range in.Policies {
		if err := validPolicyName(p.Name); err != nil {
			return out, err
		}
		if p.Document != "" {
			if err := r.checkPolicyDocument(p.Document); err != nil {
				return out, err
			}
			docs[p.Name] = p.Document
		}
	}
	switch in.CertificateStatus {
	case "":
		in.CertificateStatus = StatusActive
	case StatusActive, StatusInactive:
	default:
		return out, newError(ErrInvalidRequest, "Invalid certificate status %q: it must be ACTIVE or INACTIVE", in.CertificateStatus)
	}
	withCert := in.CertificateID != "" || in.NewCertificate != nil
	err := r.update(func(tx *bbolt.Tx, emit func(Event)) error {
		out = ProvisionResult{}
		var cert Certificate
		if withCert {
			var err error
			if cert, err = r.provisionCertificate(tx, emit, in); err != nil {
				return err
			}
		}
		if in.Thing != nil {
			t, err := r.provisionThing(tx, emit, *in.Thing)
			if err != nil {
				return err
			}
			out.Thing = &t
		}
		now := r.nowUTC()
		for _, p := range in.Policies {
			existing, err := getPolicy(tx, p.Name)
			switch {
			case err == nil:
				if p.Document != "" && existing.Document != p.Document {
					return newError(ErrResourceConflicts, "Policy %s already exists with another document", p.Name)
				}
			case isKind(err, ErrNotFound) && p.Document != "":
				existing = Policy{
					Name: p.Name, ARN: r.PolicyARN(p.Name), Document: p.Document, DefaultVersionID: "1",
					GenerationID: uuid.NewString(), CreationDate: now, LastModifiedDate: now,
				}
				if err := insertPolicyTx(existing, p.Document, nil, now)(tx, emit); err != nil {
					return err
				}
			default:
				return err
			}
			out.Policies = append(out.Policies, existing)
			if !withCert {
				continue
			}
			target := policyTarget{key: cert.ID}
			if err := r.attachPolicyTx(p.Name, cert.ARN, target)(tx, emit); err != nil {
				return err
			}
		}
		if !withCert {
			return nil
		}
		if out.Thing != nil {
			if err := r.attachThingPrincipalTx(out.Thing.Name, cert.ARN, cert.ID, NonExclusiveThing)(tx, emit); err != nil {
				return err
			}
		}
		status := cert.Status
		if cert.Status == StatusPendingActivation {
			status = in.CertificateStatus
		} else {
			switch in.CertificateOverride {
			case overrideReplace:
				status = in.CertificateStatus
			case overrideFail:
				if cert.Status != in.CertificateStatus {
					return newError(ErrResourceConflicts, "Certificate %s is %s already", cert.ID, cert.Status)
				}
			}
		}
		if status != cert.Status {
			if cert.Status == StatusRevoked {
				return newError(ErrCertificateState, "Certificate is revoked")
			}
			// setCertificateStatusTx refuses nothing from PENDING_ACTIVATION.
			if err := r.setCertificateStatusTx(cert.ID, status)(tx, emit); err != nil {
				return err
			}
			cert.Status = status
		}
		out.Certificate = cert
		return nil
	})
	if err != nil {
		return ProvisionResult{}, err
	}
	r.log.Info("provisioned", "certificate", out.Certificate.ID, "status", out.Certificate.Status, "thing", thingNameOf(out.Thing), "policies", len(out.Policies))
	return out, nil
}

func thingNameOf(t *Thing) string {
	if t == nil {
		return ""
	}
	return t.Name
}

// provisionCertificate registers the new certificate (JITP) or reads the named one.
func (r *Registry) provisionCertificate(tx *bbolt.Tx, emit func(Event), in ProvisionInput) (Certificate, error) {
	if in.NewCertificate == nil {
		id, err := certID(in.CertificateID)
		if err != nil {
			return Certificate{}, err
		}
		c, err := getCert(tx, id)
		if err != nil {
			return Certificate{}, err
		}
		if c.Status == StatusRevoked {
			return Certificate{}, newError(ErrCertificateState, "Certificate %s is revoked", id)
		}
		return c, nil
	}
	c := r.newCertificate(in.NewCertificate, StatusPendingActivation, in.CACertificateID, in.Mode)
	if err := insertCertificate(tx, c); err != nil {
		return Certificate{}, err
	}
	if in.CACertificateID != "" {
		pub, err := r.CertificateRegisteredPublication(c)
		if err != nil {
			return Certificate{}, err
		}
		emit(Event{Kind: CertificateRegistered, CertificateID: c.ID, Status: c.Status, CACertificateID: in.CACertificateID, Publications: []Publication{pub}})
	}
	return c, nil
}

// provisionThing creates the thing, or applies the template's override settings to the one
// that exists, and puts it in its groups.
func (r *Registry) provisionThing(tx *bbolt.Tx, emit func(Event), in ProvisionThing) (Thing, error) {
	old, found, err := lookupThing(tx, in.Name)
	if err != nil {
		return Thing{}, err
	}
	if !found {
		if in.TypeName != "" {
			if err := usableThingType(tx, in.TypeName); err != nil {
				return Thing{}, err
			}
		}
		limit := maxUntypedAttributes
		if in.TypeName != "" {
			limit = maxTypedAttributes
		}
		if len(in.Attributes) > limit {
			return Thing{}, newError(ErrInvalidRequest, "Thing %s would have %d attributes; the limit is %d", in.Name, len(in.Attributes), limit)
		}
		t := Thing{Name: in.Name, ID: uuid.NewString(), ARN: r.ThingARN(in.Name), TypeName: in.TypeName, Version: 1}
		if len(in.Attributes) > 0 {
			t.Attributes = maps.Clone(in.Attributes)
		}
		if err := putJSON(tx.Bucket(bucketThings), t.Name, t); err != nil {
			return Thing{}, err
		}
		if t.TypeName != "" {
			if err := putKey(tx.Bucket(bucketTypeThings), pairKey(t.TypeName, t.Name), nil); err != nil {
				return Thing{}, err
			}
		}
		if err := r.announceThing(tx, emit, opCreated, t); err != nil {
			return Thing{}, err
		}
		if t.TypeName != "" {
			if err := r.announceTypeAssociation(tx, emit, opCreated, t, t.TypeName); err != nil {
				return Thing{}, err
			}
		}
		for _, g := range in.Groups {
			if err := r.addThingToGroupTx(g, t.Name)(tx, emit); err != nil {
				return Thing{}, err
			}
		}
		return t, joinBillingGroup(tx, emit, in.BillingGroup, t.Name)
	}
	// The thing exists: each property the template gives follows its override setting.
	action := func(prop string) string {
		if a := in.Overrides[prop]; a != "" {
			return a
		}
		return overrideDoNothing
	}
	t := old
	changed := false
	if in.HasAttributes && !maps.Equal(old.Attributes, in.Attributes) {
		switch action("AttributePayload") {
		case overrideFail:
			return Thing{}, newError(ErrResourceConflicts, "Thing %s exists with other attributes (OverrideSettings AttributePayload: FAIL)", in.Name)
		case overrideReplace:
			t.Attributes = AttributePayload{Attributes: in.Attributes}.apply(nil)
			changed = true
		case overrideMerge:
			t.Attributes = AttributePayload{Attributes: in.Attributes, Merge: true}.apply(old.Attributes)
			changed = true
		}
	}
	if in.HasType && old.TypeName != in.TypeName {
		switch action("ThingTypeName") {
		case overrideFail:
			return Thing{}, newError(ErrResourceConflicts, "Thing %s exists with another thing type (OverrideSettings ThingTypeName: FAIL)", in.Name)
		case overrideReplace:
			if in.TypeName != "" {
				if err := usableThingType(tx, in.TypeName); err != nil {
					return Thing{}, err
				}
			}
			t.TypeName = in.TypeName
			changed = true
		}
	}
	limit := maxTypedAttributes
	if t.TypeName == "" {
		limit = maxUntypedAttributes
	}
	if len(t.Attributes) > limit {
		return Thing{}, newError(ErrInvalidRequest, "Thing %s would have %d attributes; the limit is %d", in.Name, len(t.Attributes), limit)
	}
	if changed {
		t.Version++
		if err := putJSON(tx.Bucket(bucketThings), t.Name, t); err != nil {
			return Thing{}, err
		}
		if err := r.announceThing(tx, emit, opUpdated, t); err != nil {
			return Thing{}, err
		}
		if t.TypeName != old.TypeName {
			if err := r.retypeThing(tx, emit, old, t); err != nil {
				return Thing{}, err
			}
		}
	}
	if in.HasGroups {
		current, err := secondParts(tx.Bucket(bucketThingGroupsOf), in.Name)
		if err != nil {
			return Thing{}, err
		}
		slices.Sort(current)
		want := slices.Clone(in.Groups)
		slices.Sort(want)
		want = slices.Compact(want)
		if !slices.Equal(current, want) {
			switch action("ThingGroups") {
			case overrideFail:
				return Thing{}, newError(ErrResourceConflicts, "Thing %s is in other thing groups (OverrideSettings ThingGroups: FAIL)", in.Name)
			case overrideReplace:
				for _, g := range current {
					if !slices.Contains(want, g) {
						if err := r.leaveGroup(tx, emit, g, t); err != nil {
							return Thing{}, err
						}
					}
				}
				fallthrough
			case overrideMerge:
				for _, g := range want {
					if err := r.addThingToGroupTx(g, t.Name)(tx, emit); err != nil {
						return Thing{}, err
					}
				}
			}
		}
	}
	if in.BillingGroup != "" {
		if current := tx.Bucket(bucketThingBillingGroup).Get([]byte(t.Name)); current == nil {
			return t, joinBillingGroup(tx, emit, in.BillingGroup, t.Name)
		}
	}
	return t, nil
}

// joinBillingGroup puts a thing that is in no billing group into group ("" does nothing).
func joinBillingGroup(tx *bbolt.Tx, emit func(Event), group, thing string) error {
	if group == "" {
		return nil
	}
	if _, err := getBillingGroup(tx, group); err != nil {
		return err
	}
	if err := putKey(tx.Bucket(bucketBillingGroupThings), pairKey(group, thing), nil); err != nil {
		return err
	}
	emit(Event{Kind: ThingChanged, ThingName: thing})
	return putKey(tx.Bucket(bucketThingBillingGroup), []byte(thing), []byte(group))
}

// lookupThing reads a thing, reporting whether it exists.
func lookupThing(tx *bbolt.Tx, name string) (Thing, bool, error) {
	var t Thing
	found, err := getJSON(tx.Bucket(bucketThings), name, &t)
	return t, found, err
}

// JITPSigner returns the registered CA that would register cert just in time (ACTIVE, with
// auto-registration enabled), if the certificate is not registered yet; ok is false otherwise.
func (r *Registry) JITPSigner(cert *x509.Certificate) (ca CACertificate, ok bool, err error) {
	if cert == nil {
		return CACertificate{}, false, nil
	}
	id := CertificateID(cert.Raw)
	err = r.view(func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketCerts).Get([]byte(id)) != nil {
			return nil
		}
		signers, err := signersOf(tx, cert)
		if err != nil {
			return err
		}
		for _, c := range signers {
			if c.Status == StatusActive && c.AutoRegistrationStatus == AutoRegistrationEnable {
				ca, ok = c, true
				return nil
			}
		}
		return nil
	})
	return ca, ok, err
}
