// Package emulator is iotcore-local's composition root: it turns a Config into running listeners,
// broker, hooks, registry and HTTP API, and is the Go API for running the emulator in-process
// from another project's tests.
package emulator

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"regexp"
	"time"

	"github.com/iotcore-local/iotcore-local/functions"
	"github.com/iotcore-local/iotcore-local/hooks"
	"github.com/iotcore-local/iotcore-local/pki"
)

// Config is everything the emulator needs to start. The zero value of a field means its default.
type Config struct {
	DataDir          string        // state folder; default ".iotcore-local"
	MQTTAddr         string        // MQTT over mTLS (AWS's 8883); default 127.0.0.1:8883
	ALPNAddr         string        // the ALPN-multiplexed port (AWS's 443); default 127.0.0.1:443
	HTTPSAddr        string        // HTTPS with a client certificate (AWS's 8443); default 127.0.0.1:8443
	APIAddr          string        // the HTTP API; default 127.0.0.1:4580
	SeedFile         string        // YAML or JSON declarations applied at start; "" for none
	Profile          string        // "aws" (default) or "mqtt"
	ALPNStrict       bool          // on the ALPN port serve only x-amzn-mqtt-ca
	Endpoints        []string      // extra server certificate names; the first is DescribeEndpoint's answer
	ServerKey        string        // server certificate key: "ecdsa" (P-256, default) or "rsa" (RSA-2048)
	Region           string        // default us-east-1
	Account          string        // default 123456789012
	HandshakeTimeout time.Duration // TLS handshake deadline; default 10s
	ConnectTimeout   time.Duration // deadline for CONNECT after the handshake; default 10s
	SessionExpiry    time.Duration // MQTT 3.1.1 persistent session expiry (profile aws); default 1h
	Throttle         bool          // AWS's per-connection rate limits (profile aws)
	JobsRateLimit    int           // jobs device requests per second per thing; beyond: RequestThrottled (0: no limit)
	WriteQueue       int           // packets routed to a connection and not yet written; default hooks.DefaultWriteQueue
	// MaxPacketSize is the largest MQTT packet a client may send after CONNECT (bytes),
	// advertised to MQTT 5 clients in CONNACK. Profile aws: AWS's limit, hooks.MaxPacketBytes
	// (another value is refused); profile mqtt: default hooks.MaxPacketBytes, settable.
	MaxPacketSize int
	Credentials   map[string]string // SigV4 key pairs (access key id → secret) whose signatures are verified
	SigV4Strict   bool              // refuse unsigned requests and unknown access keys
	Demo          bool              // create the demo device that the start banner's command uses
	Functions     map[string]string // function ARN (or name) → Invoke URL (--function ARN=URL); others go to the SDK's Lambda endpoint
	// CredentialIdentities gives access keys of Credentials a policy and a Cognito identity
	// (MQTT over WebSocket); a key without entry is allowed everything.
	CredentialIdentities map[string]CredentialIdentity
	// WebSocketTTL ends SigV4 WebSocket connections after this long (WEBSOCKET_TTL_EXPIRATION);
	// default 24h, as AWS.
	WebSocketTTL time.Duration
	// AuthorizerCache keeps custom authorizer answers for their refreshAfterInSeconds across
	// connections with the same credentials (--authorizer-cache); nil is on.
	AuthorizerCache *bool
	// CustomAuthSecond is the unit of an authorizer answer's disconnectAfterInSeconds and
	// refreshAfterInSeconds; 0 is a second. Tests shorten it to see those timers fire.
	CustomAuthSecond time.Duration
	Logger           *slog.Logger // default slog.Default()
	// Now is the clock of shadow documents and of jobs; nil is time.Now. Tests set it to compare
	// documents byte for byte, or to move jobs' timers on (then call Jobs().Tick()).
	Now func() time.Time
	// TLSFaults are fault injection rules, NAME[@TARGET] (serve --tls-fault): expired,
	// wrong-name, untrusted-ca, max-fragment, weak-ciphers, tls12-only, for every connection,
	// a listener (mqtts, alpn, https) or an SNI host name or its first label.
	TLSFaults []string
	// NoTranscripts keeps no connection transcripts (GET /_iotcore/connections answers []):
	// each connection is still logged. For measuring what transcripts cost.
	NoTranscripts bool
	// GCHeapFloorMiB gives the Go collector a heap floor of this many MiB that adapts to the
	// live heap (internal/gcfloor; serve's default gcfloor.DefaultMiB, 0 none). It is
	// process-wide and has no effect when GOGC or GOMEMLIMIT is set in the environment.
	GCHeapFloorMiB int
}

// Default addresses, as the command line documents them.
const (
	DefaultDataDir   = ".iotcore-local"
	DefaultMQTTAddr  = "127.0.0.1:8883"
	DefaultALPNAddr  = "127.0.0.1:443"
	DefaultHTTPSAddr = "127.0.0.1:8443"
	DefaultAPIAddr   = "127.0.0.1:4580"
	DefaultRegion    = "us-east-1"
	DefaultAccount   = "123456789012"
)

