package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"
)

// IdleConfig is the idle scenario: Devices connections are opened and held, pinging at the
// target's keep-alive, for Duration, and the server's memory is read before and after.
type IdleConfig struct {
	Target      Target
	Devices     int
	Concurrency int
	// Duration is how long the connections are held once all attempts are done; default 10 s.
	Duration time.Duration
	// Memory reads the server's memory; nil reports none.
	Memory MemoryProbe
	// Settle is the pause after the last connection before the "connected" memory reading,
	// letting the server finish its per-connection set-up; default 1 s.
	Settle time.Duration
	// AfterHold, if set, runs at the end of the hold, after the last memory reading and before
	// the connections close: a caller's chance to read more of the server's state (the comparison
	// reads the Go runtime's figures after a forced collection there).
	AfterHold func()
	Progress  io.Writer
	Logger    *slog.Logger
}

// DefaultIdleDuration is how long idle connections are held when the config leaves it zero.
const DefaultIdleDuration = 10 * time.Second

// IdleResult is what the idle scenario measured.
type IdleResult struct {
	Target    TargetInfo `json:"target"`
	Requested int        `json:"requested"`
	// Connected is how many connections were established; Held how many were still open at the
	// end of the hold; Dropped how many the server closed meanwhile, by cause in Drops.
	Connected        int            `json:"connected"`
	Held             int            `json:"held"`
	Dropped          int            `json:"dropped"`
	Drops            map[string]int `json:"drops,omitempty"`
	HoldSeconds      float64        `json:"hold_s"`
	KeepAliveSeconds float64        `json:"keepalive_s"`
	Memory           *MemoryResult  `json:"memory,omitempty"`
	Connect          ConnectResult  `json:"connect"`
}

// MemoryResult is the server memory read around an idle run.
type MemoryResult struct {
	Source string `json:"source"`
	// BeforeBytes is read before connecting, ConnectedBytes once every connection is up,
	// AfterBytes at the end of the hold, PeakBytes the largest of the once-a-second readings.
	BeforeBytes    uint64 `json:"before_bytes"`
	ConnectedBytes uint64 `json:"connected_bytes"`
	AfterBytes     uint64 `json:"after_bytes"`
	PeakBytes      uint64 `json:"peak_bytes"`
	// PerConnectionBytes is (AfterBytes − BeforeBytes) / Held.
	PerConnectionBytes float64 `json:"per_connection_bytes"`
}

// RunIdle runs the idle scenario. Failed connections are counted, not fatal: holding what the
// server accepts is the point.
func RunIdle(ctx context.Context, cfg IdleConfig) (*IdleResult, error) {
	if cfg.Devices <= 0 {
		return nil, errors.New("idle: the number of devices must be positive")
	}
	if cfg.Duration <= 0 {
		cfg.Duration = DefaultIdleDuration
	}
	if cfg.Settle <= 0 {
		cfg.Settle = time.Second
	}
	log := loggerOr(cfg.Logger)
	d, err := cfg.Target.prepare(ctx, cfg.Devices)
	if err != nil {
		return nil, fmt.Errorf("idle: %w", err)
	}
	if err := ensureFileLimit(cfg.Devices+64, log); err != nil {
		return nil, fmt.Errorf("idle: %w", err)
	}
	var mem *MemoryResult
	if cfg.Memory != nil {
		before, err := cfg.Memory.Read()
		if err != nil {
			return nil, fmt.Errorf("idle: %w", err)
		}
		mem = &MemoryResult{Source: cfg.Memory.Source(), BeforeBytes: before, PeakBytes: before}
	}

	stats := newConnectStats()
	var mu sync.Mutex
	var opened []*client
	snapshot := func() []*client { mu.Lock(); defer mu.Unlock(); return append([]*client(nil), opened...) }
	defer func() { closeAll(snapshot(), true) }()
	kctx, cancelKeep := context.WithCancel(ctx)
	var keepWG sync.WaitGroup
	keepWG.Add(1)
	go func() { defer keepWG.Done(); keepAlive(kctx, snapshot, d.t.KeepAlive) }()
	defer func() { cancelKeep(); keepWG.Wait() }()

	phase := "connecting"
	var phaseMu sync.Mutex
	stopProgress := startProgress(cfg.Progress, "idle", func(time.Duration) string {
		phaseMu.Lock()
		defer phaseMu.Unlock()
		alive := 0
		for _, c := range snapshot() {
			if c.alive() {
				alive++
			}
		}
		return fmt.Sprintf("%s: %d/%d open, %d failed", phase, alive, cfg.Devices, stats.failed.Load())
	})
	defer stopProgress()
	connectMany(ctx, d, 0, cfg.Devices, cfg.Concurrency, stats, log, func(c *client) {
		c.start(handlers{})
		mu.Lock()
		opened = append(opened, c)
		mu.Unlock()
	})
	res := &IdleResult{Target: d.info(), Requested: cfg.Devices, KeepAliveSeconds: d.t.KeepAlive.Seconds(),
		Connect: stats.result(cfg.Devices, cfg.Concurrency)}
	res.Connected = res.Connect.Succeeded

	sleep(ctx, cfg.Settle)
	if mem != nil {
		if mem.ConnectedBytes, err = cfg.Memory.Read(); err != nil {
			return nil, fmt.Errorf("idle: %w", err)
		}
		mem.PeakBytes = max(mem.PeakBytes, mem.ConnectedBytes)
	}
	phaseMu.Lock()
	phase = "holding"
	phaseMu.Unlock()
	holdStart := time.Now()
	holdEnd := holdStart.Add(cfg.Duration)
	for ctx.Err() == nil && time.Now().Before(holdEnd) {
		sleep(ctx, min(time.Second, time.Until(holdEnd)))
		if mem != nil && time.Now().Before(holdEnd) {
			if v, err := cfg.Memory.Read(); err == nil {
				mem.PeakBytes = max(mem.PeakBytes, v)
			}
		}
	}
	res.HoldSeconds = time.Since(holdStart).Seconds()
	stopProgress()
	drops := map[string]int{}
	for _, c := range snapshot() {
		if c.alive() {
			res.Held++
		} else {
			drops[c.readError()]++
		}
	}
	res.Dropped = res.Connected - res.Held
	if len(drops) > 0 {
		res.Drops = drops
	}
	if mem != nil {
		if mem.AfterBytes, err = cfg.Memory.Read(); err != nil {
			return nil, fmt.Errorf("idle: %w", err)
		}
		mem.PeakBytes = max(mem.PeakBytes, mem.AfterBytes)
		if res.Held > 0 && mem.AfterBytes > mem.BeforeBytes {
			mem.PerConnectionBytes = float64(mem.AfterBytes-mem.BeforeBytes) / float64(res.Held)
		}
		res.Memory = mem
	}
	if cfg.AfterHold != nil {
		cfg.AfterHold()
	}
	return res, nil
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
