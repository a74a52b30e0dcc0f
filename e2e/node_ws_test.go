package e2e

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runNode runs a script of e2e/node with the environment given, and returns its output. The
// scripts need `npm ci` in e2e/node (.ci/run does it); without node_modules the test skips
// locally and fails under CI.
func runNode(t *testing.T, env map[string]string, script string, args ...string) (string, error) {
	t.Helper()
	needTools(t, "node")
	if _, err := os.Stat(filepath.Join("node", "node_modules", "aws-iot-device-sdk-v2")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("e2e/node has no node_modules: run npm ci there (.ci/run does)")
		}
		t.Skip("e2e/node has no node_modules (npm ci in e2e/node)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{script}, args...)...)
	cmd.Dir = "node"
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestNodeSDKWebSocketSigV4 connects the AWS IoT Device SDK v2 for JavaScript (its websocket
// builders with default AWS signing, MQTT 3.1.1 and MQTT 5) and MQTT.js over WebSocket.
func TestNodeSDKWebSocketSigV4(t *testing.T) {
	emu := startWSEmulator(t)
	_, port, _ := net.SplitHostPort(emu.ALPNAddr())
	base := map[string]string{"IOT_HOST": "localhost", "IOT_PORT": port, "IOT_CA": emu.RootCAFile(),
		"AKID": wsKeyPolicy, "SECRET": wsSecret, "AWS_EC2_METADATA_DISABLED": "true"}
	for _, tc := range []struct{ name, mode, client string }{
		{"mqtt 3.1.1", "3", "ws-node-3"},
		{"mqtt 5", "5", "ws-node-5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"CLIENT_ID": tc.client, "TOPIC": "ws/policy/" + tc.client}
			for k, v := range base {
				env[k] = v
			}
			out, err := runNode(t, env, "ws-sigv4.js", tc.mode)
			if err != nil || !strings.Contains(out, "OK hello from aws-iot-device-sdk-v2 over websocket") {
				t.Fatalf("%v\n%s", err, out)
			}
		})
	}
	t.Run("MQTT.js", func(t *testing.T) {
		env := map[string]string{"URL": presignWS(t, "wss", "localhost:"+port, wsKeyOpen, wsSecret, "", time.Now()),
			"IOT_CA": emu.RootCAFile(), "CLIENT_ID": "mqttjs-1", "TOPIC": "mqttjs/t"}
		if out, err := runNode(t, env, "ws-mqttjs.js"); err != nil || !strings.Contains(out, "OK hello from MQTT.js") {
			t.Fatalf("%v\n%s", err, out)
		}
		api := strings.TrimPrefix(emu.APIURL(), "http://")
		env = map[string]string{"URL": presignWS(t, "ws", api, wsKeyOpen, wsSecret, "", time.Now()), "CLIENT_ID": "mqttjs-2", "TOPIC": "mqttjs/t2"}
		if out, err := runNode(t, env, "ws-mqttjs.js"); err != nil || !strings.Contains(out, "OK hello from MQTT.js") {
			t.Fatalf("ws:// on the API address: %v\n%s", err, out)
		}
	})
}
