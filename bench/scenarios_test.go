package bench

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

// The scenario tests run each scenario at a tiny size against an in-process emulator and check
// that what it reports is consistent. They never assert a speed or a duration.

func TestConnectPerDeviceCertificates(t *testing.T) {
	for _, alpn := range []bool{false, true} {
		name := "8883"
		if alpn {
			name = "alpn"
		}
		t.Run(name, func(t *testing.T) {
			var progress bytes.Buffer
			res, err := RunConnect(testContext(t), ConnectConfig{Target: emulatorTarget(t, alpn), Devices: fleetSize, Concurrency: 3, Progress: &progress, Logger: testLogger(t)})
			must(t, err)
			if res.Succeeded+res.Failed != fleetSize || res.Attempted != fleetSize || res.Failed != 0 {
				t.Fatalf("requested %d: attempted %d, succeeded %d, failed %d (%v)", fleetSize, res.Attempted, res.Succeeded, res.Failed, res.Failures)
			}
			for name, l := range map[string]Latency{"tcp": res.TCP, "tls": res.Handshake, "connack": res.Connack, "total": res.Total} {
				if l.Count != uint64(res.Succeeded) || l.MaxMs < l.P50Ms || l.P99Ms < l.P50Ms {
					t.Errorf("%s latency inconsistent: %+v", name, l)
				}
			}
			if res.Target.Identities != "per-device" {
				t.Errorf("identities %q", res.Target.Identities)
			}
			checkTable(t, &Report{Scenario: "connect", Connect: res}, "connections/s", "tls handshake")
		})
	}
}

func TestConnectChurn(t *testing.T) {
	res, err := RunConnect(testContext(t), ConnectConfig{Target: emulatorTarget(t, false), Devices: 4, Churn: true})
	must(t, err)
	if res.Succeeded != 4 || res.Failed != 0 || !res.Churn {
		t.Fatalf("%+v", res)
	}
}

// TestConnectFailuresByCause: a certificate the emulator does not know gets its TLS handshake
// and then no CONNACK, as from AWS; every attempt must be counted under that cause.
func TestConnectFailuresByCause(t *testing.T) {
	tg := emulatorTarget(t, false)
	tg.Devices, tg.SharedCertificate = nil, strangerCertificate(t)
	res, err := RunConnect(testContext(t), ConnectConfig{Target: tg, Devices: 3, Concurrency: 3})
	must(t, err)
	if res.Succeeded != 0 || res.Failed != 3 || res.Failures["connack: closed without CONNACK"] != 3 {
		t.Fatalf("succeeded %d, failed %d, failures %v; want 3 × connack: closed without CONNACK", res.Succeeded, res.Failed, res.Failures)
	}
	checkTable(t, &Report{Scenario: "connect", Connect: res}, "closed without CONNACK")

	// Nothing listening: refused at TCP.
	tg.Address = "127.0.0.1:1"
	res, err = RunConnect(testContext(t), ConnectConfig{Target: tg, Devices: 2})
	must(t, err)
	if res.Failed != 2 || res.Failures["tcp: connection refused"] != 2 {
		t.Fatalf("failures %v, want 2 × tcp: connection refused", res.Failures)
	}
}

