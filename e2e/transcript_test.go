package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iotcore-local/iotcore-local/emulator"
	"github.com/iotcore-local/iotcore-local/listener"
)

// stepsOf lists the step names of a record.
func stepsOf(r listener.Record) []string {
	var out []string
	for _, s := range r.Steps {
		out = append(out, s.Step)
	}
	return out
}

// stepDetail returns the detail of the first step with the name.
func stepDetail(r listener.Record, name string) string {
	for _, s := range r.Steps {
		if s.Step == name {
			return s.Detail
		}
	}
	return ""
}

// TestTranscriptMQTTLifecycle: an accepted MQTT connection's record holds every step in order,
// is "ok" while open and after a clean DISCONNECT, and a refused publish makes it AUTH_ERROR.
func TestTranscriptMQTTLifecycle(t *testing.T) {
	emu := startEmulator(t, "")
	good := device(t, emu, "tx-good")
	c, err := connectPaho(t, emu.ALPNAddr(), "tx-good", tlsConfig(t, good, listener.ProtocolMQTTCA), nil)
	if err != nil {
		t.Fatal(err)
	}
	open := transcriptFor(t, emu, func(r listener.Record) bool { return r.ClientID == "tx-good" && r.Outcome != "" })
	if open.Outcome != listener.OutcomeOK || !open.Open {
		t.Errorf("open connection: outcome %q open %t; want ok and open", open.Outcome, open.Open)
	}
	c.Disconnect(250)
	rec := transcriptFor(t, emu, func(r listener.Record) bool { return r.ClientID == "tx-good" && !r.Open })
	want := []string{listener.StepTCPAccepted, listener.StepClientHello, listener.StepServerHello, listener.StepCertificateRequest,
		listener.StepClientCertificate, listener.StepConnect, listener.StepConnectDecision, listener.StepDisconnect}
	if got := stepsOf(rec); !slices.Equal(got, want) {
		t.Errorf("steps %v\nwant %v", got, want)
	}
	if rec.Outcome != listener.OutcomeOK || rec.TLSVersion != "TLS 1.3" || rec.CipherSuite == "" || rec.SNI != "localhost" ||
		rec.ALPNSelected != listener.ProtocolMQTTCA || rec.Personality != listener.PersonalityMQTT {
		t.Errorf("record %+v", rec)
	}
	for name, substr := range map[string]string{
		listener.StepClientHello:       "ALPN x-amzn-mqtt-ca; versions TLS 1.3",
		listener.StepServerHello:       "ALPN x-amzn-mqtt-ca",
		listener.StepClientCertificate: "thing tx-good",
		listener.StepConnect:           `client id "tx-good"`,
		listener.StepConnectDecision:   "allowed: policy",
		listener.StepDisconnect:        "CLIENT_INITIATED_DISCONNECT",
	} {
		if d := stepDetail(rec, name); !strings.Contains(d, substr) {
			t.Errorf("step %s = %q; want it to contain %q", name, d, substr)
		}
	}
	if d := stepDetail(rec, listener.StepClientHello); !strings.Contains(d, "key shares") || !strings.Contains(d, "a client certificate will be requested") {
		t.Errorf("ClientHello step %q lacks the key shares or the certificate decision", d)
	}
	for i := 1; i < len(rec.Steps); i++ {
		if rec.Steps[i].At.Before(rec.Steps[i-1].At) {
			t.Errorf("step %d is earlier than step %d", i, i-1)
		}
	}

	// A refused publish closes the connection (profile aws): AUTH_ERROR, with the refusal.
	lost := make(chan error, 1)
	bad, err := connectPaho(t, emu.ALPNAddr(), "tx-good", tlsConfig(t, good, listener.ProtocolMQTTCA), func(err error) { lost <- err })
	if err != nil {
		t.Fatal(err)
	}
	bad.Publish("forbidden/topic", 0, false, "x")
	select {
	case <-lost:
	case <-time.After(10 * time.Second):
		t.Fatal("connection not closed after a refused publish")
	}
	rec = transcriptFor(t, emu, func(r listener.Record) bool { return r.ClientID == "tx-good" && r.Outcome == "AUTH_ERROR" })
	if got := stepsOf(rec); !slices.Contains(got, listener.StepRefused) || got[len(got)-1] != listener.StepDisconnect {
		t.Errorf("steps %v; want a refusal then the disconnect", got)
	}
	if d := stepDetail(rec, listener.StepRefused); !strings.Contains(d, "publish to forbidden/topic refused") {
		t.Errorf("refusal %q", d)
	}
}

