package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/iotcore-local/iotcore-local/probe"
)

// probeCmd is "iotcore-local probe HOST:PORT": try the handshakes a device could attempt and
// narrate what the server did (docs/handshake.md).
func probeCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("probe", stderr)
	var opts probe.Options
	var alpn listFlag
	var tlsVersion, jsonOut string
	fs.StringVar(&opts.CAFile, "cafile", "", "CA file the server certificate is checked against (the emulator's root-ca.pem); default the system roots")
	fs.StringVar(&opts.CertFile, "cert", "", "client certificate (PEM); attempts are made with and without it")
	fs.StringVar(&opts.KeyFile, "key", "", "private key of --cert")
	fs.StringVar(&opts.SNI, "sni", "", "server name to send (default HOST, none for an IP address); disables the SNI variants")
	fs.Var(&alpn, "alpn", `ALPN list to try, comma-separated ("" for no ALPN); repeatable; default: none, x-amzn-mqtt-ca, x-amzn-http-ca, mqtt, http/1.1 and one nobody serves`)
	fs.StringVar(&tlsVersion, "tls", "", "TLS version to try: 1.2 or 1.3 (default both)")
	fs.StringVar(&opts.ClientID, "client-id", "iotcore-local-probe", "MQTT client id of the probe's CONNECT")
	fs.BoolVar(&opts.AllowRemote, "remote", false, "allow a target that is not on loopback (AWS IoT Core itself, for instance)")
	fs.DurationVar(&opts.Timeout, "timeout", 5*time.Second, "deadline of each attempt")
	fs.StringVar(&jsonOut, "json", "", "also write the attempts as a JSON array to FILE, or - for standard output instead of the table")
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return fmt.Errorf("%w: probe takes one HOST:PORT, got %d arguments", errUsage, len(rest))
	}
	opts.Target = rest[0]
	for _, l := range alpn {
		var list []string
		for _, id := range strings.Split(l, ",") {
			if id = strings.TrimSpace(id); id != "" {
				list = append(list, id)
			}
		}
		opts.ALPNLists = append(opts.ALPNLists, list)
	}
	switch tlsVersion {
	case "":
	case "1.2":
		opts.Versions = []uint16{tls.VersionTLS12}
	case "1.3":
		opts.Versions = []uint16{tls.VersionTLS13}
	default:
		return fmt.Errorf("%w: --tls %q: want 1.2 or 1.3", errUsage, tlsVersion)
	}
	attempts, err := probe.Run(ctx, opts)
	if err != nil {
		if errors.Is(err, probe.ErrRemote) {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		return err
	}
	switch jsonOut {
	case "-":
		return probe.WriteJSON(stdout, attempts)
	case "":
	default:
		f, err := os.Create(jsonOut)
		if err != nil {
			return fmt.Errorf("--json: %w", err)
		}
		if err := probe.WriteJSON(f, attempts); err != nil {
			f.Close()
			return fmt.Errorf("--json %s: %w", jsonOut, err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("--json %s: %w", jsonOut, err)
		}
	}
	return probe.WriteTable(stdout, attempts)
}
