package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

// TestProbeUsage: bad probe command lines are usage errors naming the problem.
func TestProbeUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"probe"}, "one HOST:PORT"},
		{[]string{"probe", "a:1", "b:2"}, "one HOST:PORT"},
		{[]string{"probe", "192.0.2.1:443"}, "--remote"},
		{[]string{"probe", "127.0.0.1:1", "--tls", "1.1"}, "--tls"},
		{[]string{"serve", "--tls-fault", "nope"}, "nope"},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), tc.args, &out, &errOut)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err %v; want a usage error containing %q", tc.args, err, tc.want)
		}
	}
}
