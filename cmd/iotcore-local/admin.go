package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
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
	fs.StringVar(&endpointURL, "endpoint-url", "http://127.0.0.1:4580", "the emulator's HTTP API (a bare host:port means http://host:port)")
	fs.StringVar(&region, "region", "us-east-1", "region to sign requests for")
	return func() *adminClient {
		endpointURL := normalizeEndpointURL(endpointURL)
		client := iot.New(iot.Options{
			Region:       region,
			BaseEndpoint: aws.String(endpointURL),
			Credentials:  credentials.NewStaticCredentialsProvider("iotcore-local", "iotcore-local", ""),
			HTTPClient:   &http.Client{Timeout: 30 * time.Second},
		})
		return &adminClient{iot: client, baseURL: endpointURL}
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
