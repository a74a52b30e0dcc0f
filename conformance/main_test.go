// Package conformance checks iotcore-local against the normative statements of MQTT 3.1.1 (and a
// few of MQTT 5) that bind a server, with raw packets written and read over real mutual-TLS
// connections. Every test is named after the statement it checks (TestMQTT_3_1_0_1 is
// [MQTT-3.1.0-1]) and runs once per behaviour profile: "mqtt" must be exactly MQTT 3.1.1, "aws"
// must be MQTT 3.1.1 except where AWS IoT Core documents a deviation. docs/conformance.md is the
// matrix of statements, tests and expected results.
package conformance

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iotcore-local/iotcore-local/emulator"
)

// permissivePolicy allows every action on every resource: conformance is about the protocol, not
// about authorization.
const permissivePolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}`

// deniedPolicy is permissivePolicy except that publishing under denied/ is refused, for the
// statements about refused publishes.
const deniedPolicy = `{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":"iot:*","Resource":"*"},
 {"Effect":"Deny","Action":"iot:Publish","Resource":"arn:aws:iot:us-east-1:123456789012:topic/denied/*"}]}`

// target is one running emulator with one behaviour profile.
type target struct {
	profile string
	aws     bool // profile == "aws"
	emu     *emulator.Emulator
	addr    string      // MQTT over mTLS
	tls     *tls.Config // certificate with permissivePolicy
	denied  *tls.Config // certificate with deniedPolicy
}

// targets are the emulators under test, one per profile, started by TestMain.
var targets []*target

func TestMain(m *testing.M) {
	flag.Parse()
	// Most tests spend their time waiting on the network, not on a CPU: run many at once unless
	// the command line chose otherwise.
	parallelSet := false
	flag.Visit(func(f *flag.Flag) { parallelSet = parallelSet || f.Name == "test.parallel" })
	if !parallelSet {
		_ = flag.Set("test.parallel", "64")
	}
	dir, err := os.MkdirTemp("", "iotcore-conformance-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := run(m, dir)
	os.RemoveAll(dir)
	os.Exit(code)
}

// run starts one emulator per profile, runs the tests and stops the emulators.
func run(m *testing.M, dir string) int {
	for _, profile := range []string{"aws", "mqtt"} {
		tg, err := start(profile, dir+"/"+profile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "start emulator (profile %s): %v\n", profile, err)
			return 1
		}
		defer tg.emu.Close()
		targets = append(targets, tg)
	}
	return m.Run()
}

// start runs an emulator with the given profile and registers the suite's two certificates.
func start(profile, dir string) (*target, error) {
	cfg := emulator.TestConfig(dir)
	cfg.Profile = profile
	logTo := io.Discard
	if os.Getenv("CONFORMANCE_LOG") != "" {
		logTo = os.Stderr
	}
	cfg.Logger = slog.New(slog.NewTextHandler(logTo, &slog.HandlerOptions{Level: slog.LevelDebug})).With("profile", profile)
	emu, err := emulator.New(cfg)
	if err != nil {
		return nil, err
	}
	if err := emu.Start(context.Background()); err != nil {
		return nil, err
	}
	tg := &target{profile: profile, aws: profile == "aws", emu: emu, addr: emu.MQTTAddr()}
	for _, d := range []struct {
		thing, policy string
		cfg           **tls.Config
	}{{"conformance", permissivePolicy, &tg.tls}, {"conformance-denied", deniedPolicy, &tg.denied}} {
		dev, err := emu.CreateDevice(d.thing, d.policy)
		if err != nil {
			emu.Close()
			return nil, err
		}
		if *d.cfg, err = dev.TLSConfig(); err != nil {
			emu.Close()
			return nil, err
		}
	}
	return tg, nil
}

// eachProfile runs check as a subtest per profile; the test itself runs in parallel with the
// other tests.
func eachProfile(t *testing.T, check func(t *testing.T, tg *target)) {
	runProfiles(t, retainGate.RLock, retainGate.RUnlock, check)
}

// eachProfileRetaining is eachProfile for a test that stores retained messages: it runs alone. Mochi v2.7.9 has a data race between storing a retained message
// and scanning retained messages for a new wildcard subscription (TopicsIndex.RetainMessage
// writes a particle's retainPath that scanMessages reads unlocked); the race detector would fail
// unrelated tests that happen to run alongside. The emulator's users are not affected beyond
// what Mochi itself does.
func eachProfileRetaining(t *testing.T, check func(t *testing.T, tg *target)) {
	runProfiles(t, retainGate.Lock, retainGate.Unlock, check)
}

// retainGate keeps retaining tests apart from all others.
var retainGate sync.RWMutex

func runProfiles(t *testing.T, lock, unlock func(), check func(t *testing.T, tg *target)) {
	t.Parallel()
	// The profiles run one after the other inside the gate: a parallel subtest would wait for a
	// slot held by tests that wait for the gate.
	lock()
	defer unlock()
	for _, tg := range targets {
		t.Run(tg.profile, func(t *testing.T) { check(t, tg) })
	}
}

var uniqueCounter atomic.Int64

// unique is a fresh name of letters and digits (a few characters) for client ids and topics.
func unique() string {
	return "cf" + strconv.FormatInt(uniqueCounter.Add(1), 36)
}

// Timing. Positive expectations wait up to waitFor but return as soon as the packet arrives;
// quiet is how long a test waits to be convinced that nothing more will arrive where no
// ordering argument (a ping or a sentinel message) can prove it sooner.
const (
	waitFor = 5 * time.Second
	quiet   = 600 * time.Millisecond
)
