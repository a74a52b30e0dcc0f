// Command rulesink is a Lambda function for the rules engine's end-to-end tests, written with
// github.com/aws/aws-lambda-go and run behind the AWS Lambda Runtime Interface Emulator. It
// forwards every event it receives, unchanged, as a POST to the URL in SINK_URL, so a test can
// see what a rule's lambda action delivered (the action is asynchronous: its answer is
// discarded).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
)

func handle(ctx context.Context, event json.RawMessage) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, os.Getenv("SINK_URL"), bytes.NewReader(event))
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	return fmt.Sprintf("forwarded %d bytes", len(event)), nil
}

func main() { lambda.Start(handle) }
