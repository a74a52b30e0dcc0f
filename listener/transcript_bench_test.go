//go:build unix

package listener

import (
	"crypto/tls"
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// processCPU is the CPU time the process has used (user + system, every thread: the GC too), so
// a benchmark can report CPU per operation, which other load on the machine barely changes.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkTranscriptConnection is what recording one accepted MQTT connection costs the
// listener and the hooks, with the transcript kept (steps recorded, stored per client id) and
// without (Config.Transcripts nil: only the fields and the log record's snapshot): the same calls
// the listener makes from accept to disconnect, without the network and TLS work around them.
func BenchmarkTranscriptConnection(b *testing.B) {
	hello := &tls.ClientHelloInfo{
		ServerName: "localhost", SupportedProtos: []string{ProtocolMQTTCA},
		SupportedVersions: []uint16{tls.VersionTLS13, tls.VersionTLS12},
		CipherSuites:      []uint16{tls.TLS_AES_128_GCM_SHA256, tls.TLS_AES_256_GCM_SHA384, tls.TLS_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
		SupportedCurves:   []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256},
	}
	st := tls.ConnectionState{Version: tls.VersionTLS13, CipherSuite: tls.TLS_AES_128_GCM_SHA256, CurveID: tls.X25519, NegotiatedProtocol: ProtocolMQTTCA}
	r := rules{kind: KindALPN}
	for _, tc := range []struct {
		name    string
		kept    bool
		clients int // distinct client ids, cycled
	}{{"on", true, 500}, {"on-burst-of-5000-ids", true, 5000}, {"off", false, 500}} {
		kept := tc.kept
		b.Run(tc.name, func(b *testing.B) {
			var store *Transcripts
			if kept {
				store = NewTranscripts(1000)
			}
			b.ReportAllocs()
			i := 0
			cpu := processCPU()
			for b.Loop() {
				i++
				recordConnection(store, hello, st, r, fmt.Sprintf("bench-%d", i%tc.clients))
			}
			b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// recordConnection makes the transcript calls of one accepted MQTT connection.
func recordConnection(store *Transcripts, hello *tls.ClientHelloInfo, st tls.ConnectionState, r rules, client string) {
	t := newTranscript("alpn", "127.0.0.1:40000", nil, store)
	t.setHello(hello.ServerName, hello.SupportedProtos)
	p, ok := r.choose(hello.SupportedProtos)
	if t.keepsSteps() { // as configForClient: the detail is made when the record is read
		h := helloFactsOf(hello, []tls.CurveID{tls.X25519}, true)
		t.StepLazy(StepClientHello, func() string { return h.step() + "; " + decisionStep(r, h.protos, p, ok) })
	}
	t.setPersonality(p.name, true)
	t.setHandshake(st.NegotiatedProtocol, "e1234b2ec6600af2c3bf1d53dddb92867e792d0d3010c2836a2b94173934b141", "ACTIVE", true)
	t.setTLS(tls.VersionName(st.Version), cipherName(st.CipherSuite))
	if t.keepsSteps() {
		version, suite, curve, alpn := st.Version, st.CipherSuite, st.CurveID, st.NegotiatedProtocol
		t.StepLazy(StepServerHello, func() string { return serverHelloText(version, suite, curve, alpn) })
		t.Step(StepCertificateRequest, "the server asked for a client certificate (personality mqtt)")
		t.Step(StepClientCertificate, "subject \"CN=AWS IoT Certificate\"; issuer …; registered, ACTIVE; thing bench")
	}
	t.SetClient(client)
	t.StepLazy(StepConnect, func() string { // as the hooks' recordConnect
		return "client id \"" + client + "\"; MQTT 3.1.1; keep-alive 60s; clean session true; no will"
	})
	t.Step(StepConnectDecision, "allowed: policy \"bench\" statement 0 allows iot:Connect on arn:aws:iot:us-east-1:123456789012:client/"+client)
	t.Finish(OutcomeOK, "connected")
	t.Disconnected("CLIENT_INITIATED_DISCONNECT", "the client sent DISCONNECT")
}

// BenchmarkTranscriptStoreMemory reports the heap a full store holds: 1000 client ids with
// DefaultPerClient connections each, every record as an accepted MQTT connection leaves it.
func BenchmarkTranscriptStoreMemory(b *testing.B) {
	hello := &tls.ClientHelloInfo{
		ServerName: "localhost", SupportedProtos: []string{ProtocolMQTTCA},
		SupportedVersions: []uint16{tls.VersionTLS13, tls.VersionTLS12},
		CipherSuites:      []uint16{tls.TLS_AES_128_GCM_SHA256, tls.TLS_AES_256_GCM_SHA384, tls.TLS_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
		SupportedCurves:   []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256},
	}
	st := tls.ConnectionState{Version: tls.VersionTLS13, CipherSuite: tls.TLS_AES_128_GCM_SHA256, CurveID: tls.X25519, NegotiatedProtocol: ProtocolMQTTCA}
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		store := NewTranscripts(1000)
		n := 1000 * DefaultPerClient
		for i := range n {
			recordConnection(store, hello, st, rules{kind: KindALPN}, fmt.Sprintf("device-%d", i%1000))
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(n), "heap-B/record")
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "heap-MiB/full-store")
		runtime.KeepAlive(store)
	}
}
