package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iotcore-local/iotcore-local/pki"
)

// deviceFiles are the files "cert create" writes to --out.
var deviceFiles = []string{pki.CertificateFile, pki.PrivateKeyFile, pki.PublicKeyFile, pki.RootCAFile}

// certCreate makes an ACTIVE certificate, attaches it to a thing and policies, writes the
// device's files to --out, and prints the certificate id. It is all or nothing: the thing, the
// policies and the folder are checked before the certificate is made, and should a later step
// fail anyway the certificate is detached and deleted again, so no half-made device stays
// behind. Files of an earlier device in --out are kept unless --force is given.
func certCreate(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	fs := newFlagSet("cert create", stderr)
	thing := fs.String("thing", "", "thing to attach the certificate to")
	var policies listFlag
	fs.Var(&policies, "policy", "policy to attach (repeatable)")
	outDir := fs.String("out", "", "folder for certificate.pem.crt, private.pem.key, public.pem.key, root-ca.pem")
	force := fs.Bool("force", false, "replace the files of an earlier certificate in --out")
	newClient := adminFlags(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 || *outDir == "" {
		return fmt.Errorf("%w: cert create takes --out DIR (and optionally --thing NAME, --policy NAME)", errUsage)
	}
	_, statErr := os.Stat(*outDir)
	replaced, err := checkOutDir(*outDir, *force)
	if err != nil {
		return err
	}
	if os.IsNotExist(statErr) {
		defer func() {
			if err != nil {
				os.Remove(*outDir) // the folder made for this certificate, when still empty
			}
		}()
	}
	c := newClient()
	if *thing != "" {
		if _, err := c.iot.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: thing}); err != nil {
			if isNotFound(err) {
				return fmt.Errorf("thing %s does not exist (create it with: iotcore-local thing create %s); nothing was created", *thing, *thing)
			}
			return fmt.Errorf("look up thing %s: %w", *thing, err)
		}
	}
	for _, p := range policies {
		if _, err := c.iot.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: aws.String(p)}); err != nil {
			if isNotFound(err) {
				return fmt.Errorf("policy %s does not exist (create it with: iotcore-local policy create %s --document FILE); nothing was created", p, p)
			}
			return fmt.Errorf("look up policy %s: %w", p, err)
		}
	}
	rootCA, err := c.rootCA(ctx)
	if err != nil {
		return err
	}
	out, err := c.iot.CreateKeysAndCertificate(ctx, &iot.CreateKeysAndCertificateInput{SetAsActive: true})
	if err != nil {
		return fmt.Errorf("create certificate: %w", err)
	}
	undo := rollback{c: c, id: aws.ToString(out.CertificateId), arn: aws.ToString(out.CertificateArn)}
	for _, p := range policies {
		if _, err := c.iot.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String(p), Target: out.CertificateArn}); err != nil {
			return undo.run(ctx, fmt.Errorf("attach policy %s to the new certificate: %w", p, err))
		}
		undo.policies = append(undo.policies, p)
	}
	if *thing != "" {
		if _, err := c.iot.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: thing, Principal: out.CertificateArn}); err != nil {
			return undo.run(ctx, fmt.Errorf("attach the new certificate to thing %s: %w", *thing, err))
		}
		undo.thing = *thing
	}
	creds := pki.DeviceCredentials{CertificatePEM: aws.ToString(out.CertificatePem)}
	if out.KeyPair != nil {
		creds.PrivateKeyPEM, creds.PublicKeyPEM = aws.ToString(out.KeyPair.PrivateKey), aws.ToString(out.KeyPair.PublicKey)
	}
	if err := pki.WriteDeviceFiles(*outDir, creds, rootCA); err != nil {
		return undo.run(ctx, err)
	}
	if replaced != "" {
		fmt.Fprintf(stderr, "replaced the files of certificate %s in %s; that certificate is still registered (deactivate it with: iotcore-local cert update %s --status INACTIVE)\n", replaced, *outDir, replaced)
	}
	fmt.Fprintln(stdout, aws.ToString(out.CertificateId))
	return nil
}

// checkOutDir makes sure the device's files can be written to dir before anything is created:
// the folder is created if need be and must be writable, and files of an earlier certificate are
// only replaced with force. It returns the id of the certificate whose files would be replaced.
func checkOutDir(dir string, force bool) (string, error) {
	var existing []string
	for _, f := range deviceFiles {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			existing = append(existing, f)
		}
	}
	if len(existing) > 0 && !force {
		return "", fmt.Errorf("%s already holds %s of an earlier certificate; nothing was created. "+
			"Use another --out folder, or --force to replace them (the earlier certificate stays registered)",
			dir, strings.Join(existing, ", "))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("cannot create --out folder %s: %w; nothing was created", dir, err)
	}
	probe, err := os.CreateTemp(dir, ".write-test-*")
	if err != nil {
		return "", fmt.Errorf("cannot write to --out folder %s: %w; nothing was created", dir, err)
	}
	probe.Close()
	os.Remove(probe.Name())
	return certificateIDOf(filepath.Join(dir, pki.CertificateFile)), nil
}

// certificateIDOf is the AWS certificate id (SHA-256 of the DER) of a PEM file, or "".
func certificateIDOf(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return ""
	}
	sum := sha256.Sum256(block.Bytes)
	return hex.EncodeToString(sum[:])
}

func isNotFound(err error) bool {
	var nf *types.ResourceNotFoundException
	return errors.As(err, &nf)
}

// rollback undoes what certCreate made so far: it detaches the thing and the policies, then
// deactivates and deletes the certificate.
type rollback struct {
	c        *adminClient
	id, arn  string
	policies []string
	thing    string
}

// run undoes and returns cause, with a note when the undo itself failed.
func (r rollback) run(ctx context.Context, cause error) error {
	ctx = context.WithoutCancel(ctx) // a Ctrl-C must not stop the clean-up half-way
	var errs []error
	if r.thing != "" {
		if _, err := r.c.iot.DetachThingPrincipal(ctx, &iot.DetachThingPrincipalInput{ThingName: aws.String(r.thing), Principal: aws.String(r.arn)}); err != nil {
			errs = append(errs, err)
		}
	}
	for _, p := range r.policies {
		if _, err := r.c.iot.DetachPolicy(ctx, &iot.DetachPolicyInput{PolicyName: aws.String(p), Target: aws.String(r.arn)}); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := r.c.iot.UpdateCertificate(ctx, &iot.UpdateCertificateInput{CertificateId: aws.String(r.id), NewStatus: types.CertificateStatusInactive}); err != nil {
		errs = append(errs, err)
	} else if _, err := r.c.iot.DeleteCertificate(ctx, &iot.DeleteCertificateInput{CertificateId: aws.String(r.id)}); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w; rolling back failed too, certificate %s remains: %w", cause, r.id, errors.Join(errs...))
	}
	return fmt.Errorf("%w; the new certificate was deleted again, nothing was kept", cause)
}
