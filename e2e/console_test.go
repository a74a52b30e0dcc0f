package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/iotcore-local/iotcore-local/emulator"
	"github.com/iotcore-local/iotcore-local/listener"
)

// screenshotDir is where the console test writes its screenshots: $IOTCORE_CONSOLE_SCREENSHOTS
// when set (CI keeps them as artifacts), else the test's temporary folder.
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("IOTCORE_CONSOLE_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// browser starts a headless Chromium with a fresh profile and returns its context.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// into runs an action that returns a value and stores the value in dst.
func into[T any](a chromedp.Action[T], dst *T) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		v, err := a(ctx, t)
		*dst = v
		return chromedp.Void{}, err
	}
}

// TestConsoleInChromium loads each page of the console in a real browser; its MQTT test client
// connects over MQTT/WebSocket, publishes a message that mosquitto_sub (mutual TLS) receives,
// subscribes and shows what mosquitto_pub (mutual TLS) publishes; a screenshot of every page.
func TestConsoleInChromium(t *testing.T) {
	needTools(t, "chromium", "mosquitto_sub", "mosquitto_pub")
	emu := startEmulator(t, "", func(c *emulator.Config) { c.Demo = true })
	shots := screenshotDir(t)
	demo := filepath.Join(emu.DataDir(), "demo")
	_, port, _ := net.SplitHostPort(emu.ALPNAddr())

	// A device subscribed with mosquitto_sub: it receives what the page publishes, and its
	// connection is the one the connections page draws.
	var subOut lockedBuffer
	sub := exec.Command("mosquitto_sub", "-h", "localhost", "-p", port, "--tls-alpn", "x-amzn-mqtt-ca",
		"--cafile", emu.RootCAFile(), "--cert", filepath.Join(demo, "certificate.pem.crt"), "--key", filepath.Join(demo, "private.pem.key"),
		"-i", "demo-device", "-t", "demo/#", "-v", "-W", "90")
	sub.Stdout, sub.Stderr = &subOut, &subOut
	if err := sub.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Process.Kill(); _ = sub.Wait() })
	transcriptFor(t, emu, func(r listener.Record) bool { return r.ClientID == "demo-device" && r.Outcome == listener.OutcomeOK })

	// A shadow with a delta for the shadow page.
	resp, err := http.Post(emu.APIURL()+"/things/demo-device/shadow", "application/json",
		strings.NewReader(`{"state":{"desired":{"color":"red"},"reported":{"color":"blue"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("shadow update: %d", resp.StatusCode)
	}

	ctx := browser(t)
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			png, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644)
		})
	}
	var text, location string
	steps := []struct {
		name    string
		actions []chromedp.Action[chromedp.Void]
		check   func() string // "" when fine
	}{
		{"things", []chromedp.Action[chromedp.Void]{
			chromedp.Navigate(emu.APIURL() + "/"),
			chromedp.WaitVisible(`tr[data-thing="demo-device"]`),
			into(chromedp.Location(), &location),
		}, func() string {
			if !strings.HasSuffix(strings.SplitN(location, "#", 2)[0], "/console/") {
				return "/ did not redirect to /console/: " + location
			}
			return ""
		}},
		{"certificates", []chromedp.Action[chromedp.Void]{
			chromedp.Navigate(emu.APIURL() + "/console/#certificates"),
			chromedp.WaitVisible(`#certs-table tbody tr`),
			into(chromedp.Text(`#certs-table tbody`), &text),
		}, func() string {
			if !strings.Contains(text, "ACTIVE") {
				return "no ACTIVE certificate listed: " + text
			}
			return ""
		}},
		{"policies", []chromedp.Action[chromedp.Void]{
			chromedp.Navigate(emu.APIURL() + "/console/#policies"),
			chromedp.WaitVisible(`li[data-policy="demo-device-policy"]`),
			chromedp.Click(`li[data-policy="demo-device-policy"]`),
			chromedp.WaitReady(`#ta-cert option`),
			chromedp.SetValue(`#ta-client`, "demo-device"),
			chromedp.SetValue(`#ta-action`, "CONNECT"),
			chromedp.SetValue(`#ta-resource`, "arn:aws:iot:us-east-1:123456789012:client/demo-device"),
			chromedp.Click(`#ta-submit`),
			chromedp.WaitVisible(`#ta-result.ok`),
			into(chromedp.Text(`#policy-doc`), &text),
		}, func() string {
			if !strings.Contains(text, "iot:Connect") {
				return "policy document not shown: " + text
			}
			return ""
		}},
		{"connections", []chromedp.Action[chromedp.Void]{
			chromedp.Navigate(emu.APIURL() + "/console/#connections"),
			chromedp.WaitVisible(`tr[data-client="demo-device"]`),
			chromedp.Click(`tr[data-client="demo-device"]`),
			chromedp.WaitVisible(`svg.seq g[data-step="iot:Connect"]`),
			chromedp.WaitVisible(`svg.seq rect[data-alpn="decision"]`),
			into(chromedp.Text(`#conn-detail`), &text),
		}, func() string {
			if !strings.Contains(text, "x-amzn-mqtt-ca") || !strings.Contains(text, "ClientHello") {
				return "transcript detail lacks the ALPN or the steps: " + text
			}
			return ""
		}},
		{"shadow", []chromedp.Action[chromedp.Void]{
			chromedp.Navigate(emu.APIURL() + "/console/#shadow"),
			chromedp.WaitReady(`#shadow-thing option[value="demo-device"]`),
			chromedp.Click(`#shadow-form button`),
			chromedp.Poll[chromedp.Void](`document.querySelector("#shadow-delta").textContent.includes("red")`, chromedp.WithPollingTimeout(20*time.Second)),
			into(chromedp.Text(`#shadow-delta`), &text),
		}, func() string {
			if !strings.Contains(text, `"color": "red"`) {
				return "delta not shown: " + text
			}
			return ""
		}},
		{"decisions", []chromedp.Action[chromedp.Void]{
			chromedp.Navigate(emu.APIURL() + "/console/#decisions"),
			chromedp.WaitVisible(`#decisions-table tbody tr`),
			into(chromedp.Text(`#decisions-table tbody`), &text),
		}, func() string {
			if !strings.Contains(text, "iot:Connect allowed") {
				return "no allowed iot:Connect decision: " + text
			}
			return ""
		}},
		{"mqtt", []chromedp.Action[chromedp.Void]{
			chromedp.Navigate(emu.APIURL() + "/console/#mqtt"),
			chromedp.Poll[chromedp.Void](`document.querySelector("#mqtt-status").dataset.mode === "websocket" || document.querySelector("#mqtt-status").dataset.mode === "http"`, chromedp.WithPollingTimeout(20*time.Second)),
			into(chromedp.Text(`#mqtt-status`), &text),
			into(chromedp.Text(`#mqtt-identity`), &location),
			chromedp.SetValue(`#pub-topic`, "demo/from-console"),
			chromedp.SetValue(`#pub-payload`, "hello from chromium"),
		}, func() string {
			if !strings.Contains(text, "connected over MQTT/WebSocket to ws://") {
				return "the page did not connect over MQTT/WebSocket: " + text
			}
			if !strings.Contains(location, "AKIACONSOLE") {
				return "the page does not say which identity it uses: " + location
			}
			return ""
		}},
	}
	for _, s := range steps {
		if err := chromedp.Do(ctx, append(s.actions, shot(s.name))...); err != nil {
			t.Fatalf("page %s: %v", s.name, err)
		}
		if s.check != nil {
			if msg := s.check(); msg != "" {
				t.Errorf("page %s: %s", s.name, msg)
			}
		}
	}
	// The page's connection is MQTT over WebSocket on the API address, as a console- client.
	transcriptFor(t, emu, func(r listener.Record) bool {
		return strings.HasPrefix(r.ClientID, "console-") && r.Personality == listener.PersonalityMQTTWS && r.Open
	})

	// Publish from the page until mosquitto_sub has the message (its SUBSCRIBE may still be
	// on its way when the first publish goes out).
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(subOut.String(), "demo/from-console hello from chromium") {
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto_sub did not receive the page's publish; it printed %q", subOut.String())
		}
		if err := chromedp.Do(ctx, chromedp.Click(`#pub-button`),
			chromedp.Poll[chromedp.Void](`document.querySelector("#pub-status").textContent !== ""`, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
			t.Fatal(err)
		}
		status, _ := chromedp.Run(ctx, chromedp.TextContent(`#pub-status`))
		if !strings.HasPrefix(status, "published to demo/from-console over MQTT") {
			t.Fatalf("publish from the page did not go over MQTT/WebSocket: %s", status)
		}
		time.Sleep(300 * time.Millisecond)
	}
	if err := chromedp.Do(ctx, shot("mqtt-published")); err != nil {
		t.Fatal(err)
	}

	// The reverse: the page subscribes, mosquitto_pub publishes over mutual TLS (as the demo
	// device, whose policy allows only its own client id: the subscriber leaves first).
	_ = sub.Process.Kill()
	_ = sub.Wait()
	if err := chromedp.Do(ctx,
		chromedp.SetValue(`#sub-topic`, "demo/to-console/#"),
		chromedp.SetValue(`#sub-qos`, "1"),
		chromedp.Click(`#sub-button`),
		chromedp.WaitVisible(`#subscriptions li[data-filter="demo/to-console/#"][data-state="ok"]`),
	); err != nil {
		t.Fatalf("subscribe in the page: %v", err)
	}
	pub := func() {
		out, err := exec.Command("mosquitto_pub", "-h", "localhost", "-p", port, "--tls-alpn", "x-amzn-mqtt-ca",
			"--cafile", emu.RootCAFile(), "--cert", filepath.Join(demo, "certificate.pem.crt"), "--key", filepath.Join(demo, "private.pem.key"),
			"-i", "demo-device", "-q", "1", "-t", "demo/to-console/a", "-m", `{"from":"mosquitto_pub"}`).CombinedOutput()
		if err != nil {
			t.Fatalf("mosquitto_pub: %v: %s", err, out)
		}
	}
	pub()
	if err := chromedp.Do(ctx,
		chromedp.Poll[chromedp.Void](`[...document.querySelectorAll('#messages li[data-topic="demo/to-console/a"]')].some((li) => li.textContent.includes('{"from":"mosquitto_pub"}'))`,
			chromedp.WithPollingTimeout(20*time.Second)),
		into(chromedp.Text(`#messages`), &text),
		shot("mqtt-received"),
	); err != nil {
		t.Fatalf("the page did not show the message mosquitto_pub sent: %v", err)
	}
	if !strings.Contains(text, "QoS 1") {
		t.Errorf("the message list lacks the delivery QoS: %s", text)
	}
	t.Logf("screenshots in %s", shots)
}

