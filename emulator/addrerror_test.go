package emulator

import (
	"strings"
	"testing"
)

func TestAddressFlagErrorsSuggestTheForm(t *testing.T) {
	for _, tc := range []struct {
		mutate func(*Config)
		want   string
	}{
		{func(c *Config) { c.MQTTAddr = "8883" }, "did you mean --mqtt-addr 127.0.0.1:8883"},
		{func(c *Config) { c.ALPNAddr = "443" }, "did you mean --alpn-addr 127.0.0.1:443"},
		{func(c *Config) { c.HTTPSAddr = "8443" }, "--https-addr 127.0.0.1:8443"},
		{func(c *Config) { c.APIAddr = "4580" }, "--api-addr 127.0.0.1:4580"},
		{func(c *Config) { c.APIAddr = "localhost" }, "has no port; give host:port, such as --api-addr localhost:4580"},
		{func(c *Config) { c.MQTTAddr = "::1" }, "has no port; give host:port, such as --mqtt-addr [::1]:8883"},
	} {
		cfg := TestConfig(t.TempDir())
		tc.mutate(&cfg)
		_, err := New(cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New = %v, want it to contain %q", err, tc.want)
		}
	}
}
