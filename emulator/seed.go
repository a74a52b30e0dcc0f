package emulator

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/iotcore-local/iotcore-local/auth"
	"github.com/iotcore-local/iotcore-local/functions"
	"github.com/iotcore-local/iotcore-local/pki"
	"github.com/iotcore-local/iotcore-local/registry"
)

// Seed declares what should exist at start: policies, things, and certificates with the folders
// their files go to. Applying a seed is idempotent: what exists already is kept.
type Seed struct {
	Credentials  []SeedCredential  `json:"credentials"`
	ThingTypes   []SeedThingType   `json:"thingTypes"`
	Policies     []SeedPolicy      `json:"policies"`
	Things       []SeedThing       `json:"things"`
	Certificates []SeedCertificate `json:"certificates"`
	Jobs         []SeedJob         `json:"jobs"` // seedjobs.go
	Functions    []SeedFunction    `json:"functions"`
	// TLSFaults are fault injection rules, NAME[@TARGET], as serve --tls-fault takes them.
	TLSFaults []string   `json:"tlsFaults"`
	Rules     []SeedRule `json:"rules"`

	// Fleet provisioning (provisioning.go).
	ProvisioningTemplates []SeedProvisioningTemplate `json:"provisioningTemplates"`
	ClaimCertificates     []SeedClaimCertificate     `json:"claimCertificates"`
}

// SeedFunction routes a function's invocations to a URL, as serve --function ARN=URL does.
type SeedFunction struct {
	ARN string `json:"arn"`
	URL string `json:"url"`
}

// SeedCredential is an AWS key pair whose SigV4 signatures the HTTP API verifies.
type SeedCredential struct {
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
	// Policy is an IAM-style policy (iot: actions) the key is held to over MQTT-over-WebSocket:
	// an object or a JSON string. CognitoIdentityID makes the key a Cognito identity's, whose
	// attached IoT policies must allow too. Neither: the key is allowed everything.
	Policy            json.RawMessage `json:"policy"`
	CognitoIdentityID string          `json:"cognitoIdentityId"`
}

// policyText is the credential's policy as JSON text, "" for none.
func (c SeedCredential) policyText() string {
	if len(c.Policy) == 0 || string(c.Policy) == "null" {
		return ""
	}
	return SeedPolicy{Document: c.Policy}.policyText()
}

// SeedThingType is a thing type; a type that things of the seed name is created even when not
// declared here.
type SeedThingType struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// SeedPolicy is a policy; Document is the policy as a JSON/YAML object or as a JSON string.
type SeedPolicy struct {
	Name     string          `json:"name"`
	Document json.RawMessage `json:"document"`
}

// SeedThing is a thing with optional type and attributes.
type SeedThing struct {
	Name       string            `json:"name"`
	ThingType  string            `json:"thingType"`
	Attributes map[string]string `json:"attributes"`
}

// SeedCertificate is a device certificate issued by the emulator, attached to a thing and
// policies, with its files (certificate.pem.crt, private.pem.key, public.pem.key, root-ca.pem)
// written to Out. When Out already holds a certificate, that one is kept (and registered again
// if the registry does not know it), so device files stay valid across runs.
type SeedCertificate struct {
	Thing    string   `json:"thing"`
	Policies []string `json:"policies"`
	Out      string   `json:"out"` // relative paths are relative to the seed file's folder
	Status   string   `json:"status"`
}

// ParseSeed reads a seed document in YAML or JSON. Unknown fields are errors, so a misspelt key
// never passes silently.
func ParseSeed(data []byte) (*Seed, error) {
	var tree any
	if err := yaml.Unmarshal(data, &tree); err != nil {
		return nil, fmt.Errorf("seed is neither valid YAML nor JSON: %w", err)
	}
	if tree == nil {
		return &Seed{}, nil
	}
	js, err := json.Marshal(tree)
	if err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	var s Seed
	if err := dec.Decode(&s); err != nil {
		if uerr := unknownSeedField(tree); uerr != nil {
			return nil, fmt.Errorf("seed: %w", uerr)
		}
		return nil, fmt.Errorf("seed: %w", err)
	}
	return &s, nil
}

// policyText is the document as the JSON text the registry stores.
func (p SeedPolicy) policyText() string {
	var s string
	if json.Unmarshal(p.Document, &s) == nil {
		return s
	}
	return string(p.Document)
}

