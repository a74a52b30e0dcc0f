package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
)

// shadowUsage describes the shadow verbs.
const shadowUsage = `usage:
  iotcore-local shadow get THING [--name N]
  iotcore-local shadow update THING [--name N] --document FILE|-
  iotcore-local shadow update THING [--name N] --state JSON
  iotcore-local shadow delete THING [--name N]
  iotcore-local shadow list THING [--page-size N]

Every verb also takes --endpoint-url URL (default http://127.0.0.1:4580) and --region REGION.`

// dataPlaneFlags adds the flags shared by the shadow verbs (the same as the admin verbs') and
// returns a constructor for an iot-data client. Requests are signed for service iotdata, so the
// emulator routes them to its data plane.
func dataPlaneFlags(fs interface {
	StringVar(*string, string, string, string)
}) func() *iotdataplane.Client {
	var endpointURL, region string
	fs.StringVar(&endpointURL, "endpoint-url", "http://127.0.0.1:4580", "the emulator's HTTP API (a bare host:port means http://host:port)")
	fs.StringVar(&region, "region", "us-east-1", "region to sign requests for")
	return func() *iotdataplane.Client {
		return iotdataplane.New(iotdataplane.Options{
			Region:       region,
			BaseEndpoint: aws.String(normalizeEndpointURL(endpointURL)),
			Credentials:  credentials.NewStaticCredentialsProvider("iotcore-local", "iotcore-local", ""),
			HTTPClient:   &http.Client{Timeout: 30 * time.Second},
		})
	}
}

// shadowCmd runs the "shadow" verbs: the Device Shadow through the iot-data HTTP API. The
// document the API returns is printed, indented; an API error is returned as is.
func shadowCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, shadowUsage)
		return fmt.Errorf("%w: shadow needs a verb: get, update, delete or list", errUsage)
	}
	verb, args := args[0], args[1:]
	switch verb {
	case "get", "delete":
		return shadowGetDelete(ctx, verb, args, stdout, stderr)
	case "update":
		return shadowUpdate(ctx, args, stdin, stdout, stderr)
	case "list":
		return shadowList(ctx, args, stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, shadowUsage)
		return nil
	}
	fmt.Fprintln(stderr, shadowUsage)
	return fmt.Errorf("%w: unknown command \"shadow %s\"", errUsage, verb)
}

// shadowFlags parses the flags of a verb naming one shadow and returns the thing, the shadow
// name ("" for the classic shadow) and the client constructor.
func shadowFlags(fs *flag.FlagSet, args []string) (thing, name string, client func() *iotdataplane.Client, err error) {
	fs.StringVar(&name, "name", "", "named shadow (default: the classic shadow)")
	client = dataPlaneFlags(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return "", "", nil, err
	}
	if len(pos) != 1 {
		return "", "", nil, fmt.Errorf("%w: %s takes exactly one THING", errUsage, fs.Name())
	}
	return pos[0], name, client, nil
}

// shadowName is the SDK's ShadowName for a --name value: nil for the classic shadow.
func shadowName(name string) *string {
	if name == "" {
		return nil
	}
	return aws.String(name)
}

// describeShadow names a shadow in messages.
func describeShadow(thing, name string) string {
	if name == "" {
		return "classic shadow of " + thing
	}
	return "shadow " + name + " of " + thing
}

func shadowGetDelete(ctx context.Context, verb string, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("shadow "+verb, stderr)
	thing, name, client, err := shadowFlags(fs, args)
	if err != nil {
		return err
	}
	var payload []byte
	if verb == "get" {
		out, err := client().GetThingShadow(ctx, &iotdataplane.GetThingShadowInput{ThingName: aws.String(thing), ShadowName: shadowName(name)})
		if err != nil {
			return fmt.Errorf("get %s: %w", describeShadow(thing, name), err)
		}
		payload = out.Payload
	} else {
		out, err := client().DeleteThingShadow(ctx, &iotdataplane.DeleteThingShadowInput{ThingName: aws.String(thing), ShadowName: shadowName(name)})
		if err != nil {
			return fmt.Errorf("delete %s: %w", describeShadow(thing, name), err)
		}
		payload = out.Payload
	}
	return printDocument(stdout, payload)
}

func shadowUpdate(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("shadow update", stderr)
	document := fs.String("document", "", `file holding the request state document ("-" reads standard input)`)
	state := fs.String("state", "", `the state object, e.g. '{"desired":{"color":"red"}}' (sent as {"state": JSON})`)
	thing, name, client, err := shadowFlags(fs, args)
	if err != nil {
		return err
	}
	doc, err := updateDocument(*document, *state, stdin)
	if err != nil {
		return err
	}
	out, err := client().UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{
		ThingName: aws.String(thing), ShadowName: shadowName(name), Payload: doc,
	})
	if err != nil {
		return fmt.Errorf("update %s: %w", describeShadow(thing, name), err)
	}
	return printDocument(stdout, out.Payload)
}

// updateDocument is the request document of shadow update: the --document file (or standard
// input), or {"state": --state}. Exactly one of the two must be given.
func updateDocument(document, state string, stdin io.Reader) ([]byte, error) {
	switch {
	case document != "" && state != "":
		return nil, fmt.Errorf("%w: shadow update takes --document or --state, not both", errUsage)
	case document == "-":
		doc, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("read the shadow document from standard input: %w", err)
		}
		return doc, nil
	case document != "":
		doc, err := os.ReadFile(document)
		if err != nil {
			return nil, fmt.Errorf("read the shadow document: %w", err)
		}
		return doc, nil
	case state != "":
		if !json.Valid([]byte(state)) {
			return nil, fmt.Errorf("%w: --state is not valid JSON: %s", errUsage, state)
		}
		var b bytes.Buffer
		b.WriteString(`{"state":`)
		b.WriteString(state)
		b.WriteString(`}`)
		return b.Bytes(), nil
	}
	return nil, fmt.Errorf("%w: shadow update needs --document FILE|- or --state JSON", errUsage)
}

// shadowList prints the names of every named shadow of a thing, following the pages.
func shadowList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("shadow list", stderr)
	pageSize := fs.Int("page-size", 0, "names per request, 1-100 (default: the API's, 25)")
	newClient := dataPlaneFlags(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: shadow list takes exactly one THING", errUsage)
	}
	if *pageSize < 0 || *pageSize > 100 {
		return fmt.Errorf("%w: --page-size must be between 1 and 100", errUsage)
	}
	client := newClient()
	in := &iotdataplane.ListNamedShadowsForThingInput{ThingName: aws.String(pos[0])}
	if *pageSize > 0 {
		in.PageSize = aws.Int32(int32(*pageSize))
	}
	names := []string{}
	var timestamp int64
	for {
		out, err := client.ListNamedShadowsForThing(ctx, in)
		if err != nil {
			return fmt.Errorf("list named shadows of %s: %w", pos[0], err)
		}
		names = append(names, out.Results...)
		timestamp = out.Timestamp
		if out.NextToken == nil || *out.NextToken == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	return printJSON(stdout, struct {
		Results   []string `json:"results"`
		Timestamp int64    `json:"timestamp"`
	}{names, timestamp})
}

// printDocument prints a JSON document returned by the API, indented; a body that is not JSON
// is printed as it came.
func printDocument(w io.Writer, doc []byte) error {
	var b bytes.Buffer
	if err := json.Indent(&b, doc, "", "  "); err != nil {
		b.Reset()
		b.Write(doc)
	}
	b.WriteByte('\n')
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}
