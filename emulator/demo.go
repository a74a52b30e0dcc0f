package emulator

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
)

// The demo device exists so that the start banner can print a command that works as printed.
const (
	demoThing  = "demo-device"
	demoPolicy = "demo-device-policy"
	demoTopic  = "demo/hello"
)

// demoPolicyDocument lets the demo device connect as itself and use topics under demo/.
const demoPolicyDocument = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": "iot:Connect", "Resource": "arn:aws:iot:*:*:client/${iot:Connection.Thing.ThingName}"},
    {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": "arn:aws:iot:*:*:topic/demo/*"},
    {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": "arn:aws:iot:*:*:topicfilter/demo/*"}
  ]
}`

// demoDir is where the demo device's files live.
func (e *Emulator) demoDir() string { return filepath.Join(e.cfg.DataDir, "demo") }

// ensureDemoDevice creates the demo thing, policy and certificate on first start.
func (e *Emulator) ensureDemoDevice() error {
	seed := &Seed{
		Policies:     []SeedPolicy{{Name: demoPolicy, Document: json.RawMessage(demoPolicyDocument)}},
		Things:       []SeedThing{{Name: demoThing}},
		Certificates: []SeedCertificate{{Thing: demoThing, Policies: []string{demoPolicy}, Out: e.demoDir()}},
	}
	if err := e.ApplySeed(context.Background(), seed, ""); err != nil {
		return fmt.Errorf("demo device: %w", err)
	}
	return nil
}

func splitAddr(addr string) (string, string) {
	i := strings.LastIndex(addr, ":")
	if i < 0 {
		return addr, ""
	}
	return strings.Trim(addr[:i], "[]"), addr[i+1:]
}

// connectHost is the name a client should use for a bound host: loopback and wildcard addresses
// are reached as localhost, which the server certificate names.
func connectHost(host string) string {
	switch host {
	case "", "0.0.0.0", "::", "127.0.0.1", "::1":
		return "localhost"
	}
	return host
}