// TestConfig is a configuration for tests: state in dir, every listener on a free loopback port.
func TestConfig(dir string) Config {
	return Config{
		DataDir:   dir,
		MQTTAddr:  "127.0.0.1:0",
		ALPNAddr:  "127.0.0.1:0",
		HTTPSAddr: "127.0.0.1:0",
		APIAddr:   "127.0.0.1:0",
	}
}

var (
	regionPattern  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d+$`)
	accountPattern = regexp.MustCompile(`^\d{12}$`)
	namePattern    = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$`)
)

// withDefaults returns c with defaults filled in, or an error naming the first bad field.
// Bounds of --max-packet-size: an MQTT packet is at least 2 bytes, and the Remaining Length
// field encodes at most 268,435,455 bytes after a 5-byte fixed header.
const (
	minPacketSize = 64
	maxPacketSize = 268_435_460
)

func (c Config) withDefaults() (Config, error) {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.DataDir, DefaultDataDir)
	def(&c.MQTTAddr, DefaultMQTTAddr)
	def(&c.ALPNAddr, DefaultALPNAddr)
	def(&c.HTTPSAddr, DefaultHTTPSAddr)
	def(&c.APIAddr, DefaultAPIAddr)
	def(&c.Profile, "aws")
	def(&c.ServerKey, pki.KeyECDSA)
	def(&c.Region, DefaultRegion)
	def(&c.Account, DefaultAccount)
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = 10 * time.Second
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = 10 * time.Second
	}
	if c.SessionExpiry == 0 {
		c.SessionExpiry = time.Hour
	}
	if c.WriteQueue == 0 {
		c.WriteQueue = hooks.DefaultWriteQueue
	}
	if c.MaxPacketSize == 0 {
		c.MaxPacketSize = hooks.MaxPacketBytes
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	var errs []error
	if c.Profile != "aws" && c.Profile != "mqtt" {
		errs = append(errs, fmt.Errorf("profile: must be aws or mqtt, got %q", c.Profile))
	}
	if c.ServerKey != pki.KeyECDSA && c.ServerKey != pki.KeyRSA {
		errs = append(errs, fmt.Errorf("server-key: must be %s or %s, got %q", pki.KeyECDSA, pki.KeyRSA, c.ServerKey))
	}
	if !regionPattern.MatchString(c.Region) {
		errs = append(errs, fmt.Errorf("region: %q is not a region name like us-east-1", c.Region))
	}
	if !accountPattern.MatchString(c.Account) {
		errs = append(errs, fmt.Errorf("account: %q is not a 12-digit account id", c.Account))
	}
	for _, a := range []struct{ field, addr string }{{"mqtt-addr", c.MQTTAddr}, {"alpn-addr", c.ALPNAddr}, {"https-addr", c.HTTPSAddr}, {"api-addr", c.APIAddr}} {
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			errs = append(errs, addrError(a.field, a.addr, err))
		}
	}
	for _, n := range c.Endpoints {
		if net.ParseIP(n) == nil && !namePattern.MatchString(n) {
			errs = append(errs, fmt.Errorf("endpoint: %q is neither a DNS name nor an IP address", n))
		}
	}
	if c.HandshakeTimeout < 0 || c.ConnectTimeout < 0 {
		errs = append(errs, errors.New("timeouts must not be negative"))
	}
	if c.GCHeapFloorMiB < 0 || c.GCHeapFloorMiB > 1<<20 {
		errs = append(errs, fmt.Errorf("gc-heap-floor: %d MiB is not a heap floor (0 to 1048576)", c.GCHeapFloorMiB))
	}
	if c.WriteQueue < 0 || c.WriteQueue > math.MaxInt32 {
		errs = append(errs, fmt.Errorf("write-queue: %d is not a queue length", c.WriteQueue))
	}
	switch {
	case c.MaxPacketSize < minPacketSize || c.MaxPacketSize > maxPacketSize:
		errs = append(errs, fmt.Errorf("max-packet-size: %d is not between %d and %d bytes", c.MaxPacketSize, minPacketSize, maxPacketSize))
	case c.Profile == "aws" && c.MaxPacketSize != hooks.MaxPacketBytes:
		errs = append(errs, fmt.Errorf("max-packet-size: profile aws has AWS IoT Core's limit (%d bytes: a 128 KiB payload with its topic and properties); use --profile mqtt to choose another", hooks.MaxPacketBytes))
	}
	for arn, u := range c.Functions {
		if _, _, err := functions.ParseRoute(arn + "=" + u); err != nil {
			errs = append(errs, fmt.Errorf("function: %w", err))
		}
	}
	errs = append(errs, checkCredentialIdentities(c.CredentialIdentities)...)
	if c.WebSocketTTL < 0 {
		errs = append(errs, fmt.Errorf("websocket-ttl: %v is negative", c.WebSocketTTL))
	}
	if c.SessionExpiry < time.Second {
		errs = append(errs, fmt.Errorf("session-expiry: %v is shorter than a second", c.SessionExpiry))
	}
	return c, errors.Join(errs...)
}

// endpoint is the host name DescribeEndpoint answers and the banner prints.
func (c Config) endpoint() string {
	if len(c.Endpoints) > 0 {
		return c.Endpoints[0]
	}
	return "localhost"
}