// TestTranscriptTakeover: the connection another one with the same client id replaces ends
// DUPLICATE_CLIENTID.
func TestTranscriptTakeover(t *testing.T) {
	emu := startEmulator(t, "")
	d := device(t, emu, "tx-twin")
	lost := make(chan error, 1)
	if _, err := connectPaho(t, emu.MQTTAddr(), "tx-twin", tlsConfig(t, d), func(err error) { lost <- err }); err != nil {
		t.Fatal(err)
	}
	if _, err := connectPaho(t, emu.MQTTAddr(), "tx-twin", tlsConfig(t, d), nil); err != nil {
		t.Fatal(err)
	}
	<-lost
	rec := transcriptFor(t, emu, func(r listener.Record) bool { return r.ClientID == "tx-twin" && r.Outcome == "DUPLICATE_CLIENTID" })
	if !strings.Contains(stepDetail(rec, listener.StepDisconnect), "took over") {
		t.Errorf("disconnect step %q", stepDetail(rec, listener.StepDisconnect))
	}
}

// TestTranscriptFailures: each failure cause, and the HTTPS personality, as records.
func TestTranscriptFailures(t *testing.T) {
	emu := startEmulator(t, "")
	d := device(t, emu, "tx-fail")
	dial := func(cfg *tls.Config) error {
		c, err := tls.Dial("tcp", emu.ALPNAddr(), cfg)
		if err == nil {
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err = c.Read(make([]byte, 1))
			c.Close()
		}
		return err
	}
	// An ALPN nobody serves.
	// The SNIs below only mark the records; the first and third clients skip verification.
	_ = dial(&tls.Config{InsecureSkipVerify: true, ServerName: "unserved.localhost", NextProtos: []string{"nope"}})
	rec := transcriptFor(t, emu, func(r listener.Record) bool { return r.SNI == "unserved.localhost" })
	if rec.Outcome != listener.OutcomeAlert || !strings.Contains(stepDetail(rec, listener.StepAlert), "no_application_protocol") ||
		!strings.Contains(stepDetail(rec, listener.StepClientHello), "no personality of this listener serves ALPN nope") {
		t.Errorf("unserved ALPN record %+v", rec)
	}
	// A TLS 1.3 client that does not trust the server certificate.
	_ = dial(&tls.Config{RootCAs: nil, ServerName: "untrusting.localhost", NextProtos: []string{listener.ProtocolMQTTCA}, MinVersion: tls.VersionTLS13})
	rec = transcriptFor(t, emu, func(r listener.Record) bool { return r.SNI == "untrusting.localhost" && r.Outcome != "" })
	if rec.Outcome != listener.OutcomeAlert || !strings.Contains(rec.Detail, "rejected the server certificate") {
		t.Errorf("untrusting client: %q %q", rec.Outcome, rec.Detail)
	}
	// A TLS 1.3 certificate personality without a certificate.
	_ = dial(&tls.Config{InsecureSkipVerify: true, ServerName: "nocert.localhost", NextProtos: []string{listener.ProtocolMQTTCA}})
	rec = transcriptFor(t, emu, func(r listener.Record) bool { return r.SNI == "nocert.localhost" && r.Outcome != "" })
	if rec.Outcome != listener.OutcomeAlert || !strings.Contains(rec.Detail, "certificate_required") || rec.TLSVersion != "TLS 1.3" {
		t.Errorf("no certificate: %+v", rec)
	}
	// The HTTPS personality: handed to the HTTP server.
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: rootPool(t, emu), ServerName: "localhost"}}}
	resp, err := hc.Get("https://" + emu.ALPNAddr() + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	hc.CloseIdleConnections()
	rec = transcriptFor(t, emu, func(r listener.Record) bool { return r.Personality == listener.PersonalityHTTPS })
	if rec.Outcome != listener.OutcomeOK || !slices.Contains(stepsOf(rec), listener.StepHTTP) || rec.Open {
		t.Errorf("https record %+v", rec)
	}
	// The HTTPS personality with a client certificate (x-amzn-http-ca).
	x509 := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConfig(t, d, listener.ProtocolHTTPCA), ForceAttemptHTTP2: false}}
	resp, err = x509.Get("https://" + emu.ALPNAddr() + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	x509.CloseIdleConnections()
	rec = transcriptFor(t, emu, func(r listener.Record) bool { return r.Personality == listener.PersonalityHTTPSX509 })
	if rec.Outcome != listener.OutcomeOK || rec.ALPNSelected != listener.ProtocolHTTPCA || rec.CertificateID != d.CertificateID ||
		!strings.Contains(stepDetail(rec, listener.StepClientCertificate), "thing tx-fail") {
		t.Errorf("https-x509 record %+v", rec)
	}
	// A refused CONNECT: iot:Connect denied for another client id.
	if got, _ := rawConnect(t, emu.ALPNAddr(), "not-tx-fail", tlsConfig(t, d, listener.ProtocolMQTTCA)); len(got) != 0 {
		t.Fatalf("CONNACK %x for a denied client id", got)
	}
	rec = transcriptFor(t, emu, func(r listener.Record) bool { return r.ClientID == "not-tx-fail" && r.Outcome != "" })
	if rec.Outcome != "refused" || !strings.Contains(stepDetail(rec, listener.StepConnectDecision), "denied") ||
		!slices.Contains(stepsOf(rec), listener.StepRefused) {
		t.Errorf("refused CONNECT record %+v", rec)
	}

	// Filters, over the HTTP API.
	for q, check := range map[string]func(listener.Record) bool{
		"clientId=not-tx-fail":             func(r listener.Record) bool { return r.ClientID == "not-tx-fail" },
		"outcome=alert":                    func(r listener.Record) bool { return r.Outcome == listener.OutcomeAlert },
		"personality=https":                func(r listener.Record) bool { return r.Personality == listener.PersonalityHTTPS },
		"certificateId=" + d.CertificateID: func(r listener.Record) bool { return r.CertificateID == d.CertificateID },
	} {
		recs := getRecords(t, emu, q)
		if len(recs) == 0 {
			t.Errorf("?%s: nothing", q)
		}
		for _, r := range recs {
			if !check(r) {
				t.Errorf("?%s returned %+v", q, r)
			}
		}
	}
	resp, err = http.Get(emu.APIURL() + "/_iotcore/connections?clientid=x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("misspelt filter: status %d, want 400", resp.StatusCode)
	}
}

