package functions

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// invokeURL posts payload to a routed Invoke endpoint, as the Lambda Invoke API does.
func (c *Client) invokeURL(ctx context.Context, arn, u, invocationType string, payload []byte) ([]byte, error) {
	gate := c.gates[u]
	select {
	case gate <- struct{}{}:
		defer func() { <-gate }()
	case <-ctx.Done():
		return nil, fmt.Errorf("invoke %s at %s: waiting for the previous invocation: %w", arn, u, ctx.Err())
	}
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("invoke %s at %s: %w", arn, u, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Amz-Invocation-Type", invocationType)
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("invoke %s at %s: %w", arn, u, ctx.Err())
		}
		return nil, fmt.Errorf("invoke %s at %s: %w", arn, u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("invoke %s at %s: read answer: %w", arn, u, ctx.Err())
		}
		return nil, fmt.Errorf("invoke %s at %s: read answer: %w", arn, u, err)
	}
	if len(body) > maxResponse {
		return nil, fmt.Errorf("invoke %s at %s: the answer exceeds %d bytes", arn, u, maxResponse)
	}
	c.log.Debug("function invoked", "function", arn, "url", u, "type", invocationType, "status", resp.StatusCode, "duration", time.Since(start))
	switch {
	case resp.StatusCode == http.StatusAccepted && invocationType == "Event":
		return nil, nil
	case resp.StatusCode/100 != 2:
		return nil, fmt.Errorf("invoke %s at %s: HTTP %d: %s", arn, u, resp.StatusCode, snippet(body))
	}
	if t := resp.Header.Get("X-Amz-Function-Error"); t != "" {
		return nil, &FunctionError{Type: t, Payload: body}
	}
	if t := resp.Header.Get("Error-Type"); t != "" { // the Runtime Interface Emulator's own header
		return nil, &FunctionError{Type: "Unhandled", Payload: body}
	}
	if runtimeError(body) {
		return nil, &FunctionError{Type: "Unhandled", Payload: body}
	}
	return body, nil
}

// runtimeError reports whether a 200 answer without an error header is still a function error,
// as the Runtime Interface Emulator sends them: the runtime's error document
// ({"errorMessage":…,"errorType":…[,"stackTrace":…]} and nothing else), or the plain text
// "Task timed out after N.00 seconds".
func runtimeError(body []byte) bool {
	b := bytes.TrimSpace(body)
	if bytes.HasPrefix(b, []byte("Task timed out after ")) {
		return true
	}
	if len(b) == 0 || b[0] != '{' {
		return false
	}
	var doc map[string]json.RawMessage
	if json.Unmarshal(b, &doc) != nil {
		return false
	}
	_, hasMessage := doc["errorMessage"]
	_, hasType := doc["errorType"]
	if !hasMessage && !hasType {
		return false
	}
	for k := range doc {
		switch k {
		case "errorMessage", "errorType", "stackTrace", "requestId", "cause":
		default:
			return false
		}
	}
	return true
}

// snippet is the start of an error body, for messages.
func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 256 {
		s = s[:256] + "…"
	}
	return s
}
