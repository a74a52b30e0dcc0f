package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/iotcore-local/iotcore-local/emulator"
	"github.com/iotcore-local/iotcore-local/hooks"
	"github.com/iotcore-local/iotcore-local/internal/gcfloor"
	"github.com/iotcore-local/iotcore-local/pki"
)

// serve runs the emulator until ctx is cancelled (SIGINT or SIGTERM).
func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	var cfg emulator.Config
	var endpoints, tlsFaults listFlag
	var logLevel string
	fs.StringVar(&cfg.DataDir, "data", emulator.DefaultDataDir, "state folder (CA, registry, demo device)")
	fs.StringVar(&cfg.MQTTAddr, "mqtt-addr", emulator.DefaultMQTTAddr, "MQTT over mutual TLS (AWS's 8883)")
	fs.StringVar(&cfg.ALPNAddr, "alpn-addr", emulator.DefaultALPNAddr, "ALPN-multiplexed TLS port (AWS's 443)")
	fs.StringVar(&cfg.HTTPSAddr, "https-addr", emulator.DefaultHTTPSAddr, "HTTPS with a client certificate (AWS's 8443)")
	fs.StringVar(&cfg.APIAddr, "api-addr", emulator.DefaultAPIAddr, "AWS-compatible HTTP API")
	fs.StringVar(&cfg.SeedFile, "seed", "", "YAML or JSON file of policies, things and certificates to create at start")
	fs.StringVar(&cfg.Profile, "profile", "aws", "behaviour profile: aws or mqtt")
	fs.BoolVar(&cfg.ALPNStrict, "alpn-strict", false, "on the ALPN port serve only x-amzn-mqtt-ca")
	fs.Var(&endpoints, "endpoint", "extra host name for the server certificate (repeatable); the first is DescribeEndpoint's answer")
	fs.IntVar(&cfg.WriteQueue, "write-queue", hooks.DefaultWriteQueue, "packets routed to a connection and not yet written; beyond it Mochi drops them (see BENCHMARKS.md: memory of idle fleets against fan-in bursts)")
	fs.IntVar(&cfg.MaxPacketSize, "max-packet-size", hooks.MaxPacketBytes, "largest MQTT packet a client may send after CONNECT, in bytes (profile mqtt only; profile aws has AWS's limit)")
	fs.StringVar(&cfg.ServerKey, "server-key", pki.KeyECDSA, "server certificate key: ecdsa (P-256) or rsa (RSA-2048); AWS serves both")
	fs.StringVar(&cfg.Region, "region", emulator.DefaultRegion, "region in ARNs")
	fs.StringVar(&cfg.Account, "account", emulator.DefaultAccount, "account id in ARNs")
	fs.DurationVar(&cfg.HandshakeTimeout, "handshake-timeout", 10*time.Second, "deadline for a TLS handshake")
	fs.DurationVar(&cfg.ConnectTimeout, "connect-timeout", 10*time.Second, "deadline for CONNECT after the handshake")
	fs.DurationVar(&cfg.SessionExpiry, "session-expiry", time.Hour, "how long an MQTT 3.1.1 persistent session outlives its connection (profile aws)")
	fs.BoolVar(&cfg.Throttle, "throttle", false, "enforce AWS's rate limits: 100 publishes/s and 512 KiB/s per connection, 1 CONNECT/s per client id")
	fs.IntVar(&cfg.GCHeapFloorMiB, "gc-heap-floor", gcfloor.DefaultMiB, "MiB: let the Go heap grow to this much garbage before collecting while the live heap is small (adapts to it; 0: Go's defaults; ignored when GOGC or GOMEMLIMIT is set). See docs/performance.md")
	fs.IntVar(&cfg.JobsRateLimit, "jobs-rate-limit", 0, "jobs device requests (MQTT and HTTPS) per second per thing; more are rejected RequestThrottled (0: no limit)")
	creds := mapFlag{}
	cognito := mapFlag{}
	fs.Var(credentialFlag{secrets: creds, cognito: cognito}, "credentials", "AKID:SECRET[:COGNITO_IDENTITY_ID] key pair whose SigV4 signatures the HTTP API and MQTT over WebSocket verify (repeatable); with an identity id, the IoT policies attached to it apply to the key's WebSocket connections")
	credPolicies := mapFlag{}
	fs.Var(credPolicies, "credential-policy", "AKID=FILE: the IAM-style policy (iot: actions) the key is held to over MQTT over WebSocket (repeatable); a key without policy or identity is allowed everything")
	fs.DurationVar(&cfg.WebSocketTTL, "websocket-ttl", 24*time.Hour, "how long a SigV4 MQTT-over-WebSocket connection lasts before WEBSOCKET_TTL_EXPIRATION (AWS: 24h)")
	fns := functionFlag{}
	fs.Var(fns, "function", "ARN=URL: send this function's invocations to URL, e.g. a Lambda Runtime Interface Emulator's http://127.0.0.1:9001/2015-03-31/functions/function/invocations (repeatable); other functions go to AWS_ENDPOINT_URL_LAMBDA")
	authorizerCache := fs.Bool("authorizer-cache", true, "keep custom authorizer answers for their refreshAfterInSeconds across connections with the same credentials")
	fs.BoolVar(&cfg.SigV4Strict, "sigv4-strict", false, "refuse unsigned HTTP requests and unknown access keys")
	fs.BoolVar(&cfg.Demo, "demo", true, "create the demo device whose mosquitto_pub command is printed at start")
	fs.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	fs.Var(&tlsFaults, "tls-fault", "inject a TLS fault, NAME[@LISTENER_OR_SNI] (repeatable): expired, wrong-name, untrusted-ca, max-fragment, weak-ciphers, tls12-only (docs/handshake.md)")
	fs.BoolVar(&cfg.NoTranscripts, "no-transcripts", false, "keep no connection transcripts (each connection is still logged); for measuring their cost")
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("%w: serve takes no arguments, got %q", errUsage, strings.Join(rest, " "))
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("%w: --log-level %q: use debug, info, warn or error", errUsage, logLevel)
	}
	cfg.Endpoints = endpoints
	cfg.TLSFaults = tlsFaults
	if len(creds) > 0 {
		cfg.Credentials = creds
	}
	if cfg.CredentialIdentities, err = credentialIdentities(creds, cognito, credPolicies); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if len(fns) > 0 {
		cfg.Functions = fns
	}
	cfg.AuthorizerCache = authorizerCache
	starting := &startLog{}
	cfg.Logger = slog.New(starting.handler(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})))

	emu, err := emulator.New(cfg)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if err := emu.Start(ctx); err != nil {
		starting.release(ctx, slog.LevelWarn)
		return err
	}
	starting.release(ctx, slog.LevelDebug-4)
	fmt.Fprint(stdout, emu.Banner())
	<-ctx.Done()
	cfg.Logger.Info("shutting down")
	return emu.Close()
}
