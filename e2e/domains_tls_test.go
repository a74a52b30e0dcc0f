package e2e

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/iotcore-local/iotcore-local/authorizers"
	"github.com/iotcore-local/iotcore-local/emulator"
	"github.com/iotcore-local/iotcore-local/listener"
)

// domainPolicy allows any client id and the topics under the connection's own domain name.
const domainPolicy = `{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-east-1:123456789012:client/*"},
 {"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":"arn:aws:iot:us-east-1:123456789012:topic/${iot:DomainName}/*"},
 {"Effect":"Allow","Action":"iot:Subscribe","Resource":"arn:aws:iot:us-east-1:123456789012:topicfilter/${iot:DomainName}/*"}]}`

// sniConfig is a client TLS configuration trusting the emulator's root for serverName, with the
// device's certificate when d is set.
func sniConfig(t *testing.T, emu *emulator.Emulator, serverName string, d *emulator.Device, alpn ...string) *tls.Config {
	t.Helper()
	if d != nil {
		cfg := tlsConfig(t, d, alpn...)
		cfg.ServerName = serverName
		return cfg
	}
	cfg := trustEmulator(t, emu, alpn)
	cfg.ServerName = serverName
	return cfg
}

// dialTLS makes one TLS handshake with the ALPN port.
func dialTLS(emu *emulator.Emulator, cfg *tls.Config) (*tls.Conn, error) {
	d := &net.Dialer{Timeout: 10 * time.Second}
	return tls.DialWithDialer(d, "tcp", emu.ALPNAddr(), cfg)
}

// domainStep returns the transcript's domain configuration step of the first finished
// connection with this SNI.
func domainStep(t *testing.T, emu *emulator.Emulator, sni string) (listener.Record, string) {
	t.Helper()
	rec := transcriptFor(t, emu, func(r listener.Record) bool { return r.SNI == sni && r.Outcome != "" })
	for _, s := range rec.Steps {
		if s.Step == listener.StepDomain {
			return rec, s.Detail
		}
	}
	t.Fatalf("transcript of %s has no %q step: %+v", sni, listener.StepDomain, rec.Steps)
	return rec, ""
}

