package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iotcore-local/iotcore-local/pki"
)

// adminClient is what every admin verb needs: the iot API client and the API's base URL.
type adminClient struct {
	iot     *iot.Client
	baseURL string
}

// adminFlags adds the flags shared by the admin verbs and returns a constructor for the client.
func adminFlags(fs interface {
	StringVar(*string, string, string, string)
}) func() *adminClient {
	var endpointURL, region string
	fs.StringVar(&endpointURL, "endpoint-url", "http://127.0.0.1:4580", "the emulator's HTTP API")
	fs.StringVar(&region, "region", "us-east-1", "region to sign requests for")
	return func() *adminClient {
		client := iot.New(iot.Options{
			Region:       region,
			BaseEndpoint: aws.String(endpointURL),
			Credentials:  credentials.NewStaticCredentialsProvider("iotcore-local", "iotcore-local", ""),
			HTTPClient:   &http.Client{Timeout: 30 * time.Second},
		})
		return &adminClient{iot: client, baseURL: strings.TrimRight(endpointURL, "/")}
	}
}

// admin runs "thing", "policy" and "cert" verbs.
func admin(ctx context.Context, noun string, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: %s needs a verb (see iotcore-local -h)", errUsage, noun)
	}
	verb, args := args[0], args[1:]
	switch noun + " " + verb {
	case "thing create":
		return thingCreate(ctx, args, stdout, stderr)
	case "policy create":
		return policyCreate(ctx, args, stdout, stderr)
	case "policy test":
		return policyTest(ctx, args, stdout, stderr)
	case "cert create":
		return certCreate(ctx, args, stdout, stderr)
	case "cert update":
		return certUpdate(ctx, args, stdout, stderr)
	}
	return fmt.Errorf("%w: unknown command %q (see iotcore-local -h)", errUsage, noun+" "+verb)
}

func thingCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("thing create", stderr)
	attrs := mapFlag{}
	fs.Var(attrs, "attr", "attribute key=value (repeatable)")
	client := adminFlags(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: thing create takes exactly one NAME", errUsage)
	}
	in := &iot.CreateThingInput{ThingName: aws.String(pos[0])}
	if len(attrs) > 0 {
		in.AttributePayload = &types.AttributePayload{Attributes: attrs}
	}
	out, err := client().iot.CreateThing(ctx, in)
	if err != nil {
		return fmt.Errorf("create thing %s: %w", pos[0], err)
	}
	return printJSON(stdout, map[string]string{"thingName": aws.ToString(out.ThingName), "thingArn": aws.ToString(out.ThingArn), "thingId": aws.ToString(out.ThingId)})
}

func policyCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("policy create", stderr)
	document := fs.String("document", "", "file holding the policy document (JSON)")
	client := adminFlags(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *document == "" {
		return fmt.Errorf("%w: policy create takes NAME and --document FILE", errUsage)
	}
	doc, err := os.ReadFile(*document)
	if err != nil {
		return fmt.Errorf("read policy document: %w", err)
	}
	out, err := client().iot.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String(pos[0]), PolicyDocument: aws.String(string(doc))})
	if err != nil {
		return fmt.Errorf("create policy %s: %w", pos[0], err)
	}
	return printJSON(stdout, map[string]string{"policyName": aws.ToString(out.PolicyName), "policyArn": aws.ToString(out.PolicyArn), "policyVersionId": aws.ToString(out.PolicyVersionId)})
}

// certCreate makes an ACTIVE certificate, attaches it to a thing and a policy, writes the
// device's files to --out, and prints the certificate id.
func certCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("cert create", stderr)
	thing := fs.String("thing", "", "thing to attach the certificate to")
	var policies listFlag
	fs.Var(&policies, "policy", "policy to attach (repeatable)")
	outDir := fs.String("out", "", "folder for certificate.pem.crt, private.pem.key, public.pem.key, root-ca.pem")
	newClient := adminFlags(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 || *outDir == "" {
		return fmt.Errorf("%w: cert create takes --out DIR (and optionally --thing NAME, --policy NAME)", errUsage)
	}
	c := newClient()
	rootCA, err := c.rootCA(ctx)
	if err != nil {
		return err
	}
	out, err := c.iot.CreateKeysAndCertificate(ctx, &iot.CreateKeysAndCertificateInput{SetAsActive: true})
	if err != nil {
		return fmt.Errorf("create certificate: %w", err)
	}
	creds := pki.DeviceCredentials{CertificatePEM: aws.ToString(out.CertificatePem)}
	if out.KeyPair != nil {
		creds.PrivateKeyPEM, creds.PublicKeyPEM = aws.ToString(out.KeyPair.PrivateKey), aws.ToString(out.KeyPair.PublicKey)
	}
	if err := pki.WriteDeviceFiles(*outDir, creds, rootCA); err != nil {
		return err
	}
	for _, p := range policies {
		if _, err := c.iot.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String(p), Target: out.CertificateArn}); err != nil {
			return fmt.Errorf("attach policy %s to certificate %s: %w", p, aws.ToString(out.CertificateId), err)
		}
	}
	if *thing != "" {
		if _, err := c.iot.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: thing, Principal: out.CertificateArn}); err != nil {
			return fmt.Errorf("attach certificate %s to thing %s: %w", aws.ToString(out.CertificateId), *thing, err)
		}
	}
	fmt.Fprintln(stdout, aws.ToString(out.CertificateId))
	return nil
}

func certUpdate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("cert update", stderr)
	status := fs.String("status", "", "ACTIVE, INACTIVE or REVOKED")
	client := adminFlags(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *status == "" {
		return fmt.Errorf("%w: cert update takes CERT_ID and --status ACTIVE|INACTIVE|REVOKED", errUsage)
	}
	_, err = client().iot.UpdateCertificate(ctx, &iot.UpdateCertificateInput{CertificateId: aws.String(pos[0]), NewStatus: types.CertificateStatus(*status)})
	if err != nil {
		return fmt.Errorf("update certificate %s: %w", pos[0], err)
	}
	fmt.Fprintf(stdout, "certificate %s is now %s\n", pos[0], *status)
	return nil
}

// rootCA downloads the CA that clients trust from the emulator.
func (c *adminClient) rootCA(ctx context.Context) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.baseURL+"/_iotcore/root-ca.pem", nil)
	if err != nil {
		return nil, fmt.Errorf("root CA request: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch root CA from %s (is the emulator running?): %w", c.baseURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch root CA: status %d: %v", resp.StatusCode, err)
	}
	return body, nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