// validate checks the whole seed before anything is written, naming the first bad entry.
func (s *Seed) validate(exists func(kind, name string) bool) error {
	var errs []error
	declared := map[string]map[string]bool{"policy": {}, "thing": {}}
	if _, err := parseTLSFaults(s.TLSFaults, "tlsFaults"); err != nil {
		errs = append(errs, err)
	}
	for i, c := range s.Credentials {
		if c.AccessKeyID == "" || c.SecretAccessKey == "" {
			errs = append(errs, fmt.Errorf("credentials[%d]: accessKeyId and secretAccessKey are required", i))
		}
		for _, err := range checkCredentialIdentities(map[string]CredentialIdentity{c.AccessKeyID: {Policy: c.policyText(), CognitoIdentityID: c.CognitoIdentityID}}) {
			errs = append(errs, fmt.Errorf("credentials[%d]: %w", i, err))
		}
	}
	for i, f := range s.Functions {
		if _, _, err := functions.ParseRoute(f.ARN + "=" + f.URL); err != nil {
			errs = append(errs, fmt.Errorf("functions[%d]: %w", i, err))
		}
	}
	for i, tt := range s.ThingTypes {
		if tt.Name == "" {
			errs = append(errs, fmt.Errorf("thingTypes[%d].name: required", i))
		}
	}
	for i, p := range s.Policies {
		where := fmt.Sprintf("policies[%d]", i)
		if p.Name == "" {
			errs = append(errs, fmt.Errorf("%s.name: required", where))
		}
		if len(p.Document) == 0 || string(p.Document) == "null" {
			errs = append(errs, fmt.Errorf("%s (%s).document: required", where, p.Name))
		} else if _, err := auth.ParseDocument(p.policyText()); err != nil {
			errs = append(errs, fmt.Errorf("%s (%s).document: %w", where, p.Name, err))
		}
		declared["policy"][p.Name] = true
	}
	for i, t := range s.Things {
		if t.Name == "" {
			errs = append(errs, fmt.Errorf("things[%d].name: required", i))
		}
		declared["thing"][t.Name] = true
	}
	known := func(kind, name string) bool { return declared[kind][name] || exists(kind, name) }
	for i, c := range s.Certificates {
		where := fmt.Sprintf("certificates[%d]", i)
		if c.Out == "" {
			errs = append(errs, fmt.Errorf("%s.out: required (the folder the device's files are written to)", where))
		}
		if c.Thing != "" && !known("thing", c.Thing) {
			errs = append(errs, fmt.Errorf("%s.thing: %q is neither declared in things nor registered", where, c.Thing))
		}
		for _, p := range c.Policies {
			if !known("policy", p) {
				errs = append(errs, fmt.Errorf("%s.policies: %q is neither declared in policies nor registered", where, p))
			}
		}
		if c.Status != "" && !registry.CertificateStatus(c.Status).Valid() {
			errs = append(errs, fmt.Errorf("%s.status: %q is not a certificate status", where, c.Status))
		}
	}
	errs = append(errs, validateSeedJobs(s.Jobs)...)
	return errors.Join(errs...)
}

// readSeedFile reads and parses a seed file.
func readSeedFile(path string) (*Seed, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read seed file: %w", err)
	}
	seed, err := ParseSeed(data)
	if err != nil {
		return nil, fmt.Errorf("seed file %s: %w", path, err)
	}
	return seed, nil
}

// ApplySeedFile parses and applies a seed file on a running emulator; relative output folders are
// taken from the file's folder. The whole file is checked before anything is created. Its
// credentials count only for emulators started with it (Config.SeedFile).
func (e *Emulator) ApplySeedFile(ctx context.Context, path string) error {
	seed, err := readSeedFile(path)
	if err != nil {
		return err
	}
	if err := e.ApplySeed(ctx, seed, filepath.Dir(path)); err != nil {
		return fmt.Errorf("seed file %s: %w", path, err)
	}
	return nil
}

// addCredentials adds key pairs to those the HTTP API verifies.
func (e *Emulator) addCredentials(creds []SeedCredential) {
	if len(creds) == 0 {
		return
	}
	merged := make(map[string]string, len(e.cfg.Credentials)+len(creds))
	for k, v := range e.cfg.Credentials {
		merged[k] = v
	}
	ids := make(map[string]CredentialIdentity, len(e.cfg.CredentialIdentities)+len(creds))
	for k, v := range e.cfg.CredentialIdentities {
		ids[k] = v
	}
	for _, c := range creds {
		merged[c.AccessKeyID] = c.SecretAccessKey
		if id := (CredentialIdentity{Policy: c.policyText(), CognitoIdentityID: c.CognitoIdentityID}); id != (CredentialIdentity{}) {
			ids[c.AccessKeyID] = id
		}
	}
	e.cfg.Credentials = merged
	e.cfg.CredentialIdentities = ids
}

// addFunctions adds the seed's function routes to those of the configuration; a route given on
// the command line wins.
func (e *Emulator) addFunctions(fns []SeedFunction) {
	if len(fns) == 0 {
		return
	}
	merged := make(map[string]string, len(e.cfg.Functions)+len(fns))
	for _, f := range fns {
		merged[f.ARN] = f.URL
	}
	for k, v := range e.cfg.Functions {
		merged[k] = v
	}
	e.cfg.Functions = merged
}