// TestDomainConfigurationsOn443 checks that domain configurations decide the 443 listener by
// SNI with real TLS clients: a SECURE_MQTT+AWS_X509 domain serves MQTT with a certificate and no
// ALPN, a SECURE_MQTT+CUSTOM_AUTH domain sends a CONNECT without ALPN to its default authorizer,
// a DISABLED domain is refused, an unknown SNI falls back to the table, the security policy
// bounds the TLS versions, and the server certificate names each domain from the next handshake
// on, without a restart; ${iot:DomainName} resolves to the SNI.
func TestDomainConfigurationsOn443(t *testing.T) {
	fn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, `{"isAuthenticated":true,"principalId":"domainuser","policyDocuments":[`+domainPolicy+`]}`)
	}))
	defer fn.Close()
	emu := startEmulator(t, "", func(c *emulator.Config) {
		c.Demo = false
		c.Functions = map[string]string{"domain-fn": fn.URL}
	})
	if _, err := emu.Authorizers().Create(authorizers.CreateInput{Name: "domain-auth", FunctionARN: "domain-fn", SigningDisabled: true}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	client := iotClientAt(awsConfig(awsKey(sigv4Key, sigv4Secret), nil), emu.APIURL())
	create := func(in *iot.CreateDomainConfigurationInput) {
		t.Helper()
		if _, err := client.CreateDomainConfiguration(ctx, in); err != nil {
			t.Fatalf("create %s: %v", aws.ToString(in.DomainConfigurationName), err)
		}
	}
	create(&iot.CreateDomainConfigurationInput{DomainConfigurationName: aws.String("mqtt-x509"), DomainName: aws.String("x509.devices.test"),
		ApplicationProtocol: types.ApplicationProtocolSecureMqtt, AuthenticationType: types.AuthenticationTypeAwsX509})
	create(&iot.CreateDomainConfigurationInput{DomainConfigurationName: aws.String("custom"), DomainName: aws.String("custom.devices.test"),
		ApplicationProtocol: types.ApplicationProtocolSecureMqtt, AuthenticationType: types.AuthenticationTypeCustomAuth,
		AuthorizerConfig: &types.AuthorizerConfig{DefaultAuthorizerName: aws.String("domain-auth"), AllowAuthorizerOverride: aws.Bool(false)}})
	create(&iot.CreateDomainConfigurationInput{DomainConfigurationName: aws.String("off"), DomainName: aws.String("off.devices.test")})
	if _, err := client.UpdateDomainConfiguration(ctx, &iot.UpdateDomainConfigurationInput{DomainConfigurationName: aws.String("off"),
		DomainConfigurationStatus: types.DomainConfigurationStatusDisabled}); err != nil {
		t.Fatal(err)
	}
	create(&iot.CreateDomainConfigurationInput{DomainConfigurationName: aws.String("tls13"), DomainName: aws.String("tls13.devices.test"),
		TlsConfig: &types.TlsConfig{SecurityPolicy: aws.String("IoTSecurityPolicy_TLS13_1_3_2022_10")}})
	dev, err := emu.CreateDevice("domain-thing", domainPolicy)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("SECURE_MQTT with AWS_X509 and no ALPN", func(t *testing.T) {
		// Without the domain, no ALPN on 443 is HTTPS; the domain makes it MQTT with a
		// certificate. The client verifies the server certificate for the new name.
		c, err := connectPaho(t, emu.ALPNAddr(), "x509-client", sniConfig(t, emu, "x509.devices.test", dev), nil)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		handler, got := msgCollector()
		if err := wait(t, c.Subscribe("x509.devices.test/+", 1, handler)); err != nil {
			t.Fatal(err)
		}
		if err := wait(t, c.Publish("x509.devices.test/t", 1, false, "by domain")); err != nil {
			t.Fatal(err)
		}
		if m := nextMessage(t, got, "publish under ${iot:DomainName}"); m.payload != "by domain" {
			t.Fatalf("%+v", m)
		}
		rec, step := domainStep(t, emu, "x509.devices.test")
		if rec.Personality != listener.PersonalityMQTT || !rec.ClientCertRequested ||
			!strings.Contains(step, "mqtt-x509 (server name matches its domain name)") || !strings.Contains(step, "SECURE_MQTT") {
			t.Fatalf("record %s cert %v step %q", rec.Personality, rec.ClientCertRequested, step)
		}
	})

	t.Run("${iot:DomainName} refuses another domain's topic", func(t *testing.T) {
		lost := make(chan error, 1)
		c, err := connectPaho(t, emu.ALPNAddr(), "x509-other", sniConfig(t, emu, "x509.devices.test", dev), func(err error) { lost <- err })
		if err != nil {
			t.Fatal(err)
		}
		c.Publish("custom.devices.test/t", 1, false, "not my domain")
		select {
		case <-lost:
		case <-time.After(10 * time.Second):
			t.Fatal("a publish outside ${iot:DomainName} did not end the connection")
		}
	})

	t.Run("SECURE_MQTT with CUSTOM_AUTH and no ALPN", func(t *testing.T) {
		opts := paho.NewClientOptions().AddBroker("ssl://" + emu.ALPNAddr()).SetClientID("custom-client").
			SetTLSConfig(sniConfig(t, emu, "custom.devices.test", nil)).SetProtocolVersion(4).
			SetUsername("someone").SetPassword("secret").SetAutoReconnect(false).SetConnectRetry(false)
		c := paho.NewClient(opts)
		if tok := c.Connect(); !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
			t.Fatalf("connect: %v", tok.Error())
		}
		defer c.Disconnect(100)
		handler, got := msgCollector()
		if err := wait(t, c.Subscribe("custom.devices.test/+", 1, handler)); err != nil {
			t.Fatal(err)
		}
		if err := wait(t, c.Publish("custom.devices.test/t", 1, false, "custom")); err != nil {
			t.Fatal(err)
		}
		if m := nextMessage(t, got, "custom-auth publish"); m.payload != "custom" {
			t.Fatalf("%+v", m)
		}
		rec, step := domainStep(t, emu, "custom.devices.test")
		if rec.Personality != listener.PersonalityMQTTCustomAuth || rec.ClientCertRequested || !strings.Contains(step, "CUSTOM_AUTH") ||
			!strings.Contains(rec.Detail, "domain-auth") {
			t.Fatalf("record %s cert %v detail %q step %q", rec.Personality, rec.ClientCertRequested, rec.Detail, step)
		}
	})

	t.Run("DISABLED refuses", func(t *testing.T) {
		c, err := dialTLS(emu, sniConfig(t, emu, "off.devices.test", dev, "x-amzn-mqtt-ca"))
		if err == nil {
			c.Close()
			t.Fatal("a DISABLED domain completed a handshake")
		}
		if !strings.Contains(err.Error(), "access denied") {
			t.Fatalf("error %v, want the access_denied alert", err)
		}
		rec := transcriptFor(t, emu, func(r listener.Record) bool { return r.SNI == "off.devices.test" && r.Outcome != "" })
		if !strings.Contains(rec.Detail, "DISABLED") {
			t.Fatalf("record detail %q", rec.Detail)
		}
	})

	t.Run("unknown SNI falls back to the table", func(t *testing.T) {
		cfg := sniConfig(t, emu, "unknown.devices.test", dev, "x-amzn-mqtt-ca")
		cfg.InsecureSkipVerify = true // the certificate does not name unknown domains
		c, err := dialTLS(emu, cfg)
		if err != nil {
			t.Fatal(err)
		}
		st := c.ConnectionState()
		c.Close()
		if st.NegotiatedProtocol != "x-amzn-mqtt-ca" {
			t.Fatalf("negotiated %q", st.NegotiatedProtocol)
		}
		_, step := domainStep(t, emu, "unknown.devices.test")
		if !strings.Contains(step, "iot:Data-ATS (the default") || !strings.Contains(step, "table") {
			t.Fatalf("step %q", step)
		}
	})

	t.Run("security policy bounds the TLS versions", func(t *testing.T) {
		cfg := sniConfig(t, emu, "tls13.devices.test", nil)
		cfg.MaxVersion = tls.VersionTLS12
		if c, err := dialTLS(emu, cfg); err == nil {
			c.Close()
			t.Fatal("TLS 1.2 was accepted under IoTSecurityPolicy_TLS13_1_3_2022_10")
		}
		c, err := dialTLS(emu, sniConfig(t, emu, "tls13.devices.test", nil))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if v := c.ConnectionState().Version; v != tls.VersionTLS13 {
			t.Fatalf("version %x", v)
		}
		// The same client on the default configuration may use TLS 1.2.
		cfg = sniConfig(t, emu, "localhost", nil)
		cfg.MaxVersion = tls.VersionTLS12
		c2, err := dialTLS(emu, cfg)
		if err != nil {
			t.Fatal(err)
		}
		c2.Close()
	})

	t.Run("openssl verifies the new name", func(t *testing.T) {
		needTools(t, "openssl")
		dir := t.TempDir()
		ca := filepath.Join(dir, "root.pem")
		cert, key := filepath.Join(dir, "dev.pem"), filepath.Join(dir, "dev.key")
		for p, data := range map[string][]byte{ca: emu.RootCAPEM(), cert: []byte(dev.CertificatePEM), key: []byte(dev.PrivateKeyPEM)} {
			if err := os.WriteFile(p, data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		cmd := exec.Command("openssl", "s_client", "-connect", emu.ALPNAddr(), "-servername", "x509.devices.test",
			"-verify_hostname", "x509.devices.test", "-CAfile", ca, "-verify_return_error", "-cert", cert, "-key", key)
		cmd.Stdin = strings.NewReader("")
		out, _ := cmd.CombinedOutput()
		if !strings.Contains(string(out), "Verify return code: 0 (ok)") {
			t.Fatalf("openssl:\n%s", out)
		}
	})

	t.Run("mosquitto on the default domain keeps the table", func(t *testing.T) {
		needTools(t, "mosquitto_pub")
		dir := t.TempDir()
		ca := filepath.Join(dir, "root.pem")
		cert, key := filepath.Join(dir, "dev.pem"), filepath.Join(dir, "dev.key")
		for p, data := range map[string][]byte{ca: emu.RootCAPEM(), cert: []byte(dev.CertificatePEM), key: []byte(dev.PrivateKeyPEM)} {
			if err := os.WriteFile(p, data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		sub, err := connectPaho(t, emu.ALPNAddr(), "localhost-sub", sniConfig(t, emu, "localhost", dev, "x-amzn-mqtt-ca"), nil)
		if err != nil {
			t.Fatal(err)
		}
		handler, got := msgCollector()
		if err := wait(t, sub.Subscribe("localhost/+", 1, handler)); err != nil {
			t.Fatal(err)
		}
		out, err := run(t, "mosquitto_pub", "-h", "localhost", "-p", portOfAddr(emu.ALPNAddr()), "--tls-alpn", "x-amzn-mqtt-ca",
			"--cafile", ca, "--cert", cert, "--key", key, "-i", "mosquitto-default", "-t", "localhost/m", "-m", "from mosquitto", "-q", "1")
		if err != nil {
			t.Fatalf("mosquitto_pub: %v\n%s", err, out)
		}
		if m := nextMessage(t, got, "mosquitto publish"); m.payload != "from mosquitto" {
			t.Fatalf("%+v", m)
		}
		rec := transcriptFor(t, emu, func(r listener.Record) bool { return r.ClientID == "mosquitto-default" && r.Outcome != "" })
		found := false
		for _, s := range rec.Steps {
			found = found || (s.Step == listener.StepDomain && strings.Contains(s.Detail, "iot:Data-ATS (server name matches") && strings.Contains(s.Detail, "table"))
		}
		if !found || rec.Personality != listener.PersonalityMQTT {
			t.Fatalf("record %s steps %+v", rec.Personality, rec.Steps)
		}
	})

	t.Run("deleting a domain drops its name from the next certificate", func(t *testing.T) {
		if _, err := client.UpdateDomainConfiguration(ctx, &iot.UpdateDomainConfigurationInput{DomainConfigurationName: aws.String("tls13"),
			DomainConfigurationStatus: types.DomainConfigurationStatusDisabled}); err != nil {
			t.Fatal(err)
		}
		if _, err := client.DeleteDomainConfiguration(ctx, &iot.DeleteDomainConfigurationInput{DomainConfigurationName: aws.String("tls13")}); err != nil {
			t.Fatal(err)
		}
		cfg := sniConfig(t, emu, "localhost", nil)
		c, err := dialTLS(emu, cfg)
		if err != nil {
			t.Fatal(err)
		}
		names := c.ConnectionState().PeerCertificates[0].DNSNames
		c.Close()
		if slices.Contains(names, "tls13.devices.test") || !slices.Contains(names, "x509.devices.test") {
			t.Fatalf("certificate names %v", names)
		}
		// The deleted name now falls back to the default configuration, and fails verification.
		if c, err := dialTLS(emu, sniConfig(t, emu, "tls13.devices.test", nil)); err == nil {
			c.Close()
			t.Fatal("the certificate still verifies for a deleted domain")
		} else if !errorsAs(err, new(*tls.CertificateVerificationError)) && !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("error %v", err)
		}
	})
}
