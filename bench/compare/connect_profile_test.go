package main

import (
	"context"
	"testing"

	"github.com/iotcore-local/iotcore-local/bench"
)

// BenchmarkConnectChurn connects 500 provisioned devices to an in-process emulator (profile aws,
// policies on), 32 in flight, each closed after its CONNACK, per operation — the connect
// scenario of the comparison, in one process so that a CPU profile shows the server's share:
//
//	go test ./bench/compare -run '^$' -bench ConnectChurn -benchtime 6x -cpuprofile /tmp/conn.cpu
//	go tool pprof -top -focus 'mqtt.\(\*Server\)|hooks\.|listener\.' /tmp/conn.cpu
func BenchmarkConnectChurn(b *testing.B) {
	const n = 500
	_, tg := inProcessEmulator(b, n)
	var ok int
	b.ResetTimer()
	for b.Loop() {
		res, err := bench.RunConnect(context.Background(), bench.ConnectConfig{Target: tg, Devices: n, Concurrency: 32, Churn: true})
		if err != nil {
			b.Fatal(err)
		}
		if res.Failed > 0 {
			b.Fatalf("%d of %d connections failed", res.Failed, res.Attempted)
		}
		ok += res.Succeeded
	}
	b.StopTimer()
	b.ReportMetric(float64(ok)/b.Elapsed().Seconds(), "connects/s")
}
