package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/iotcore-local/iotcore-local/emulator"
	"github.com/iotcore-local/iotcore-local/rules"
)

// benchPublish publishes n QoS 1 messages from one mTLS paho client, at most window
// unacknowledged, and returns when every PUBACK is in.
func benchPublish(b *testing.B, c paho.Client, topic string, n, window int) {
	toks := make(chan paho.Token, window)
	done := make(chan struct{})
	go func() {
		for tok := range toks {
			tok.Wait()
			if err := tok.Error(); err != nil {
				b.Error(err)
			}
		}
		close(done)
	}()
	for i := range n {
		toks <- c.Publish(topic, 1, false, fmt.Sprintf(`{"v": %d, "pad": "0123456789abcdef"}`, i+1))
	}
	close(toks)
	<-done
}

// BenchmarkRuleSelectWhereRepublish: messages/s through a SELECT/WHERE + republish rule, from a
// device's QoS 1 PUBLISH to the delivery of the rule's republished message to a subscriber.
func BenchmarkRuleSelectWhereRepublish(b *testing.B) {
	emu := startRulesEmulatorB(b)
	if err := emu.Rules().CreateRule("bench", benchPayload(b, `{"sql":"SELECT v, topic(2) AS device, v * 2 AS doubled FROM 'things/+/in' WHERE v > 0","awsIotSqlVersion":"2016-03-23","actions":[{"republish":{"roleArn":"arn:aws:iam::1:role/r","topic":"things/${topic(2)}/out"}}]}`), nil); err != nil {
		b.Fatal(err)
	}
	pubc, subc := benchClients(b, emu)
	var got atomic.Int64
	all := make(chan struct{})
	target := int64(b.N)
	if tok := subc.Subscribe("things/b1/out", 0, func(paho.Client, paho.Message) {
		if got.Add(1) == target {
			close(all)
		}
	}); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		b.Fatal("subscribe", tok.Error())
	}
	b.ResetTimer()
	start := time.Now()
	benchPublish(b, pubc, "things/b1/in", b.N, 256)
	select {
	case <-all:
	case <-time.After(60 * time.Second):
		b.Fatalf("%d of %d republished messages arrived (%d dropped by a full rules queue)", got.Load(), b.N, emu.Rules().Dropped())
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
	b.ReportMetric(float64(emu.Rules().Dropped()), "dropped")
}

// BenchmarkBrokerQoS1WithRules: the broker's QoS 1 throughput (publish → PUBACK, one
// subscriber receiving) with no rule, and with 10 enabled rules whose FROM matches every
// message (evaluated by the engine's workers, off the broker's path).
func BenchmarkBrokerQoS1WithRules(b *testing.B) {
	for _, n := range []int{0, 10} {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			emu := startRulesEmulatorB(b)
			for i := range n {
				p := benchPayload(b, `{"sql":"SELECT v FROM 'things/#' WHERE v < 0","actions":[{"republish":{"roleArn":"arn:aws:iam::1:role/r","topic":"things/never"}}]}`)
				if err := emu.Rules().CreateRule(fmt.Sprintf("r%d", i), p, nil); err != nil {
					b.Fatal(err)
				}
			}
			pubc, subc := benchClients(b, emu)
			var got atomic.Int64
			all := make(chan struct{})
			target := int64(b.N)
			if tok := subc.Subscribe("things/b1/in", 0, func(paho.Client, paho.Message) {
				if got.Add(1) == target {
					close(all)
				}
			}); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
				b.Fatal("subscribe", tok.Error())
			}
			b.ResetTimer()
			start := time.Now()
			benchPublish(b, pubc, "things/b1/in", b.N, 256)
			select {
			case <-all:
			case <-time.After(60 * time.Second):
				b.Fatalf("%d of %d messages arrived", got.Load(), b.N)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
		})
	}
}

func benchPayload(b *testing.B, s string) *rules.Payload {
	p, err := rules.ParsePayload([]byte(s))
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// startRulesEmulatorB starts an emulator for a benchmark, logging warnings only.
func startRulesEmulatorB(b *testing.B) *emulator.Emulator {
	cfg := emulator.TestConfig(b.TempDir())
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	emu, err := emulator.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := emu.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { emu.Close() })
	return emu
}

// benchClients connects a publishing and a subscribing device (MQTT 3.1.1 over mTLS).
func benchClients(b *testing.B, emu *emulator.Emulator) (pub, sub paho.Client) {
	var out []paho.Client
	for _, name := range []string{"b1", "b2"} {
		d, err := emu.CreateDevice(name, rulesPolicy)
		if err != nil {
			b.Fatal(err)
		}
		tc, err := d.TLSConfig()
		if err != nil {
			b.Fatal(err)
		}
		opts := paho.NewClientOptions().AddBroker("ssl://" + emu.MQTTAddr()).SetClientID(name).SetTLSConfig(tc).
			SetProtocolVersion(4).SetAutoReconnect(false).SetKeepAlive(60 * time.Second).SetOrderMatters(false)
		c := paho.NewClient(opts)
		if tok := c.Connect(); !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
			b.Fatal("connect", tok.Error())
		}
		b.Cleanup(func() { c.Disconnect(100) })
		out = append(out, c)
	}
	return out[0], out[1]
}
