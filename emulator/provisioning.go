package emulator

import (
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/iotcore-local/iotcore-local/hooks"
	"github.com/iotcore-local/iotcore-local/provisioning"
	"github.com/iotcore-local/iotcore-local/registry"
)

// openProvisioning opens the fleet provisioning service beside the registry.
func (e *Emulator) openProvisioning() error {
	var err error
	e.provisioning, err = provisioning.Open(provisioning.Options{
		Path:     filepath.Join(e.cfg.DataDir, "provisioning.db"),
		Region:   e.cfg.Region,
		Account:  e.cfg.Account,
		Registry: e.registry,
		Issuer:   e.pki,
		Logger:   e.log.With("component", "provisioning"),
	})
	if err == nil && e.functions != nil {
		// Pre-provisioning hooks are called through the emulator's functions.
		e.provisioning.SetInvoker(e.functions)
	}
	if err != nil {
		return fmt.Errorf("open provisioning store: %w", err)
	}
	return nil
}

// Provisioning is the fleet provisioning service (templates, claims, RegisterThing).
func (e *Emulator) Provisioning() *provisioning.Service { return e.provisioning }

// directory is what the authorizer reads: the registry, plus the claim certificates of
// CreateProvisioningClaim (not registered, valid five minutes, allowed only their template's
// provisioning topics) and just-in-time provisioning for CAs with a registration template.
func (e *Emulator) directory() hooks.Directory {
	if e.provisioning == nil {
		return e.registry
	}
	return &provisioningDirectory{Registry: e.registry, prov: e.provisioning, log: e.log.With("component", "provisioning")}
}

type provisioningDirectory struct {
	*registry.Registry
	prov *provisioning.Service
	log  *slog.Logger
}

// CertificateIdentity is the registry's, or, for a live claim certificate, an ACTIVE
// certificate with the claim's implicit policy.
func (d *provisioningDirectory) CertificateIdentity(id string) (registry.CertificateView, error) {
	view, err := d.Registry.CertificateIdentity(id)
	if err == nil || !errors.Is(err, registry.ErrNotFound) {
		return view, err
	}
	tmpl, _, ok := d.prov.ClaimTemplate(id)
	if !ok {
		return view, err
	}
	return registry.CertificateView{
		Certificate: registry.Certificate{ID: id, ARN: d.Registry.CertificateARN(id), Status: registry.StatusActive},
		Policies:    []registry.Policy{{Name: "provisioning-claim-" + tmpl, Document: d.prov.ClaimPolicyDocument(tmpl)}},
	}, nil
}

// AutoRegisterCertificate provisions a certificate just in time when the CA that signed it has
// a registration template (JITP); otherwise it is just-in-time registration as before.
func (d *provisioningDirectory) AutoRegisterCertificate(cert *x509.Certificate) (registry.Certificate, bool, error) {
	ca, ok, err := d.Registry.JITPSigner(cert)
	if err == nil && ok {
		handled, perr := d.prov.ProvisionJITP(cert, ca)
		if handled {
			if perr != nil {
				d.log.Warn("just-in-time provisioning failed", "ca", ca.ID, "error", perr)
				return registry.Certificate{}, false, perr
			}
			c, err := d.Registry.DescribeCertificate(registry.CertificateID(cert.Raw))
			if err != nil {
				return registry.Certificate{}, false, err
			}
			d.log.Info("certificate provisioned just in time; the device's next connection is accepted", "certificate", c.ID, "ca", ca.ID, "status", c.Status)
			return c, true, nil
		}
	}
	return d.Registry.AutoRegisterCertificate(cert)
}

// claimStatus is what a handshake transcript says of a claim certificate of
// CreateProvisioningClaim, which the registry does not know.
func (e *Emulator) claimStatus(id string) (string, bool) {
	if e.provisioning == nil {
		return "", false
	}
	tmpl, exp, ok := e.provisioning.ClaimTemplate(id)
	if !ok {
		return "", false
	}
	return fmt.Sprintf("ACTIVE (provisioning claim for template %s until %s)", tmpl, exp.Format(time.RFC3339)), true
}
