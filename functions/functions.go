package functions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// Invoker calls functions by ARN. *Client implements it; tests of callers may use a fake.
type Invoker interface {
	// Invoke calls the function synchronously (InvocationType RequestResponse) and returns the
	// function's response payload. A function that raised an error (X-Amz-Function-Error header)
	// yields a *FunctionError; ctx bounds the call (callers set AWS's timeouts, e.g. 5 s).
	Invoke(ctx context.Context, arn string, payload []byte) ([]byte, error)
	// InvokeAsync queues an asynchronous invocation (InvocationType Event, answered 202).
	InvokeAsync(ctx context.Context, arn string, payload []byte) error
}

// Config says where functions' events go.
type Config struct {
	// Routes maps a function ARN (matched exactly, and also by bare function name) to the URL
	// of an Invoke endpoint, e.g. a Runtime Interface Emulator's
	// http://127.0.0.1:9001/2015-03-31/functions/function/invocations.
	Routes     map[string]string
	Logger     *slog.Logger
	HTTPClient *http.Client // nil: a client with sane timeouts
	// RouteConcurrency is how many invocations one routed URL gets at a time; 0 means 1, because
	// a Runtime Interface Emulator runs one invocation at a time and answers a second one with
	// HTTP 400. Waiting for a turn is bounded by the caller's ctx.
	RouteConcurrency int
}

// ErrNoEndpoint is the error of a call to a function that has no route and no SDK-configured
// Lambda endpoint.
var ErrNoEndpoint = errors.New("no endpoint for this function: route it with --function ARN=URL (seed functions:) or set AWS_ENDPOINT_URL_LAMBDA (or AWS_ENDPOINT_URL) to a Lambda-compatible endpoint")

// FunctionError is a function that ran and raised an error: the Invoke API answered with the
// X-Amz-Function-Error header (Type, e.g. "Unhandled") and the error document as payload.
type FunctionError struct {
	Type    string
	Payload []byte
}

func (e *FunctionError) Error() string {
	p := e.Payload
	if len(p) > 512 {
		p = p[:512]
	}
	return fmt.Sprintf("function error (%s): %s", e.Type, strings.TrimSpace(string(p)))
}

// Client is the Invoker of the emulator: routed ARNs go to their URL over plain HTTP, others
// to the AWS SDK's Lambda client, which is built on first use.
type Client struct {
	routes map[string]string
	gates  map[string]chan struct{} // routed URL → its turns
	log    *slog.Logger
	http   *http.Client
	// sdkHTTP is the caller's HTTPClient for the SDK, nil for the SDK's default.
	sdkHTTP *http.Client

	sdkOnce sync.Once
	sdk     *lambda.Client
	sdkErr  error
	// newSDK builds the SDK client; tests may replace it.
	newSDK func(ctx context.Context, httpClient *http.Client) (*lambda.Client, error)
}

// maxResponse bounds what a function may answer: AWS's synchronous payload limit (6 MB) plus room.
const maxResponse = 6*1024*1024 + 1024

// New checks the routes and returns a Client.
func New(cfg Config) (*Client, error) {
	c := &Client{routes: map[string]string{}, gates: map[string]chan struct{}{}, log: cfg.Logger, http: cfg.HTTPClient, newSDK: newSDKClient, sdkHTTP: cfg.HTTPClient}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.http == nil {
		c.http = &http.Client{
			// ctx bounds each call; this guards a caller that passes a context without deadline.
			Timeout: 15 * time.Minute,
			Transport: &http.Transport{
				Proxy:                 nil, // functions are local; never go through a proxy
				MaxIdleConnsPerHost:   16,
				IdleConnTimeout:       90 * time.Second,
				ResponseHeaderTimeout: 15 * time.Minute,
			},
		}
	}
	var errs []error
	for arn, u := range cfg.Routes {
		if err := checkRoute(arn, u); err != nil {
			errs = append(errs, err)
			continue
		}
		c.routes[arn] = u
		if name := FunctionName(arn); name != arn {
			if _, taken := cfg.Routes[name]; !taken {
				c.routes[name] = u
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	turns := cfg.RouteConcurrency
	if turns <= 0 {
		turns = 1
	}
	for _, u := range c.routes {
		if c.gates[u] == nil {
			c.gates[u] = make(chan struct{}, turns)
		}
	}
	return c, nil
}

// ParseRoute parses the --function ARN=URL flag.
func ParseRoute(s string) (arn, u string, err error) {
	arn, u, ok := strings.Cut(s, "=")
	if !ok {
		return "", "", fmt.Errorf("function route %q: want ARN=URL", s)
	}
	arn, u = strings.TrimSpace(arn), strings.TrimSpace(u)
	if err := checkRoute(arn, u); err != nil {
		return "", "", err
	}
	return arn, u, nil
}

// checkRoute validates one route, naming the bad part.
func checkRoute(arn, u string) error {
	if arn == "" {
		return fmt.Errorf("function route to %q: the function ARN (or name) is empty", u)
	}
	if strings.ContainsAny(arn, " \t\r\n") {
		return fmt.Errorf("function route %q: the ARN contains white space", arn)
	}
	parsed, err := url.Parse(u)
	if err != nil {
		return fmt.Errorf("function route for %s: url: %w", arn, err)
	}
	if parsed.Scheme != "http" && parsed.Scheme != "https" || parsed.Host == "" {
		return fmt.Errorf("function route for %s: url %q must be http(s)://host[:port]/path", arn, u)
	}
	return nil
}

// FunctionName is the function's name in an ARN
// (arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]); anything else is returned as is.
func FunctionName(arn string) string {
	parts := strings.Split(arn, ":")
	if len(parts) >= 7 && parts[0] == "arn" && parts[2] == "lambda" && parts[5] == "function" {
		return parts[6]
	}
	return arn
}

// route is the URL routed for arn, if any.
func (c *Client) route(arn string) (string, bool) {
	if u, ok := c.routes[arn]; ok {
		return u, true
	}
	u, ok := c.routes[FunctionName(arn)]
	return u, ok
}

// Invoke calls the function synchronously and returns its response payload.
func (c *Client) Invoke(ctx context.Context, arn string, payload []byte) ([]byte, error) {
	if u, ok := c.route(arn); ok {
		return c.invokeURL(ctx, arn, u, "RequestResponse", payload)
	}
	return c.invokeSDK(ctx, arn, "RequestResponse", payload)
}

// InvokeAsync queues an asynchronous invocation. A routed URL that runs the function at once (a
// Runtime Interface Emulator answers 200 when the function returns) is waited for; ctx bounds it.
func (c *Client) InvokeAsync(ctx context.Context, arn string, payload []byte) error {
	var err error
	if u, ok := c.route(arn); ok {
		_, err = c.invokeURL(ctx, arn, u, "Event", payload)
	} else {
		_, err = c.invokeSDK(ctx, arn, "Event", payload)
	}
	return err
}

// CloseIdleConnections closes the keep-alive connections to routed URLs, so that nothing of the
// client outlives the emulator that closes it. Calls may still be made afterwards.
func (c *Client) CloseIdleConnections() { c.http.CloseIdleConnections() }

var _ Invoker = (*Client)(nil)
