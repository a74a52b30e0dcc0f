// Package bench is the load generator behind "iotcore-local bench": fleets of MQTT 3.1.1 devices
// over mutual TLS that connect, publish, subscribe, idle and update their Device Shadows against
// any broker — the emulator, stock Mochi, Mosquitto or AWS IoT Core itself (the shadow scenario
// needs a shadow service: the emulator or AWS) — and report rates, latency percentiles, losses
// and server memory, so that brokers can be compared side by side with one tool.
//
// The MQTT client is the package's own: a few hundred lines that write CONNECT, PUBLISH,
// SUBSCRIBE and PINGREQ and read what comes back, with one goroutine per connection. Owning it
// lets the load generator time the TCP connect, the TLS handshake and the CONNACK separately,
// hold tens of thousands of connections cheaply, and stay out of the figures it measures.
package bench

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"
)

// ProtocolMQTTCA is the ALPN protocol that selects MQTT with an X.509 identity on AWS IoT Core's
// port 443.
const ProtocolMQTTCA = "x-amzn-mqtt-ca"

// Device is one client identity: the MQTT client id it connects with and the certificate it
// presents. Under a thing-scoped AWS IoT policy the client id must be the thing's name.
type Device struct {
	ClientID      string          `json:"client_id"`
	CertificateID string          `json:"certificate_id,omitempty"`
	Certificate   tls.Certificate `json:"-"`
}

// Target describes the broker under test and how the simulated devices reach it.
type Target struct {
	// Address is the broker's host:port, e.g. 127.0.0.1:8883.
	Address string
	// ServerName is the name the server certificate is verified against (and sent as SNI);
	// empty means the host of Address.
	ServerName string
	// ALPN is the list of protocols offered in the ClientHello; AWS IoT Core's port 443 needs
	// ProtocolMQTTCA.
	ALPN []string
	// RootCAs verifies the server certificate; nil means the system's roots (right for AWS).
	RootCAs *x509.CertPool
	// Devices are per-device identities: connection i uses Devices[i], so a scenario needs at
	// least as many as it opens connections.
	Devices []Device
	// SharedCertificate is presented by every connection when Devices is empty; client ids are
	// then ClientIDPrefix followed by the connection's index.
	SharedCertificate *tls.Certificate
	// ClientIDPrefix builds client ids for a shared certificate; default "bench-".
	ClientIDPrefix string
	// AllowRemote permits a target that does not resolve to loopback only, so that a remote
	// broker such as AWS IoT Core is measured deliberately, never by a typo.
	AllowRemote bool
	// SourceAddrs are the local addresses connections are made from, in turn. Empty means the
	// kernel's choice, or, for loopback targets needing more than SourcePortBudget connections,
	// 127.0.0.1, 127.0.0.2, … enough to keep each below the budget.
	SourceAddrs []netip.Addr
	// CurvePreferences are the key exchanges offered; nil means X25519 then P-256, what devices
	// commonly offer (Go's default would add a post-quantum hybrid few devices and brokers use).
	CurvePreferences []tls.CurveID
	// ConnectTimeout bounds each of the TCP connect, the TLS handshake and the wait for CONNACK;
	// default 10 s.
	ConnectTimeout time.Duration
	// KeepAlive is the keep-alive sent in CONNECT; connections held longer than half of it send
	// PINGREQ. Default 60 s (AWS IoT accepts 30 s to 1200 s).
	KeepAlive time.Duration
}

// SourcePortBudget is how many connections one local address is given towards one server
// address: Linux's default ephemeral range (32768–60999) holds 28 232 ports, and the rest is
// margin for TIME_WAIT and other programs.
const SourcePortBudget = 20000

// Defaults of Target's optional fields.
const (
	DefaultClientIDPrefix = "bench-"
	DefaultConnectTimeout = 10 * time.Second
	DefaultKeepAlive      = 60 * time.Second
)

// withDefaults fills in the optional fields.
func (t Target) withDefaults() Target {
	if t.ClientIDPrefix == "" {
		t.ClientIDPrefix = DefaultClientIDPrefix
	}
	if t.ConnectTimeout <= 0 {
		t.ConnectTimeout = DefaultConnectTimeout
	}
	if t.KeepAlive <= 0 {
		t.KeepAlive = DefaultKeepAlive
	}
	if t.CurvePreferences == nil {
		t.CurvePreferences = []tls.CurveID{tls.X25519, tls.CurveP256}
	}
	return t
}