// ApplySeed creates what the seed declares and is missing. baseDir resolves relative Out folders.
func (e *Emulator) ApplySeed(ctx context.Context, seed *Seed, baseDir string) error {
	exists := func(kind, name string) bool {
		var err error
		switch kind {
		case "thing":
			_, err = e.registry.DescribeThing(name)
		case "policy":
			_, err = e.registry.GetPolicy(name)
		}
		return err == nil
	}
	if err := seed.validate(exists); err != nil {
		return err
	}
	if err := e.checkSeedRules(seed.Rules); err != nil {
		return err
	}
	if err := e.validateProvisioningSeed(seed); err != nil {
		return err
	}
	if rules, _ := parseTLSFaults(seed.TLSFaults, "tlsFaults"); e.faults != nil {
		if err := e.addTLSFaults(rules); err != nil {
			return fmt.Errorf("tlsFaults: %w", err)
		}
	}
	for _, p := range seed.Policies {
		if err := e.ensurePolicy(p.Name, p.policyText()); err != nil {
			return err
		}
	}
	if err := e.ensureThingTypes(seed); err != nil {
		return err
	}
	for _, t := range seed.Things {
		in := registry.CreateThingInput{Name: t.Name, TypeName: t.ThingType, Attributes: t.Attributes}
		if _, err := e.registry.CreateThing(in); err != nil {
			return fmt.Errorf("thing %s: %w", t.Name, err)
		}
	}
	for _, c := range seed.Certificates {
		if err := ctx.Err(); err != nil {
			return err
		}
		out := c.Out
		if !filepath.IsAbs(out) {
			out = filepath.Join(baseDir, out)
		}
		id, err := e.ensureSeedCertificate(c, out)
		if err != nil {
			return fmt.Errorf("certificate for %s in %s: %w", c.Thing, out, err)
		}
		e.log.Info("seed certificate ready", "thing", c.Thing, "certificate", id, "out", displayPath(out))
	}
	if err := e.applySeedJobs(seed.Jobs); err != nil {
		return err
	}
	if err := e.applySeedRules(seed.Rules); err != nil {
		return err
	}
	return e.applyProvisioningSeed(ctx, seed, baseDir)
}

// ensureThingTypes creates the declared thing types and those the seed's things name.
func (e *Emulator) ensureThingTypes(seed *Seed) error {
	types := map[string]string{}
	for _, t := range seed.Things {
		if t.ThingType != "" {
			types[t.ThingType] = ""
		}
	}
	for _, tt := range seed.ThingTypes {
		types[tt.Name] = tt.Description
	}
	for name, description := range types {
		if _, err := e.registry.DescribeThingType(name); err == nil {
			continue
		}
		in := registry.CreateThingTypeInput{Name: name, Description: description}
		if _, err := e.registry.CreateThingType(in); err != nil && !errors.Is(err, registry.ErrAlreadyExists) {
			return fmt.Errorf("thing type %s: %w", name, err)
		}
	}
	return nil
}

// ensureSeedCertificate reuses the certificate in out, or issues one and writes its files.
func (e *Emulator) ensureSeedCertificate(c SeedCertificate, out string) (string, error) {
	status := registry.StatusActive
	if c.Status != "" {
		status = registry.CertificateStatus(c.Status)
	}
	certPEM, err := os.ReadFile(filepath.Join(out, pki.CertificateFile))
	switch {
	case err == nil:
		// Keep the device's existing files; register them if this registry is new.
		if err := pki.WriteDeviceFiles(out, pki.DeviceCredentials{}, e.pki.RootCAPEM()); err != nil {
			return "", err
		}
	case errors.Is(err, os.ErrNotExist):
		creds, err := e.pki.IssueDevice()
		if err != nil {
			return "", err
		}
		if err := pki.WriteDeviceFiles(out, creds, e.pki.RootCAPEM()); err != nil {
			return "", err
		}
		certPEM = []byte(creds.CertificatePEM)
	default:
		return "", fmt.Errorf("read existing certificate: %w", err)
	}
	id, err := pemCertificateID(certPEM)
	if err != nil {
		return "", fmt.Errorf("%s: %w", filepath.Join(out, pki.CertificateFile), err)
	}
	cert, err := e.registry.DescribeCertificate(id)
	if errors.Is(err, registry.ErrNotFound) {
		cert, err = e.registry.RegisterCertificate(string(certPEM), status, "")
	}
	if err != nil {
		return "", err
	}
	return id, e.attach(cert.ARN, c.Thing, c.Policies)
}

// pemCertificateID is the AWS certificate id of the first certificate in a PEM file.
func pemCertificateID(data []byte) (string, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return "", errors.New("no PEM certificate found")
	}
	if _, err := x509.ParseCertificate(block.Bytes); err != nil {
		return "", fmt.Errorf("parse certificate: %w", err)
	}
	return registry.CertificateID(block.Bytes), nil
}

// sameJSON reports whether two JSON texts hold the same value.
func sameJSON(a, b string) bool {
	var va, vb any
	if json.Unmarshal([]byte(a), &va) != nil || json.Unmarshal([]byte(b), &vb) != nil {
		return strings.TrimSpace(a) == strings.TrimSpace(b)
	}
	ja, _ := json.Marshal(va)
	jb, _ := json.Marshal(vb)
	return bytes.Equal(ja, jb)
}