// TestConsoleMQTTFallbackInChromium: under --sigv4-strict the emulator signs no /mqtt URL for an
// unsigned page; the MQTT test client says so, does not subscribe, and its publish goes to the
// HTTP Publish API, which --sigv4-strict refuses too.
func TestConsoleMQTTFallbackInChromium(t *testing.T) {
	needTools(t, "chromium")
	emu := startEmulator(t, "", func(c *emulator.Config) {
		c.SigV4Strict = true
		c.Credentials = map[string]string{"AKIDSTRICT": "strict-secret"}
	})
	ctx := browser(t)
	var status, pub, sub string
	err := chromedp.Do(ctx,
		chromedp.Navigate(emu.APIURL()+"/console/#mqtt"),
		chromedp.Poll[chromedp.Void](`document.querySelector("#mqtt-status").dataset.mode === "http"`, chromedp.WithPollingTimeout(20*time.Second)),
		into(chromedp.Text(`#mqtt-status`), &status),
		chromedp.SetValue(`#sub-topic`, "demo/#"),
		chromedp.Click(`#sub-button`),
		chromedp.WaitVisible(`#subscriptions li[data-filter="demo/#"][data-state="bad"]`),
		into(chromedp.Text(`#subscriptions`), &sub),
		chromedp.Click(`#pub-button`),
		chromedp.Poll[chromedp.Void](`document.querySelector("#pub-status").textContent !== ""`, chromedp.WithPollingTimeout(20*time.Second)),
		into(chromedp.Text(`#pub-status`), &pub),
	)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(status, "MQTT over WebSocket is unavailable") || !strings.Contains(status, "--sigv4-strict") ||
		!strings.Contains(status, "HTTP Publish API") {
		t.Errorf("status does not say why the WebSocket is not used: %q", status)
	}
	if !strings.Contains(sub, "not subscribed") {
		t.Errorf("subscription: %q", sub)
	}
	if !strings.Contains(pub, "publish failed: 403") {
		t.Errorf("HTTP publish under --sigv4-strict: %q", pub)
	}
	for _, r := range emu.Connections() {
		if r.Personality == listener.PersonalityMQTTWS {
			t.Errorf("a WebSocket connection was made under --sigv4-strict: %+v", r)
		}
	}
}

