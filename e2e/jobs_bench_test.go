package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/iotcore-local/iotcore-local/emulator"
)

// startEmulatorB is startEmulator for benchmarks, with the log discarded.
func startEmulatorB(b *testing.B) *emulator.Emulator {
	b.Helper()
	cfg := emulator.TestConfig(b.TempDir())
	cfg.Logger = slog.New(slog.DiscardHandler)
	emu, err := emulator.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := emu.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = emu.Close() })
	return emu
}

// BenchmarkJobUpdatesOverMQTT measures job-execution updates per second over MQTT: 8 devices
// on their own TLS connections each hold an IN_PROGRESS execution and send
// $aws/things/T/jobs/J/update (IN_PROGRESS with new statusDetails) one after the other, each
// waiting for its update/accepted. One operation is one answered update.
func BenchmarkJobUpdatesOverMQTT(b *testing.B) {
	const devices = 8
	emu := startEmulatorB(b)
	ctl := iotClientAt(awsConfig(awsKey(sigv4Key, sigv4Secret), nil), emu.APIURL())
	type conn struct {
		c     paho.Client
		thing string
		acks  chan string
	}
	conns := make([]*conn, devices)
	for i := range conns {
		name := fmt.Sprintf("bench-dev-%d", i)
		d, err := emu.CreateDevice(name, jobsPolicy(name))
		if err != nil {
			b.Fatal(err)
		}
		cn := &conn{thing: name, acks: make(chan string, 16)}
		cfg, err := d.TLSConfig()
		if err != nil {
			b.Fatal(err)
		}
		opts := paho.NewClientOptions().AddBroker("ssl://" + emu.MQTTAddr()).SetClientID(name).SetTLSConfig(cfg).
			SetProtocolVersion(4).SetAutoReconnect(false).SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
			cn.acks <- m.Topic()
		})
		cn.c = paho.NewClient(opts)
		if tok := cn.c.Connect(); !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
			b.Fatalf("connect: %v", tok.Error())
		}
		defer cn.c.Disconnect(100)
		conns[i] = cn
	}
	var targets []string
	for _, cn := range conns {
		targets = append(targets, thingARN(cn.thing))
	}
	if _, err := ctl.CreateJob(b.Context(), &iot.CreateJobInput{JobId: aws.String("bench"), Targets: targets, Document: aws.String(`{"op":"bench"}`)}); err != nil {
		b.Fatal(err)
	}
	send := func(cn *conn, payload string) {
		topic := "$aws/things/" + cn.thing + "/jobs/bench/update"
		cn.c.Publish(topic, 0, false, payload)
		select {
		case got := <-cn.acks:
			if !strings.HasSuffix(got, "/update/accepted") {
				b.Errorf("answer on %s", got)
			}
		case <-time.After(10 * time.Second):
			b.Error("no answer")
		}
	}
	for _, cn := range conns {
		send(cn, `{"status":"IN_PROGRESS"}`)
	}
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	per := (b.N + devices - 1) / devices
	for _, cn := range conns {
		wg.Add(1)
		go func(cn *conn) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				send(cn, fmt.Sprintf(`{"status":"IN_PROGRESS","statusDetails":{"n":"%d"}}`, i))
			}
		}(cn)
	}
	wg.Wait()
	b.ReportMetric(float64(per*devices)/time.Since(start).Seconds(), "updates/s")
}
