package listener

import (
	"crypto/tls"
	"fmt"
	"testing"
)

// TestLazyStepsReadLikeEagerOnes checks that a step whose detail is made on reading shows, in
// every read, the detail an eager Step would have recorded, in its place among the other steps,
// and that the step bound still applies.
func TestLazyStepsReadLikeEagerOnes(t *testing.T) {
	hello := &tls.ClientHelloInfo{
		ServerName: "example.iot.local", SupportedProtos: []string{ProtocolMQTTCA},
		SupportedVersions: []uint16{tls.VersionTLS13, tls.VersionTLS12},
		CipherSuites:      []uint16{tls.TLS_AES_128_GCM_SHA256, 0x0a0a, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
		SupportedCurves:   []tls.CurveID{tls.X25519, tls.CurveP256},
	}
	shares := []tls.CurveID{tls.X25519}
	r := rules{kind: KindALPN}
	p, ok := r.choose(hello.SupportedProtos)
	st := tls.ConnectionState{Version: tls.VersionTLS13, CipherSuite: tls.TLS_AES_128_GCM_SHA256, CurveID: tls.X25519, NegotiatedProtocol: ProtocolMQTTCA}

	eager := newTranscript("alpn", "127.0.0.1:1", nil, NewTranscripts(10))
	lazy := newTranscript("alpn", "127.0.0.1:1", nil, NewTranscripts(10))
	eager.Step(StepClientHello, helloStep(hello, shares, true)+"; "+decisionStep(r, hello.SupportedProtos, p, ok))
	h := helloFactsOf(hello, shares, true)
	lazy.StepLazy(StepClientHello, func() string { return h.step() + "; " + decisionStep(r, h.protos, p, ok) })
	eager.Step(StepCertificateRequest, "asked")
	lazy.Step(StepCertificateRequest, "asked")
	eager.Step(StepServerHello, serverHelloStep(st))
	lazy.StepLazy(StepServerHello, func() string {
		return serverHelloText(st.Version, st.CipherSuite, st.CurveID, st.NegotiatedProtocol)
	})
	for _, tr := range []*Transcript{eager, lazy} {
		tr.SetClient("c1")
		tr.Finish(OutcomeOK, "connected")
	}
	calls := 0
	lazy.StepLazy("after finish", func() string { calls++; return "late" })
	eager.Step("after finish", "late")

	for read := range 2 {
		want, got := eager.Record().Steps, lazy.Record().Steps
		if len(got) != len(want) {
			t.Fatalf("read %d: %d steps, want %d", read, len(got), len(want))
		}
		for i := range want {
			if got[i].Step != want[i].Step || got[i].Detail != want[i].Detail {
				t.Errorf("read %d, step %d: got %q %q, want %q %q", read, i, got[i].Step, got[i].Detail, want[i].Step, want[i].Detail)
			}
		}
	}
	if calls != 1 {
		t.Errorf("a lazy detail was made %d times over two reads, want once", calls)
	}

	bounded := newTranscript("alpn", "127.0.0.1:1", nil, NewTranscripts(10))
	for i := range maxSteps + 5 {
		bounded.StepLazy("s", func() string { return fmt.Sprint(i) })
	}
	steps := bounded.Record().Steps
	if len(steps) != maxSteps+1 || steps[maxSteps].Step != "truncated" || steps[maxSteps-1].Detail != fmt.Sprint(maxSteps-2) {
		t.Errorf("bounded steps: %d, last %+v", len(steps), steps[len(steps)-1])
	}
}
