//go:build tools

// Package tools records in go.mod the Go programs that tests build with `go build`: the AWS
// Lambda Runtime Interface Emulator, which runs function handlers (e2e/lambdas) behind the Lambda
// Invoke API. It is never compiled.
package tools

import (
	_ "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"
)