// TestTranscriptOpenSSLRejectsServer: OpenSSL's TLS 1.3 client rejecting the server certificate
// reads on the server as "bad record MAC"; the record explains it.
func TestTranscriptOpenSSLRejectsServer(t *testing.T) {
	needTools(t, "openssl")
	emu := startEmulator(t, "")
	other := selfSignedPEM(t)
	cmd := exec.Command("openssl", "s_client", "-connect", emu.ALPNAddr(), "-servername", "openssl-reject.localhost",
		"-alpn", "http/1.1", "-tls1_3", "-CAfile", other, "-verify_return_error")
	cmd.Stdin = strings.NewReader("")
	_ = cmd.Run() // fails: the point of the test
	rec := transcriptFor(t, emu, func(r listener.Record) bool { return r.SNI == "openssl-reject.localhost" && r.Outcome != "" })
	if rec.Outcome != listener.OutcomeAlert || !strings.Contains(rec.Detail, "rejected the server certificate") {
		t.Errorf("record %q %q", rec.Outcome, rec.Detail)
	}
}

// TestTranscriptStream: the SSE stream sends a record for a new connection of the filtered client.
func TestTranscriptStream(t *testing.T) {
	emu := startEmulator(t, "")
	d := device(t, emu, "tx-sse")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// A page of another origin cannot read the stream.
	foreign, _ := http.NewRequestWithContext(ctx, http.MethodGet, emu.APIURL()+"/_iotcore/connections/stream", nil)
	foreign.Header.Set("Origin", "http://attacker.example")
	if resp, err := http.DefaultClient.Do(foreign); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site stream request: %d, want 403", resp.StatusCode)
		}
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, emu.APIURL()+"/_iotcore/connections/stream?clientId=tx-sse", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	if _, err := connectPaho(t, emu.MQTTAddr(), "tx-sse", tlsConfig(t, d), nil); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		var r listener.Record
		if err := json.Unmarshal([]byte(data), &r); err != nil {
			t.Fatalf("stream data %q: %v", data, err)
		}
		if r.ClientID != "tx-sse" {
			t.Fatalf("stream sent another client's record: %+v", r)
		}
		if r.Outcome == listener.OutcomeOK {
			return
		}
	}
	t.Fatalf("stream ended without the record: %v", sc.Err())
}

func getRecords(t *testing.T, emu *emulator.Emulator, query string) []listener.Record {
	t.Helper()
	resp, err := http.Get(emu.APIURL() + "/_iotcore/connections?" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var recs []listener.Record
	if err := json.NewDecoder(resp.Body).Decode(&recs); err != nil {
		t.Fatal(err)
	}
	return recs
}

// rootPool is a pool holding the emulator's root CA.
func rootPool(t *testing.T, emu *emulator.Emulator) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(emu.RootCAPEM()) {
		t.Fatal("no root CA PEM")
	}
	return pool
}

// selfSignedPEM writes a self-signed certificate (a CA file that trusts nothing of the
// emulator's) and returns its path.
func selfSignedPEM(t *testing.T) string {
	t.Helper()
	c := selfSigned(t)
	path := filepath.Join(t.TempDir(), "other-ca.pem")
	if err := writeFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]})); err != nil {
		t.Fatal(err)
	}
	return path
}
