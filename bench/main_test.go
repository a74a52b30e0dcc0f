package bench

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"log/slog"
	"math/big"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/iotcore-local/iotcore-local/emulator"
)

// The tests share one in-process emulator and one provisioned fleet: issuing RSA-2048 device
// certificates is the slow part, and every scenario only needs a few devices.
var (
	shared struct {
		once  sync.Once
		emu   *emulator.Emulator
		dir   string
		fleet *Fleet
		err   error
	}
)

// fleetSize is how many devices the tests provision.
const fleetSize = 8

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.emu != nil {
		shared.emu.Close()
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// testEmulator starts the shared emulator and provisions the fleet through its HTTP API, once.
func testEmulator(t *testing.T) (*emulator.Emulator, *Fleet) {
	t.Helper()
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "bench-test-")
		if shared.err != nil {
			return
		}
		cfg := emulator.TestConfig(shared.dir)
		cfg.Logger = slog.New(slog.DiscardHandler)
		shared.emu, shared.err = emulator.New(cfg)
		if shared.err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if shared.err = shared.emu.Start(ctx); shared.err != nil {
			return
		}
		shared.fleet, shared.err = Provision(ctx, ProvisionConfig{APIURL: shared.emu.APIURL(), Devices: fleetSize})
	})
	if shared.err != nil {
		t.Fatalf("test emulator: %v", shared.err)
	}
	return shared.emu, shared.fleet
}

// emulatorTarget is a target for the shared emulator on its 8883-style port, or on the ALPN
// port offering x-amzn-mqtt-ca.
func emulatorTarget(t *testing.T, alpn bool) Target {
	t.Helper()
	emu, fleet := testEmulator(t)
	devices, err := fleet.Devices()
	if err != nil {
		t.Fatal(err)
	}
	pool, err := fleet.RootCAs()
	if err != nil {
		t.Fatal(err)
	}
	tg := Target{Address: emu.MQTTAddr(), ServerName: "localhost", RootCAs: pool, Devices: devices, KeepAlive: 30 * time.Second}
	if alpn {
		tg.Address, tg.ALPN = emu.ALPNAddr(), []string{ProtocolMQTTCA}
	}
	return tg
}

// strangerCertificate is a self-signed client certificate no registry knows.
func strangerCertificate(t *testing.T) *tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(9), Subject: pkix.Name{CommonName: "stranger"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// testContext bounds a scenario test.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// testLogger sends the package's logs to the test log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// must fails the test on err.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
