// Package functions calls a "Lambda" offline through the AWS Lambda Invoke API
// (POST /2015-03-31/functions/{name}/invocations). It is shared by custom authorizers,
// provisioning hooks and rule actions, and knows nothing of Mochi, HTTP serving or its callers.
//
// A function's events go to the URL routed for its ARN (serve --function ARN=URL, e.g. a Lambda
// Runtime Interface Emulator running the user's handler); any other ARN goes to the Lambda
// endpoint the AWS SDK is configured with (AWS_ENDPOINT_URL_LAMBDA or AWS_ENDPOINT_URL, e.g.
// LocalStack). With neither, a call fails with ErrNoEndpoint.
package functions
