package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iotcore-local/iotcore-local/pki"
)

// provisioningUsage describes the provisioning verbs.
const provisioningUsage = `usage:
  iotcore-local provisioning template create NAME --body FILE [--role-arn ARN] [--enabled]
                [--type FLEET_PROVISIONING|JITP] [--description TEXT] [--hook-arn LAMBDA_ARN]
  iotcore-local provisioning template list
  iotcore-local provisioning template describe NAME
  iotcore-local provisioning claim create TEMPLATE --out DIR

"claim create" writes a temporary claim certificate (valid five minutes) to DIR as
certificate.pem.crt, private.pem.key, public.pem.key and root-ca.pem, and prints its id and expiry.
Every verb also takes --endpoint-url URL (default http://127.0.0.1:4580) and --region REGION.`

// defaultRoleARN is the role a template gets when --role-arn is not given; the emulator does not
// assume roles, but AWS requires one.
const defaultRoleARN = "arn:aws:iam::123456789012:role/iotcore-local-provisioning"

// provisioningCmd runs the "provisioning" verbs, thin clients of the HTTP API.
func provisioningCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) >= 1 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprintln(stdout, provisioningUsage)
		return nil
	}
	if len(args) < 2 {
		fmt.Fprintln(stderr, provisioningUsage)
		return fmt.Errorf("%w: provisioning needs a noun and a verb, e.g. \"provisioning template list\"", errUsage)
	}
	switch args[0] + " " + args[1] {
	case "template create":
		return templateCreate(ctx, args[2:], stdout, stderr)
	case "template list":
		return templateList(ctx, args[2:], stdout, stderr)
	case "template describe":
		return templateDescribe(ctx, args[2:], stdout, stderr)
	case "claim create":
		return claimCreate(ctx, args[2:], stdout, stderr)
	}
	fmt.Fprintln(stderr, provisioningUsage)
	return fmt.Errorf("%w: unknown command \"provisioning %s %s\"", errUsage, args[0], args[1])
}

func templateCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("provisioning template create", stderr)
	body := fs.String("body", "", "file holding the template body (JSON)")
	role := fs.String("role-arn", defaultRoleARN, "provisioning role ARN")
	enabled := fs.Bool("enabled", false, "enable the template (AWS's default is disabled)")
	typ := fs.String("type", "FLEET_PROVISIONING", "FLEET_PROVISIONING or JITP")
	desc := fs.String("description", "", "description")
	hook := fs.String("hook-arn", "", "pre-provisioning hook: the Lambda function's ARN")
	client := adminFlags(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *body == "" {
		return fmt.Errorf("%w: provisioning template create takes NAME and --body FILE", errUsage)
	}
	text, err := os.ReadFile(*body)
	if err != nil {
		return fmt.Errorf("read template body: %w", err)
	}
	in := &iot.CreateProvisioningTemplateInput{
		TemplateName: aws.String(pos[0]), TemplateBody: aws.String(string(text)), ProvisioningRoleArn: role,
		Enabled: enabled, Type: types.TemplateType(*typ),
	}
	if *desc != "" {
		in.Description = desc
	}
	if *hook != "" {
		in.PreProvisioningHook = &types.ProvisioningHook{TargetArn: hook, PayloadVersion: aws.String("2020-04-01")}
	}
	out, err := client().iot.CreateProvisioningTemplate(ctx, in)
	if err != nil {
		return fmt.Errorf("create provisioning template %s: %w", pos[0], err)
	}
	return printJSON(stdout, map[string]any{"templateName": aws.ToString(out.TemplateName), "templateArn": aws.ToString(out.TemplateArn), "defaultVersionId": aws.ToInt32(out.DefaultVersionId)})
}

func templateList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("provisioning template list", stderr)
	client := adminFlags(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return fmt.Errorf("%w: provisioning template list takes no arguments", errUsage)
	}
	c := client()
	type row struct {
		TemplateName string `json:"templateName"`
		Type         string `json:"type"`
		Enabled      bool   `json:"enabled"`
		Description  string `json:"description,omitempty"`
	}
	rows := []row{}
	p := iot.NewListProvisioningTemplatesPaginator(c.iot, &iot.ListProvisioningTemplatesInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list provisioning templates: %w", err)
		}
		for _, t := range page.Templates {
			rows = append(rows, row{aws.ToString(t.TemplateName), string(t.Type), aws.ToBool(t.Enabled), aws.ToString(t.Description)})
		}
	}
	return printJSON(stdout, rows)
}

func templateDescribe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("provisioning template describe", stderr)
	client := adminFlags(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: provisioning template describe takes exactly one NAME", errUsage)
	}
	out, err := client().iot.DescribeProvisioningTemplate(ctx, &iot.DescribeProvisioningTemplateInput{TemplateName: aws.String(pos[0])})
	if err != nil {
		return fmt.Errorf("describe provisioning template %s: %w", pos[0], err)
	}
	res := map[string]any{
		"templateName": aws.ToString(out.TemplateName), "templateArn": aws.ToString(out.TemplateArn),
		"type": string(out.Type), "enabled": aws.ToBool(out.Enabled), "defaultVersionId": aws.ToInt32(out.DefaultVersionId),
		"provisioningRoleArn": aws.ToString(out.ProvisioningRoleArn), "templateBody": aws.ToString(out.TemplateBody),
	}
	if out.Description != nil {
		res["description"] = *out.Description
	}
	if out.PreProvisioningHook != nil {
		res["preProvisioningHook"] = map[string]string{"targetArn": aws.ToString(out.PreProvisioningHook.TargetArn)}
	}
	return printJSON(stdout, res)
}

func claimCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("provisioning claim create", stderr)
	outDir := fs.String("out", "", "folder for certificate.pem.crt, private.pem.key, public.pem.key, root-ca.pem")
	newClient := adminFlags(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *outDir == "" {
		return fmt.Errorf("%w: provisioning claim create takes TEMPLATE and --out DIR", errUsage)
	}
	c := newClient()
	rootCA, err := c.rootCA(ctx)
	if err != nil {
		return err
	}
	out, err := c.iot.CreateProvisioningClaim(ctx, &iot.CreateProvisioningClaimInput{TemplateName: aws.String(pos[0])})
	if err != nil {
		return fmt.Errorf("create provisioning claim for %s: %w", pos[0], err)
	}
	creds := pki.DeviceCredentials{CertificatePEM: aws.ToString(out.CertificatePem)}
	if out.KeyPair != nil {
		creds.PrivateKeyPEM, creds.PublicKeyPEM = aws.ToString(out.KeyPair.PrivateKey), aws.ToString(out.KeyPair.PublicKey)
	}
	if err := pki.WriteDeviceFiles(*outDir, creds, rootCA); err != nil {
		return err
	}
	return printJSON(stdout, map[string]string{"certificateId": aws.ToString(out.CertificateId), "expiration": aws.ToTime(out.Expiration).UTC().Format(time.RFC3339)})
}
