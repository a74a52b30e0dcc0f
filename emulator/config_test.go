package emulator

import (
	"log/slog"
	"strings"
	"testing"
)

func TestConfigDefaultsAndErrors(t *testing.T) {
	cases := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"zero value gets defaults", Config{}, ""},
		{"bad profile", Config{Profile: "strict"}, "profile"},
		{"bad region", Config{Region: "mars"}, "region"},
		{"bad account", Config{Account: "42"}, "account"},
		{"bad address", Config{MQTTAddr: "8883"}, "mqtt-addr"},
		{"bad endpoint", Config{Endpoints: []string{"has space"}}, "endpoint"},
		{"IP endpoint", Config{Endpoints: []string{"10.0.0.5"}}, ""},
		{"RSA server key", Config{ServerKey: "rsa"}, ""},
		{"bad server key", Config{ServerKey: "ed25519"}, "server-key"},
		{"short write queue", Config{WriteQueue: 64}, ""},
		{"negative write queue", Config{WriteQueue: -1}, "write-queue"},
		{"packet size under profile mqtt", Config{Profile: "mqtt", MaxPacketSize: 1 << 20}, ""},
		{"packet size under profile aws", Config{Profile: "aws", MaxPacketSize: 1 << 20}, "max-packet-size"},
		{"tiny packet size", Config{Profile: "mqtt", MaxPacketSize: 10}, "max-packet-size"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.cfg.withDefaults()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if c.DataDir == "" || c.MQTTAddr == "" || c.Region == "" || c.HandshakeTimeout == 0 || c.Logger == nil {
					t.Fatalf("defaults not filled: %+v", c)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one naming %q", err, tc.wantErr)
			}
		})
	}
}

func TestParseSeed(t *testing.T) {
	cases := []struct {
		name    string
		text    string
		wantErr string
		check   func(t *testing.T, s *Seed)
	}{
		{"empty", "", "", func(t *testing.T, s *Seed) {
			if len(s.Policies)+len(s.Things)+len(s.Certificates) != 0 {
				t.Fatal("empty seed declared something")
			}
		}},
		{"yaml with object document", `
policies:
  - name: p
    document:
      Version: "2012-10-17"
      Statement: [{Effect: Allow, Action: "iot:*", Resource: "*"}]
things:
  - name: t1
    attributes: {room: lab}
certificates:
  - thing: t1
    policies: [p]
    out: certs/t1
`, "", func(t *testing.T, s *Seed) {
			if s.Policies[0].Name != "p" || !strings.Contains(s.Policies[0].policyText(), `"Effect":"Allow"`) {
				t.Fatalf("policy %+v", s.Policies[0])
			}
			if s.Things[0].Attributes["room"] != "lab" || s.Certificates[0].Out != "certs/t1" {
				t.Fatalf("seed %+v", s)
			}
		}},
		{"json with string document", `{"policies":[{"name":"p","document":"{\"Version\":\"2012-10-17\",\"Statement\":[]}"}]}`, "", func(t *testing.T, s *Seed) {
			if s.Policies[0].policyText() != `{"Version":"2012-10-17","Statement":[]}` {
				t.Fatalf("document %q", s.Policies[0].policyText())
			}
		}},
		{"unknown field", "things:\n  - name: t\n    colour: red\n", "colour", nil},
		{"not yaml", "things: [", "neither valid YAML nor JSON", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseSeed([]byte(tc.text))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, s)
		})
	}
}

func TestSeedValidate(t *testing.T) {
	none := func(string, string) bool { return false }
	cases := []struct {
		name string
		seed Seed
		want []string
	}{
		{"missing names and out", Seed{
			Policies:     []SeedPolicy{{Document: []byte(`{"Version":"2012-10-17","Statement":[]}`)}},
			Things:       []SeedThing{{}},
			Certificates: []SeedCertificate{{Thing: "ghost", Policies: []string{"nope"}, Status: "SHINY"}},
		}, []string{"policies[0].name", "things[0].name", "certificates[0].out", `"ghost"`, `"nope"`, `"SHINY"`}},
		{"broken policy names the field", Seed{
			Policies: []SeedPolicy{{Name: "p", Document: []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Maybe","Action":"iot:*","Resource":"*"}]}`)}},
		}, []string{"policies[0] (p).document", "Effect"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.seed.validate(none)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestWriteQueueReachesBroker: Config.WriteQueue (default: Mochi's 8192) is the broker's
// per-connection outbound queue, and every connection reads through a 1 KiB buffer.
func TestWriteQueueReachesBroker(t *testing.T) {
	for _, tc := range []struct{ given, want int }{{0, 8192}, {1024, 1024}} {
		cfg := TestConfig(t.TempDir())
		cfg.Logger = slog.New(slog.DiscardHandler)
		cfg.Demo = false
		cfg.WriteQueue = tc.given
		emu, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := emu.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		opts := emu.broker.Options
		if got := int(opts.Capabilities.MaximumClientWritesPending); got != tc.want {
			t.Errorf("WriteQueue %d: broker queue %d, want %d", tc.given, got, tc.want)
		}
		if opts.ClientNetReadBufferSize != 1024 {
			t.Errorf("read buffer %d, want 1024", opts.ClientNetReadBufferSize)
		}
		if err := emu.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