func TestPubSubQoS1(t *testing.T) {
	for _, tc := range []struct {
		name       string
		pubs, subs int
		shape      string
	}{
		{"fan-in", 3, 1, ShapeAll},
		{"fan-out", 1, 3, ShapeAll},
		{"pairs", 4, 2, ShapePairs},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := RunPubSub(testContext(t), PubSubConfig{
				Target: emulatorTarget(t, true), Publishers: tc.pubs, Subscribers: tc.subs, Shape: tc.shape,
				QoS: 1, PayloadSize: 100, Rate: 200, Messages: 50, Duration: 2 * time.Second, Logger: testLogger(t),
			})
			must(t, err)
			checkCounters(t, res)
			matching := uint64(tc.subs)
			if tc.shape == ShapePairs {
				matching = 1
			}
			if res.Sent == 0 || res.Expected != res.Sent*matching || res.Received != res.Expected || res.Lost != 0 || res.Duplicates != 0 || res.Acked != res.Sent {
				t.Fatalf("QoS 1: sent %d acked %d expected %d received %d lost %d duplicates %d", res.Sent, res.Acked, res.Expected, res.Received, res.Lost, res.Duplicates)
			}
			if res.Latency.Count != res.Received || res.AckLatency == nil || res.AckLatency.Count != res.Acked {
				t.Fatalf("latency counts %d (deliveries %d), ack latency %+v (acked %d)", res.Latency.Count, res.Received, res.AckLatency, res.Acked)
			}
			checkTable(t, &Report{Scenario: "pubsub", PubSub: res}, "publish→deliver", "publish→PUBACK")
		})
	}
}

func TestPubSubQoS0AsFastAsPossible(t *testing.T) {
	res, err := RunPubSub(testContext(t), PubSubConfig{
		Target: emulatorTarget(t, false), Publishers: 2, Subscribers: 1, QoS: 0, Duration: time.Second, Drain: 2 * time.Second,
	})
	must(t, err)
	checkCounters(t, res)
	if res.Sent == 0 || res.Sent < res.Received || res.Received+res.Lost != res.Expected || res.Expected != res.Sent {
		t.Fatalf("QoS 0: sent %d expected %d received %d lost %d", res.Sent, res.Expected, res.Received, res.Lost)
	}
	if res.AckLatency != nil || res.Acked != 0 {
		t.Fatalf("QoS 0 run reports acknowledgements: %d, %+v", res.Acked, res.AckLatency)
	}
	checkTable(t, &Report{Scenario: "pubsub", PubSub: res}, "as fast as possible")
}

// TestPubSubStagger: staggered publishers (a fleet of independent devices) still send their
// count at their rate, and every message arrives once.
func TestPubSubStagger(t *testing.T) {
	res, err := RunPubSub(testContext(t), PubSubConfig{
		Target: emulatorTarget(t, false), Publishers: 4, Subscribers: 1, QoS: 1, Rate: 20, Stagger: true,
		Messages: 5, Duration: 5 * time.Second,
	})
	must(t, err)
	checkCounters(t, res)
	if res.Sent != 20 || res.Acked != 20 || res.Received != 20 || res.Lost != 0 || res.Duplicates != 0 {
		t.Fatalf("staggered QoS 1: sent %d acked %d received %d lost %d duplicates %d; want 20 each, none lost", res.Sent, res.Acked, res.Received, res.Lost, res.Duplicates)
	}
}

// checkCounters checks the identities every pubsub result must satisfy.
func checkCounters(t *testing.T, r *PubSubResult) {
	t.Helper()
	if r.Received != r.Unique+r.Duplicates {
		t.Errorf("received %d ≠ unique %d + duplicates %d", r.Received, r.Unique, r.Duplicates)
	}
	if r.Unique+r.Lost != r.Expected {
		t.Errorf("unique %d + lost %d ≠ expected %d", r.Unique, r.Lost, r.Expected)
	}
	if r.Unexpected != 0 {
		t.Errorf("%d unexpected deliveries", r.Unexpected)
	}
	if r.Connect.Succeeded != r.Publishers+r.Subscribers || r.Connect.Failed != 0 {
		t.Errorf("connect phase: %+v", r.Connect)
	}
	if len(r.Disconnects) > 0 {
		t.Errorf("server disconnected clients: %v", r.Disconnects)
	}
}