// dialer is a Target checked and resolved for one scenario run.
type dialer struct {
	t       Target
	addr    string // resolved ip:port, so that no connection waits on DNS
	base    *tls.Config
	sources []*net.TCPAddr
}

// prepare checks the target for a run of need connections: a well-formed address that resolves
// to loopback (unless AllowRemote), enough identities, and source addresses when one would run
// out of ports.
func (t Target) prepare(ctx context.Context, need int) (*dialer, error) {
	t = t.withDefaults()
	host, port, err := net.SplitHostPort(t.Address)
	if err != nil {
		return nil, fmt.Errorf("target address %q: %w", t.Address, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return nil, fmt.Errorf("target address %q: bad port: %w", t.Address, err)
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("resolve target %q: %w", host, err)
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("resolve target %q: no address", host)
	}
	if !t.AllowRemote {
		for _, ip := range ips {
			if !ip.Unmap().IsLoopback() {
				return nil, fmt.Errorf("target %s resolves to %s, which is not loopback: allow remote targets (--allow-remote) to measure a remote broker deliberately", t.Address, ip.Unmap())
			}
		}
	}
	ip := ips[0].Unmap()
	for _, cand := range ips { // prefer IPv4: several loopback source addresses exist only there
		if cand.Unmap().Is4() {
			ip = cand.Unmap()
			break
		}
	}
	if len(t.Devices) == 0 && t.SharedCertificate == nil {
		return nil, errors.New("target has no client certificate: give per-device identities or one shared certificate")
	}
	if len(t.Devices) > 0 && len(t.Devices) < need {
		return nil, fmt.Errorf("the run needs %d device identities, the target has %d", need, len(t.Devices))
	}
	d := &dialer{t: t, addr: net.JoinHostPort(ip.String(), port)}
	serverName := t.ServerName
	if serverName == "" {
		serverName = host
	}
	d.base = &tls.Config{
		RootCAs:          t.RootCAs,
		ServerName:       serverName,
		NextProtos:       t.ALPN,
		MinVersion:       tls.VersionTLS12,
		CurvePreferences: t.CurvePreferences,
	}
	sources := t.SourceAddrs
	if len(sources) == 0 && ip.Is4() && ip.IsLoopback() && need > SourcePortBudget {
		n := (need + SourcePortBudget - 1) / SourcePortBudget
		if n > 254 {
			return nil, fmt.Errorf("%d connections would need %d loopback source addresses; at most 254 exist", need, n)
		}
		for i := 1; i <= n; i++ {
			sources = append(sources, netip.AddrFrom4([4]byte{127, 0, 0, byte(i)}))
		}
	}
	for _, s := range sources {
		d.sources = append(d.sources, &net.TCPAddr{IP: s.AsSlice()})
	}
	return d, nil
}

// identity returns the client id and certificate of connection i.
func (d *dialer) identity(i int) (string, *tls.Certificate) {
	if len(d.t.Devices) > 0 {
		dev := &d.t.Devices[i]
		return dev.ClientID, &dev.Certificate
	}
	return d.t.ClientIDPrefix + strconv.Itoa(i), d.t.SharedCertificate
}

// tlsConfig is the client configuration of connection i.
func (d *dialer) tlsConfig(cert *tls.Certificate) *tls.Config {
	cfg := d.base.Clone()
	cfg.Certificates = []tls.Certificate{*cert}
	return cfg
}

// localAddr is the source address of connection i, or nil for the kernel's choice.
func (d *dialer) localAddr(i int) *net.TCPAddr {
	if len(d.sources) == 0 {
		return nil
	}
	return d.sources[i%len(d.sources)]
}

// TargetInfo is what a report says about the target.
type TargetInfo struct {
	Address     string   `json:"address"`
	ServerName  string   `json:"server_name,omitempty"`
	ALPN        []string `json:"alpn,omitempty"`
	Identities  string   `json:"identities"` // "per-device" or "shared"
	SourceAddrs []string `json:"source_addrs,omitempty"`
}

// info describes the prepared target for a report.
func (d *dialer) info() TargetInfo {
	ti := TargetInfo{Address: d.t.Address, ServerName: d.base.ServerName, ALPN: d.t.ALPN, Identities: "shared"}
	if len(d.t.Devices) > 0 {
		ti.Identities = "per-device"
	}
	for _, s := range d.sources {
		ti.SourceAddrs = append(ti.SourceAddrs, s.IP.String())
	}
	return ti
}
