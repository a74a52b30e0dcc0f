package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iotcore-local/iotcore-local/emulator"
	"github.com/iotcore-local/iotcore-local/listener"
)

// TestDomainClientCertificateCallback checks clientCertificateConfig: the function receives the
// client's chain and the server name before authentication, and only isAuthenticated true lets
// the connection on.
func TestDomainClientCertificateCallback(t *testing.T) {
	var mu sync.Mutex
	var events []map[string]any
	allowed := make(chan string, 1)
	fn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev map[string]any
		_ = json.NewDecoder(r.Body).Decode(&ev)
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
		ok := false
		select {
		case id := <-allowed:
			ok = ev["principalId"] == id
			allowed <- id
		default:
		}
		json.NewEncoder(w).Encode(map[string]bool{"isAuthenticated": ok})
	}))
	defer fn.Close()
	emu := startEmulator(t, "", func(c *emulator.Config) {
		c.Demo = false
		c.Functions = map[string]string{"cert-check": fn.URL}
	})
	client := iotClientAt(awsConfig(awsKey(sigv4Key, sigv4Secret), nil), emu.APIURL())
	if _, err := client.CreateDomainConfiguration(context.Background(), &iot.CreateDomainConfigurationInput{
		DomainConfigurationName: aws.String("checked"), DomainName: aws.String("checked.devices.test"),
		ApplicationProtocol: types.ApplicationProtocolSecureMqtt, AuthenticationType: types.AuthenticationTypeAwsX509,
		ClientCertificateConfig: &types.ClientCertificateConfig{ClientCertificateCallbackArn: aws.String("cert-check")},
	}); err != nil {
		t.Fatal(err)
	}
	good, err := emu.CreateDevice("checked-good", domainPolicy)
	if err != nil {
		t.Fatal(err)
	}
	bad, err := emu.CreateDevice("checked-bad", domainPolicy)
	if err != nil {
		t.Fatal(err)
	}
	allowed <- good.CertificateID
	if _, err := connectPaho(t, emu.ALPNAddr(), "checked-good", sniConfig(t, emu, "checked.devices.test", good), nil); err != nil {
		t.Fatalf("the accepted certificate: %v", err)
	}
	if _, err := connectPaho(t, emu.ALPNAddr(), "checked-bad", sniConfig(t, emu, "checked.devices.test", bad), nil); err == nil {
		t.Fatal("the refused certificate connected")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 2 {
		t.Fatalf("%d calls, want 2", len(events))
	}
	ev := events[0]
	chain, _ := ev["clientCertificateChain"].([]any)
	meta, _ := ev["connectionMetadata"].(map[string]any)
	if ev["serverName"] != "checked.devices.test" || ev["principalId"] != good.CertificateID || len(chain) != 1 || meta["id"] == "" {
		t.Fatalf("event %v", ev)
	}
	block, _ := pem.Decode([]byte(chain[0].(string)))
	want, _ := pem.Decode([]byte(good.CertificatePEM))
	if block == nil || !bytes.Equal(block.Bytes, want.Bytes) {
		t.Fatalf("chain[0] is not the client's certificate: %v", chain[0])
	}
}

// TestDomainHTTPSSigV4 checks an HTTPS + AWS_SIGV4 domain: the AWS SDK reaches the control plane
// through the 443 listener under the domain's name even while offering the MQTT ALPN id.
func TestDomainHTTPSSigV4(t *testing.T) {
	emu := startEmulator(t, "")
	ctx := context.Background()
	api := iotClientAt(awsConfig(awsKey(sigv4Key, sigv4Secret), nil), emu.APIURL())
	if _, err := api.CreateDomainConfiguration(ctx, &iot.CreateDomainConfigurationInput{
		DomainConfigurationName: aws.String("api"), DomainName: aws.String("api.devices.test"),
		ApplicationProtocol: types.ApplicationProtocolHttps, AuthenticationType: types.AuthenticationTypeAwsSigv4,
	}); err != nil {
		t.Fatal(err)
	}
	tlsCfg := sniConfig(t, emu, "api.devices.test", nil, "x-amzn-mqtt-ca", "http/1.1")
	tr := &http.Transport{TLSClientConfig: tlsCfg, ForceAttemptHTTP2: false,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{Timeout: 10 * time.Second}).DialContext(ctx, network, emu.ALPNAddr())
		}}
	t.Cleanup(tr.CloseIdleConnections)
	viaDomain := iotClientAt(awsConfig(awsKey(sigv4Key, sigv4Secret), &http.Client{Transport: tr}), "https://api.devices.test")
	out, err := viaDomain.DescribeDomainConfiguration(ctx, &iot.DescribeDomainConfigurationInput{DomainConfigurationName: aws.String("api")})
	if err != nil {
		t.Fatal(err)
	}
	if out.ApplicationProtocol != types.ApplicationProtocolHttps {
		t.Fatalf("%+v", out)
	}
	rec, step := domainStep(t, emu, "api.devices.test")
	if rec.Personality != listener.PersonalityHTTPS || rec.ClientCertRequested || !strings.Contains(step, "HTTPS") {
		t.Fatalf("record %s cert %v step %q", rec.Personality, rec.ClientCertRequested, step)
	}
}

// TestDomainConfigurationsSurviveRestart checks that configurations persist and that a restart
// with the same domains keeps the server certificate (no reissue).
func TestDomainConfigurationsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	emu := startEmulator(t, dir)
	api := iotClientAt(awsConfig(awsKey(sigv4Key, sigv4Secret), nil), emu.APIURL())
	if _, err := api.CreateDomainConfiguration(context.Background(), &iot.CreateDomainConfigurationInput{
		DomainConfigurationName: aws.String("kept"), DomainName: aws.String("kept.devices.test"),
	}); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(filepath.Join(dir, "server.pem"))
	if err != nil {
		t.Fatal(err)
	}
	closeWithin(t, emu, 15*time.Second)
	emu = startEmulator(t, dir)
	after, err := os.ReadFile(filepath.Join(dir, "server.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Fatal("the restart reissued the server certificate")
	}
	api = iotClientAt(awsConfig(awsKey(sigv4Key, sigv4Secret), nil), emu.APIURL())
	if d, err := api.DescribeDomainConfiguration(context.Background(), &iot.DescribeDomainConfigurationInput{DomainConfigurationName: aws.String("kept")}); err != nil || aws.ToString(d.DomainName) != "kept.devices.test" {
		t.Fatalf("%v %v", d, err)
	}
	c, err := dialTLS(emu, sniConfig(t, emu, "kept.devices.test", nil))
	if err != nil {
		t.Fatalf("the certificate does not verify for the kept domain: %v", err)
	}
	c.Close()
}
