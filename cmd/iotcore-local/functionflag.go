package main

import (
	"strings"

	"github.com/iotcore-local/iotcore-local/functions"
)

// functionFlag collects repeatable --function ARN=URL routes.
type functionFlag map[string]string

func (f functionFlag) String() string { return strings.Join(keys(f), ",") }

func (f functionFlag) Set(v string) error {
	arn, u, err := functions.ParseRoute(v)
	if err != nil {
		return err
	}
	f[arn] = u
	return nil
}
