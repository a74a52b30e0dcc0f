package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// newFlagSet is a flag set that reports errors instead of exiting, writing help to w.
func newFlagSet(name string, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(w)
	return fs
}

// parseInterleaved parses flags that may stand before, between or after positional arguments
// (as in "thing create NAME --attr k=v") and returns the positional ones. Flag errors are
// usage errors.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if err == flag.ErrHelp {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %s: %v", errUsage, fs.Name(), err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		if args[0] == "--" {
			return append(positional, args[1:]...), nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// listFlag collects a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// mapFlag collects repeatable k=v pairs.
type mapFlag map[string]string

func (m mapFlag) String() string {
	parts := make([]string, 0, len(m))
	for k, v := range m {
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, ",")
}

func (m mapFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q is not key=value", v)
	}
	m[k] = val
	return nil
}

// credentialFlag collects repeatable AKID:SECRET[:COGNITO_IDENTITY_ID] triples: secrets by key,
// and the Cognito identity ids of the keys that have one (an identity id holds a colon itself).
type credentialFlag struct{ secrets, cognito mapFlag }

func (c credentialFlag) String() string {
	if c.secrets == nil {
		return ""
	}
	return strings.Join(keys(c.secrets), ",")
}

func (c credentialFlag) Set(v string) error {
	id, rest, ok := strings.Cut(v, ":")
	secret, identity, _ := strings.Cut(rest, ":")
	if !ok || id == "" || secret == "" {
		return fmt.Errorf("%q is not ACCESS_KEY_ID:SECRET[:COGNITO_IDENTITY_ID]", v)
	}
	c.secrets[id] = secret
	if identity != "" {
		c.cognito[id] = identity
	}
	return nil
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