func TestPubSubRefusesBadConfig(t *testing.T) {
	tg := emulatorTarget(t, false)
	for _, cfg := range []PubSubConfig{
		{Target: tg, Publishers: 1, Subscribers: 1, QoS: 2, Messages: 1},
		{Target: tg, Publishers: 1, Subscribers: 1, PayloadSize: 10, Messages: 1},
		{Target: tg, Publishers: 1, Subscribers: 1},
		{Target: tg, Publishers: 1, Subscribers: 2, Shape: ShapePairs, Messages: 1},
		{Target: tg, Publishers: 1, Subscribers: 1, Stagger: true, Messages: 1}, // stagger without a rate
		{Target: tg, Publishers: 5, Subscribers: 5, Messages: 1},                // more than the fleet holds
	} {
		if _, err := RunPubSub(testContext(t), cfg); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
}

func TestIdle(t *testing.T) {
	var progress bytes.Buffer
	afterHold := 0
	res, err := RunIdle(testContext(t), IdleConfig{
		Target: emulatorTarget(t, true), Devices: 5, Duration: 1500 * time.Millisecond,
		Memory: InProcessMemory{}, Settle: 100 * time.Millisecond, Progress: &progress,
		AfterHold: func() { afterHold++ },
	})
	must(t, err)
	if afterHold != 1 {
		t.Errorf("AfterHold ran %d times, want once", afterHold)
	}
	if res.Connected != 5 || res.Held != 5 || res.Dropped != 0 || res.Connect.Failed != 0 {
		t.Fatalf("connected %d held %d dropped %d (%v), failures %v", res.Connected, res.Held, res.Dropped, res.Drops, res.Connect.Failures)
	}
	m := res.Memory
	if m == nil || m.PerConnectionBytes <= 0 || m.AfterBytes <= m.BeforeBytes || m.PeakBytes < m.AfterBytes || m.Source == "" {
		t.Fatalf("memory %+v", m)
	}
	if !strings.Contains(progress.String(), "holding: 5/5 open") {
		t.Errorf("no progress line while holding: %q", progress.String())
	}
	checkTable(t, &Report{Scenario: "idle", Idle: res}, "per connection")
}

func TestProcessMemoryReadsOwnRSS(t *testing.T) {
	v, err := ProcessMemory{PID: os.Getpid()}.Read()
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	if v == 0 {
		t.Fatal("VmRSS of this process is 0")
	}
	if _, err := (ProcessMemory{PID: -1}).Read(); err == nil {
		t.Fatal("no error for a process that cannot exist")
	}
}

func TestTargetRefusesRemoteUnlessAllowed(t *testing.T) {
	tg := Target{Address: "192.0.2.7:8883", SharedCertificate: strangerCertificate(t)}
	_, err := tg.prepare(testContext(t), 1)
	if err == nil || !strings.Contains(err.Error(), "not loopback") {
		t.Fatalf("got %v, want a refusal naming loopback", err)
	}
	tg.AllowRemote = true
	if _, err := tg.prepare(testContext(t), 1); err != nil {
		t.Fatalf("allowed remote target: %v", err)
	}
}

func TestTargetSourceAddresses(t *testing.T) {
	tg := Target{Address: "127.0.0.1:8883", SharedCertificate: strangerCertificate(t)}
	d, err := tg.prepare(testContext(t), 2*SourcePortBudget+1)
	must(t, err)
	if got := d.info().SourceAddrs; strings.Join(got, ",") != "127.0.0.1,127.0.0.2,127.0.0.3" {
		t.Fatalf("source addresses %v", got)
	}
	if d.localAddr(4).IP.String() != "127.0.0.2" {
		t.Fatalf("connection 4 from %v", d.localAddr(4))
	}
	d, err = tg.prepare(testContext(t), 10)
	must(t, err)
	if d.localAddr(0) != nil {
		t.Fatalf("small run should leave the source to the kernel, got %v", d.localAddr(0))
	}
	if id, _ := d.identity(7); id != "bench-7" {
		t.Fatalf("shared-certificate client id %q", id)
	}
}

func TestFleetCacheIsReused(t *testing.T) {
	emu, _ := testEmulator(t)
	cache := t.TempDir() + "/devices.json"
	ctx := testContext(t)
	first, err := Provision(ctx, ProvisionConfig{APIURL: emu.APIURL(), Devices: 2, Prefix: "cache-", Cache: cache})
	must(t, err)
	second, err := Provision(ctx, ProvisionConfig{APIURL: emu.APIURL(), Devices: 3, Prefix: "cache-", Cache: cache})
	must(t, err)
	if len(second.Credentials) != 3 || second.Credentials[0].CertificateID != first.Credentials[0].CertificateID ||
		second.Credentials[1].CertificateID != first.Credentials[1].CertificateID || second.Credentials[2].ThingName != "cache-2" {
		t.Fatalf("cache not reused: first %v, second %v", ids(first), ids(second))
	}
	// The same emulator behind another address (restarted on its state folder, listeners on free
	// ports) keeps its devices: the cache is still good.
	other := strings.Replace(emu.APIURL(), "127.0.0.1", "localhost", 1)
	third, err := Provision(ctx, ProvisionConfig{APIURL: other, Devices: 3, Prefix: "cache-", Cache: cache})
	must(t, err)
	if third.Credentials[2].CertificateID != second.Credentials[2].CertificateID || third.APIURL != other {
		t.Fatalf("cache not reused behind another API address: second %v, third %v (%s)", ids(second), ids(third), third.APIURL)
	}
	loaded, err := LoadFleet(cache)
	must(t, err)
	if len(loaded.Credentials) != 3 {
		t.Fatalf("cache holds %d devices, want 3", len(loaded.Credentials))
	}
}

// TestECDSAFleet provisions devices with locally made keys registered without CA, connects
// them, and extends the fleet from its cache with the same bench CA.
func TestECDSAFleet(t *testing.T) {
	emu, _ := testEmulator(t)
	ctx := testContext(t)
	cache := t.TempDir() + "/ecdsa.json"
	fleet, err := Provision(ctx, ProvisionConfig{APIURL: emu.APIURL(), Devices: 2, Prefix: "ec-", KeyType: KeyECDSA, Cache: cache})
	must(t, err)
	grown, err := Provision(ctx, ProvisionConfig{APIURL: emu.APIURL(), Devices: 3, Prefix: "ec-", KeyType: KeyECDSA, Cache: cache})
	must(t, err)
	if fleet.DeviceCAPEM == "" || grown.DeviceCAPEM != fleet.DeviceCAPEM || grown.Credentials[0].CertificateID != fleet.Credentials[0].CertificateID {
		t.Fatal("the grown fleet does not keep the bench CA and the first devices")
	}
	devices, err := grown.Devices()
	must(t, err)
	pool, err := grown.RootCAs()
	must(t, err)
	res, err := RunConnect(ctx, ConnectConfig{Target: Target{Address: emu.MQTTAddr(), ServerName: "localhost", RootCAs: pool, Devices: devices}, Devices: 3})
	must(t, err)
	if res.Succeeded != 3 {
		t.Fatalf("succeeded %d, failures %v", res.Succeeded, res.Failures)
	}
}

func ids(f *Fleet) []string {
	var out []string
	for _, c := range f.Credentials {
		out = append(out, c.ThingName+"="+c.CertificateID[:8])
	}
	return out
}

// checkTable renders the report both ways and checks the table mentions want.
func checkTable(t *testing.T, r *Report, want ...string) {
	t.Helper()
	var tbl, js bytes.Buffer
	must(t, r.WriteTable(&tbl))
	must(t, r.WriteJSON(&js))
	for _, w := range want {
		if !strings.Contains(tbl.String(), w) {
			t.Errorf("table lacks %q:\n%s", w, tbl.String())
		}
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatalf("JSON report does not decode: %v", err)
	}
	t.Logf("\n%s", tbl.String())
}
