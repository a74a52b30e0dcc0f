// Command iotcore-local runs a local, offline stand-in for AWS IoT Core and administers it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `iotcore-local: a local, offline stand-in for AWS IoT Core

usage:
  iotcore-local serve [--data DIR] [--mqtt-addr 127.0.0.1:8883] [--alpn-addr 127.0.0.1:443]
                      [--api-addr 127.0.0.1:4580] [--seed FILE] [--profile aws|mqtt] [--alpn-strict]
                      [--endpoint NAME]... [--region us-east-1] [--account 123456789012]
                      [--server-key ecdsa|rsa] [--write-queue 8192] ...          # "serve -h" for all
  iotcore-local thing create NAME [--attr k=v]...
  iotcore-local policy create NAME --document FILE
  iotcore-local policy test --cert ID [--client-id X] --action iot:Publish --resource topic/a/b [--resource ...]
  iotcore-local cert create --thing NAME --policy NAME --out DIR [--force]
  iotcore-local cert update CERT_ID --status ACTIVE|INACTIVE|REVOKED
  iotcore-local shadow get|update|delete|list THING [--name N] [--document FILE|- | --state JSON]  # "shadow -h"
  iotcore-local job create|list|describe|cancel ...          # AWS IoT Jobs; "job -h"
  iotcore-local rule create|get|list|delete|enable|disable|activity|test ...  # "rule -h"
  iotcore-local bench connect|pubsub|idle|shadow [flags]    # load generator for any MQTT broker
  iotcore-local probe HOST:PORT [--cafile F] [--cert F --key F] [--sni NAME] [--alpn LIST]... [--json FILE|-]
  iotcore-local health [--endpoint-url URL]                 # exit 0 when serve answers /health
  iotcore-local --version
  iotcore-local provisioning template create|list|describe ... | claim create TEMPLATE --out DIR  # "provisioning -h"

The admin verbs call the HTTP API at --endpoint-url (default http://127.0.0.1:4580).
Run "iotcore-local VERB -h" for a verb's flags.
`

// errUsage marks a command-line mistake: the caller prints it and exits with status 2.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "iotcore-local:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "iotcore-local:", err)
		os.Exit(1)
	}
}

// run dispatches a command line; it is main without the process around it, for tests.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%w: no command given", errUsage)
	}
	switch verb, rest := args[0], args[1:]; verb {
	case "serve":
		return serve(ctx, rest, stdout, stderr)
	case "thing", "policy", "cert":
		return cleanError(admin(ctx, verb, rest, stdout, stderr))
	case "shadow":
		return cleanError(shadowCmd(ctx, rest, os.Stdin, stdout, stderr))
	case "job":
		return cleanError(jobCmd(ctx, rest, os.Stdin, stdout, stderr))
	case "rule":
		return cleanError(ruleCmd(ctx, rest, os.Stdin, stdout, stderr))
	case "health":
		return cleanError(health(ctx, rest, stdout, stderr))
	case "--version", "-version", "version":
		fmt.Fprintln(stdout, versionString())
		return nil
	case "bench":
		return benchCmd(ctx, rest, stdout, stderr)
	case "probe":
		return probeCmd(ctx, rest, stdout, stderr)
	case "provisioning":
		return cleanError(provisioningCmd(ctx, rest, stdout, stderr))
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%w: unknown command %q", errUsage, verb)
	}
}
