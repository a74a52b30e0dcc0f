package functions

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// sdkEndpointConfigured reports whether the environment names a Lambda endpoint. The emulator
// is offline: without one it never falls through to AWS's public endpoint.
func sdkEndpointConfigured() bool {
	return os.Getenv("AWS_ENDPOINT_URL_LAMBDA") != "" || os.Getenv("AWS_ENDPOINT_URL") != ""
}

// newSDKClient builds a Lambda client from the standard SDK configuration chain.
func newSDKClient(ctx context.Context, httpClient *http.Client) (*lambda.Client, error) {
	if !sdkEndpointConfigured() {
		return nil, ErrNoEndpoint
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS SDK configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	return lambda.NewFromConfig(cfg, func(o *lambda.Options) {
		if httpClient != nil { // else the SDK's own client, which honours AWS_CA_BUNDLE
			o.HTTPClient = httpClient
		}
	}), nil
}

// invokeSDK calls the function through the SDK-configured Lambda endpoint.
func (c *Client) invokeSDK(ctx context.Context, arn, invocationType string, payload []byte) ([]byte, error) {
	c.sdkOnce.Do(func() { c.sdk, c.sdkErr = c.newSDK(context.WithoutCancel(ctx), c.sdkHTTP) })
	if c.sdkErr != nil {
		if errors.Is(c.sdkErr, ErrNoEndpoint) {
			return nil, fmt.Errorf("invoke %s: %w", arn, ErrNoEndpoint)
		}
		return nil, fmt.Errorf("invoke %s: %w", arn, c.sdkErr)
	}
	out, err := c.sdk.Invoke(ctx, &lambda.InvokeInput{
		FunctionName:   aws.String(arn),
		InvocationType: types.InvocationType(invocationType),
		Payload:        payload,
	})
	if err != nil {
		return nil, fmt.Errorf("invoke %s through the AWS SDK's Lambda endpoint: %w", arn, err)
	}
	if out.FunctionError != nil && *out.FunctionError != "" {
		return nil, &FunctionError{Type: *out.FunctionError, Payload: out.Payload}
	}
	return out.Payload, nil
}
