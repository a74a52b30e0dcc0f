//go:build unix

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/iotcore-local/iotcore-local/emulator"
	"github.com/iotcore-local/iotcore-local/functions"
)

const authorizerARN = "arn:aws:lambda:us-east-1:123456789012:function:test-authorizer"

// TestFunctionsThroughRIE invokes a handler written with aws-lambda-go behind the real AWS Lambda
// Runtime Interface Emulator, routed with Config.Functions (serve --function ARN=URL): an
// answer, a raised error, a timeout set by the caller's context.
func TestFunctionsThroughRIE(t *testing.T) {
	url := startRIE(t)
	emu := startEmulator(t, "", func(c *emulator.Config) {
		c.Functions = map[string]string{authorizerARN: url}
		c.Demo = false
	})
	inv := emu.Functions()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := inv.Invoke(ctx, authorizerARN, []byte(`{"token":"allow7","protocols":["tls","mqtt"]}`))
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	var answer struct {
		IsAuthenticated bool   `json:"isAuthenticated"`
		PrincipalID     string `json:"principalId"`
		PolicyDocuments []any  `json:"policyDocuments"`
		Event           struct {
			Token string `json:"token"`
		} `json:"event"`
	}
	if err := json.Unmarshal(out, &answer); err != nil {
		t.Fatalf("answer %s: %v", out, err)
	}
	if !answer.IsAuthenticated || answer.PrincipalID != "dev7" || len(answer.PolicyDocuments) != 1 || answer.Event.Token != "allow7" {
		t.Fatalf("answer %s", out)
	}

	_, err = inv.Invoke(ctx, authorizerARN, []byte(`{"token":"error"}`))
	var fe *functions.FunctionError
	if !errors.As(err, &fe) || !strings.Contains(string(fe.Payload), "authorizer exploded") {
		t.Fatalf("want the function's error, got %v", err)
	}

	out, err = inv.Invoke(ctx, authorizerARN, []byte(`{"token":"garbage"}`))
	if err != nil || json.Valid(out) {
		t.Fatalf("garbage answer: %q %v", out, err)
	}

	short, cancelShort := context.WithTimeout(ctx, time.Second)
	defer cancelShort()
	if _, err := inv.Invoke(short, authorizerARN, []byte(`{"token":"slow"}`)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow function: want deadline exceeded, got %v", err)
	}

	if _, err := inv.Invoke(ctx, "arn:aws:lambda:us-east-1:123456789012:function:unrouted", []byte(`{}`)); !errors.Is(err, functions.ErrNoEndpoint) && !strings.Contains(err.Error(), "AWS SDK") {
		t.Fatalf("unrouted function: %v", err)
	}
}
