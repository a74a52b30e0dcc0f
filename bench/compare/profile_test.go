package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"

	"github.com/iotcore-local/iotcore-local/bench"
	"github.com/iotcore-local/iotcore-local/bench/compare/stockmochi"
	"github.com/iotcore-local/iotcore-local/emulator"
	"github.com/iotcore-local/iotcore-local/pki"
)

// inProcessEmulator starts an emulator in this process (profile aws) with n provisioned ECDSA
// devices and returns a target for it.
func inProcessEmulator(tb testing.TB, n int) (*emulator.Emulator, bench.Target) {
	emu, tg, _ := inProcessFleet(tb, n)
	return emu, tg
}

// inProcessStockMochi starts stock Mochi in this process with the TLS material of an in-process
// emulator's fleet (which provisions the devices), and returns a target for it.
func inProcessStockMochi(tb testing.TB, n int) bench.Target {
	tb.Helper()
	emu, tg, fleet := inProcessFleet(tb, n)
	dir := tb.TempDir()
	files := map[string][]byte{"device-ca.pem": []byte(fleet.DeviceCAPEM)}
	for _, f := range []string{pki.ServerCertFile, pki.ServerKeyFile} {
		b, err := os.ReadFile(filepath.Join(emu.DataDir(), f))
		if err != nil {
			tb.Fatal(err)
		}
		files[f] = b
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	srv, err := stockmochi.Start(stockmochi.Config{Addr: "127.0.0.1:0", CertFile: filepath.Join(dir, pki.ServerCertFile),
		KeyFile: filepath.Join(dir, pki.ServerKeyFile), CAFile: filepath.Join(dir, "device-ca.pem"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { srv.Close() })
	tg.Address = srv.Addr()
	return tg
}

// inProcessFleet is inProcessEmulator that also returns the provisioned fleet.
func inProcessFleet(tb testing.TB, n int) (*emulator.Emulator, bench.Target, *bench.Fleet) {
	tb.Helper()
	dir := tb.TempDir()
	cfg := emulator.TestConfig(dir)
	cfg.Logger = slog.New(slog.DiscardHandler)
	emu, err := emulator.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := emu.Start(ctx); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { emu.Close() })
	fleet, err := bench.Provision(ctx, bench.ProvisionConfig{APIURL: emu.APIURL(), Devices: n, KeyType: bench.KeyECDSA})
	if err != nil {
		tb.Fatal(err)
	}
	devices, err := fleet.Devices()
	if err != nil {
		tb.Fatal(err)
	}
	roots, err := fleet.RootCAs()
	if err != nil {
		tb.Fatal(err)
	}
	return emu, bench.Target{Address: emu.MQTTAddr(), ServerName: "localhost", RootCAs: roots, Devices: devices}, fleet
}

// heapAtEnd is a memory probe that also writes a heap profile at every reading after the
// first two (the last one is taken at the end of the hold, with every connection open).
type heapAtEnd struct {
	path  string
	reads int
}

func (h *heapAtEnd) Source() string { return "in-process heap, with a heap profile" }

func (h *heapAtEnd) Read() (uint64, error) {
	h.reads++
	v, err := bench.InProcessMemory{}.Read()
	if h.reads > 2 {
		f, ferr := os.Create(h.path)
		if ferr == nil {
			pprof.Lookup("heap").WriteTo(f, 0)
			f.Close()
		}
	}
	return v, err
}

// TestIdleHeapProfile holds COMPARE_IDLE_N (default 2000) idle connections to an in-process
// emulator and writes a heap profile to COMPARE_IDLE_PROFILE while they are open. It runs only
// when COMPARE_IDLE_PROFILE is set:
//
//	COMPARE_IDLE_PROFILE=/tmp/idle.heap go test ./bench/compare -run TestIdleHeapProfile -v
//	go tool pprof -sample_index=inuse_space -top /tmp/idle.heap
func TestIdleHeapProfile(t *testing.T) {
	path := os.Getenv("COMPARE_IDLE_PROFILE")
	if path == "" {
		t.Skip("set COMPARE_IDLE_PROFILE to a file to write the heap profile to")
	}
	n := 2000
	if s := os.Getenv("COMPARE_IDLE_N"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	_, tg := inProcessEmulator(t, n)
	runtime.MemProfileRate = 512
	res, err := bench.RunIdle(context.Background(), bench.IdleConfig{Target: tg, Devices: n, Concurrency: 40,
		Duration: 3 * time.Second, Memory: &heapAtEnd{path: path}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("held %d, %.1f KiB per connection (server and client in one process), goroutines %d", res.Held, res.Memory.PerConnectionBytes/1024, runtime.NumGoroutine())
}

// BenchmarkPubSubQoS1 runs the QoS 1 fan-in path (20 publishers → 1 subscriber, 64-byte
// payloads, 32 in flight per publisher) against an in-process emulator, 1000 messages per
// publisher per operation, for CPU, mutex and block profiles of the publish path:
//
//	go test ./bench/compare -run '^$' -bench PubSubQoS1 -benchtime 5x -cpuprofile /tmp/ps.cpu -mutexprofile /tmp/ps.mutex -blockprofile /tmp/ps.block
//	go tool pprof -top -focus 'mochi-mqtt|iotcore-local/(hooks|listener|auth)' /tmp/ps.cpu
//	go tool pprof -top /tmp/ps.mutex
//
// Each has a StockMochi twin (the same load against stock Mochi in this process), so that the
// two profiles can be compared line by line.
func BenchmarkPubSubQoS1(b *testing.B) {
	benchPubSub(b, 1, 20, 1, 1000)
}

func BenchmarkPubSubQoS1StockMochi(b *testing.B)       { benchPubSubOn(b, false, 1, 20, 1, 1000) }
func BenchmarkPubSubQoS0StockMochi(b *testing.B)       { benchPubSubOn(b, false, 0, 20, 1, 1000) }
func BenchmarkPubSubFanOutQoS1StockMochi(b *testing.B) { benchPubSubOn(b, false, 1, 1, 20, 20000) }
func BenchmarkPubSubFanOutQoS0StockMochi(b *testing.B) { benchPubSubOn(b, false, 0, 1, 20, 20000) }

// BenchmarkPubSubQoS0 is BenchmarkPubSubQoS1 at QoS 0.
func BenchmarkPubSubQoS0(b *testing.B) {
	benchPubSub(b, 0, 20, 1, 1000)
}

// BenchmarkPubSubFanOutQoS1 is 1 publisher → 20 subscribers, 20 000 messages per operation:
// the per-delivery path (iot:Receive, outbound packet hooks).
func BenchmarkPubSubFanOutQoS1(b *testing.B) {
	benchPubSub(b, 1, 1, 20, 20000)
}

// BenchmarkPubSubFanOutQoS0 is BenchmarkPubSubFanOutQoS1 at QoS 0.
func BenchmarkPubSubFanOutQoS0(b *testing.B) {
	benchPubSub(b, 0, 1, 20, 20000)
}

func benchPubSub(b *testing.B, qos byte, pubs, subs, perPub int) {
	benchPubSubOn(b, true, qos, pubs, subs, perPub)
}

// benchPubSubOn runs the load against an in-process emulator, or stock Mochi.
func benchPubSubOn(b *testing.B, emulated bool, qos byte, pubs, subs, perPub int) {
	var tg bench.Target
	if emulated {
		_, tg = inProcessEmulator(b, pubs+subs)
	} else {
		tg = inProcessStockMochi(b, pubs+subs)
	}
	var delivered, lost uint64
	b.ResetTimer()
	for b.Loop() {
		res, err := bench.RunPubSub(context.Background(), bench.PubSubConfig{Target: tg, Publishers: pubs, Subscribers: subs,
			QoS: qos, Messages: perPub, Duration: time.Minute})
		if err != nil {
			b.Fatal(err)
		}
		delivered += res.Received
		lost += res.Lost
	}
	b.StopTimer()
	b.ReportMetric(float64(delivered)/b.Elapsed().Seconds(), "delivered/s")
	b.ReportMetric(float64(lost)/float64(b.N), "lost/op")
}

// BenchmarkPubSubOneQoS1 is the default shape, 1 publisher → 1 subscriber at QoS 1, 20 000
// messages per operation: what the emulator adds per QoS 1 message with nothing else going on.
// Its StockMochi twin runs the same load against stock Mochi:
//
//	go test ./bench/compare -run '^$' -bench 'PubSubOneQoS1$' -benchtime 10x -cpuprofile /tmp/one.cpu
//	go test ./bench/compare -run '^$' -bench 'PubSubOneQoS1StockMochi' -benchtime 10x -cpuprofile /tmp/one-mochi.cpu
func BenchmarkPubSubOneQoS1(b *testing.B)           { benchPubSub(b, 1, 1, 1, 20000) }
func BenchmarkPubSubOneQoS1StockMochi(b *testing.B) { benchPubSubOn(b, false, 1, 1, 1, 20000) }
