package main

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/iotcore-local/iotcore-local/bench"
)

// BenchmarkConnectChurn connects 500 provisioned devices to an in-process emulator (profile aws,
// policies on), 32 in flight, each closed after its CONNACK, per operation — the connect
// scenario of the comparison, in one process so that a CPU profile shows the server's share:
//
//	go test ./bench/compare -run '^$' -bench ConnectChurn -benchtime 8x -cpuprofile /tmp/conn.cpu
//	go tool pprof -top -focus 'mqtt.\(\*Server\)|hooks\.|listener\.' /tmp/conn.cpu
//
// Every device connects once before the timer starts, so the operations measure reconnecting
// devices (the comparison's rounds after its first). cpu-µs/connect is the CPU time of the
// whole process (client and server, user and system) per connection: the client's share is the
// same for every broker, so BenchmarkConnectChurnStockMochi, the same against stock Mochi in
// this process, gives the difference that is the server's.
func BenchmarkConnectChurn(b *testing.B) {
	const n = 500
	_, tg := inProcessEmulator(b, n)
	benchConnectChurn(b, tg, n)
}

// BenchmarkConnectChurnStockMochi is BenchmarkConnectChurn against stock Mochi (allow-all, its
// own TLS listener with client certificates required).
func BenchmarkConnectChurnStockMochi(b *testing.B) {
	const n = 500
	benchConnectChurn(b, inProcessStockMochi(b, n), n)
}

func benchConnectChurn(b *testing.B, tg bench.Target, n int) {
	run := func() int {
		res, err := bench.RunConnect(context.Background(), bench.ConnectConfig{Target: tg, Devices: n, Concurrency: 32, Churn: true})
		if err != nil {
			b.Fatal(err)
		}
		if res.Failed > 0 {
			b.Fatalf("%d of %d connections failed", res.Failed, res.Attempted)
		}
		return res.Succeeded
	}
	run() // every device connects once: the registry reads and policy compiles of a first connect
	var ok int
	cpu0 := processCPU(b)
	b.ResetTimer()
	for b.Loop() {
		ok += run()
	}
	b.StopTimer()
	b.ReportMetric(float64(ok)/b.Elapsed().Seconds(), "connects/s")
	b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/float64(ok), "cpu-µs/connect")
}

// processCPU is the user and system CPU time the process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