// TestConsoleMQTTURLWithPaho: the URL the console route hands out opens MQTT over WebSocket for a
// paho client too, ws:// on the API address and wss:// when asked over HTTPS on 443, with the
// console identity (allowed everything); a URL from another emulator start is refused.
func TestConsoleMQTTURLWithPaho(t *testing.T) {
	emu := startEmulator(t, "", func(c *emulator.Config) { c.Demo = false })
	https := &http.Client{Transport: &http.Transport{TLSClientConfig: trustEmulator(t, emu, nil)}}
	t.Cleanup(https.CloseIdleConnections)
	grant := func(client *http.Client, base string) (u, key string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, base+"/_iotcore/console/mqtt-url", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Origin", base)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct{ URL, AccessKeyID string }
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s: %d %v", base, resp.StatusCode, err)
		}
		return out.URL, out.AccessKeyID
	}
	for _, tc := range []struct {
		name, scheme string
		client       *http.Client
		base         string
		personality  string
	}{
		{"API address", "ws", http.DefaultClient, emu.APIURL(), listener.PersonalityMQTTWS},
		{"443 over HTTPS", "wss", https, "https://" + emu.ALPNAddr(), listener.PersonalityMQTTWSS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, key := grant(tc.client, tc.base)
			if !strings.HasPrefix(u, tc.scheme+"://") {
				t.Fatalf("url %q, want %s://", u, tc.scheme)
			}
			id := "console-paho-" + tc.scheme
			c, err := wsPaho(t, emu, u, id, nil)
			if err != nil {
				t.Fatalf("connect with the console URL: %v", err)
			}
			handler, got := msgCollector()
			if err := wait(t, c.Subscribe("$aws/things/anything/shadow/#", 1, handler)); err != nil {
				t.Fatal(err)
			}
			if err := wait(t, c.Publish("$aws/things/anything/shadow/x", 1, false, "console")); err != nil {
				t.Fatal(err)
			}
			if m := nextMessage(t, got, "own publish"); m.payload != "console" {
				t.Fatalf("got %+v", m)
			}
			r := transcriptFor(t, emu, func(r listener.Record) bool { return r.ClientID == id })
			if r.Personality != tc.personality || !strings.Contains(r.Detail, key) {
				t.Fatalf("transcript %s / %q, want %s naming %s", r.Personality, r.Detail, tc.personality, key)
			}
		})
	}

	other := startEmulator(t, "", func(c *emulator.Config) { c.Demo = false })
	u, _ := grant(http.DefaultClient, other.APIURL())
	u = strings.Replace(u, strings.TrimPrefix(other.APIURL(), "http://"), strings.TrimPrefix(emu.APIURL(), "http://"), 1)
	_, resp, err := dialWS(t, emu, u, "mqtt")
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("another start's console URL: %v, %+v", err, resp)
	}
	if body, _ := io.ReadAll(resp.Body); !strings.Contains(string(body), "reload the console") {
		t.Fatalf("another start's console URL: %s", body)
	}
}
