package bench

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ConnectConfig is the connect scenario: Devices devices connect over mutual TLS,
// Concurrency at a time.
type ConnectConfig struct {
	Target Target
	// Devices is how many connections to open (N); each uses its own identity when the target
	// has per-device identities.
	Devices int
	// Concurrency is how many connection attempts are in progress at once; default 50.
	Concurrency int
	// Churn closes each connection right after its CONNACK, measuring connects without growing
	// the server; by default every connection is held until all attempts are done, as a fleet
	// coming online would be.
	Churn bool
	// Progress receives a line a second on runs longer than a second; nil for none.
	Progress io.Writer
	// Logger receives debug lines for failed attempts; nil discards.
	Logger *slog.Logger
}

// DefaultConcurrency is the connection attempts in flight when a config leaves it zero.
const DefaultConcurrency = 50

// ConnectResult is what the connect scenario measured.
type ConnectResult struct {
	Target    TargetInfo `json:"target"`
	Requested int        `json:"requested"`
	Attempted int        `json:"attempted"`
	Succeeded int        `json:"succeeded"`
	Failed    int        `json:"failed"`
	Churn     bool       `json:"churn"`
	// Failures counts failed attempts by cause, e.g. "tls: alert: bad certificate" or
	// "connack: closed without CONNACK".
	Failures    map[string]int `json:"failures"`
	Concurrency int            `json:"concurrency"`
	// ElapsedSeconds runs from the first attempt to the last outcome.
	ElapsedSeconds float64 `json:"elapsed_s"`
	// ConnectionsPerSecond is Succeeded / ElapsedSeconds.
	ConnectionsPerSecond float64 `json:"connections_per_s"`
	// TCP is the TCP connect, Handshake the TLS handshake after it, Connack the time from
	// writing CONNECT to reading CONNACK, and Total all three.
	TCP       Latency `json:"tcp_connect"`
	Handshake Latency `json:"tls_handshake"`
	Connack   Latency `json:"connack"`
	Total     Latency `json:"total"`
}

// connectStats accumulates the outcomes of connection attempts from several workers.
type connectStats struct {
	attempted, succeeded, failed atomic.Int64

	mu                    sync.Mutex
	tcp, tls, ack, total  Histogram
	failures              map[string]int
	firstStart, lastEvent time.Time
}

func newConnectStats() *connectStats { return &connectStats{failures: map[string]int{}} }

// fail counts one failure under its cause.
func (s *connectStats) fail(cause string) {
	s.failed.Add(1)
	s.mu.Lock()
	s.failures[cause]++
	s.mu.Unlock()
}

// result fills a ConnectResult from the stats.
func (s *connectStats) result(requested, concurrency int) ConnectResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	el := s.lastEvent.Sub(s.firstStart)
	if s.firstStart.IsZero() {
		el = 0
	}
	return ConnectResult{
		Requested:            requested,
		Attempted:            int(s.attempted.Load()),
		Succeeded:            int(s.succeeded.Load()),
		Failed:               int(s.failed.Load()),
		Failures:             s.failures,
		Concurrency:          concurrency,
		ElapsedSeconds:       el.Seconds(),
		ConnectionsPerSecond: perSecond(float64(s.succeeded.Load()), el),
		TCP:                  s.tcp.Summary(),
		Handshake:            s.tls.Summary(),
		Connack:              s.ack.Summary(),
		Total:                s.total.Summary(),
	}
}

// failureSummary lists the causes of failures, most frequent first, for an error message.
func (s *connectStats) failureSummary() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	type kv struct {
		k string
		v int
	}
	var all []kv
	for k, v := range s.failures {
		all = append(all, kv{k, v})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v > all[j].v || all[i].v == all[j].v && all[i].k < all[j].k })
	out := ""
	for i, e := range all {
		if i > 0 {
			out += "; "
		}
		out += fmt.Sprintf("%d× %s", e.v, e.k)
	}
	return out
}

// connectMany opens connections first … first+n-1 with concurrency workers and returns them
// in order (nil where an attempt failed). connected, when not nil, runs in the worker right
// after each success; it decides what happens to the connection next.
func connectMany(ctx context.Context, d *dialer, first, n, concurrency int, stats *connectStats, log *slog.Logger, connected func(c *client)) []*client {
	if concurrency <= 0 {
		concurrency = DefaultConcurrency
	}
	concurrency = min(concurrency, max(n, 1))
	clients := make([]*client, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	stats.mu.Lock()
	if stats.firstStart.IsZero() {
		stats.firstStart = time.Now()
	}
	stats.mu.Unlock()
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var tcp, hs, ack, total Histogram
			defer func() {
				stats.mu.Lock()
				stats.tcp.Merge(&tcp)
				stats.tls.Merge(&hs)
				stats.ack.Merge(&ack)
				stats.total.Merge(&total)
				stats.mu.Unlock()
			}()
			for {
				k := int(next.Add(1)) - 1
				if k >= n || ctx.Err() != nil {
					return
				}
				stats.attempted.Add(1)
				c, tm, err := d.connect(ctx, first+k)
				stats.mu.Lock()
				stats.lastEvent = time.Now()
				stats.mu.Unlock()
				if err != nil {
					cause := failureCause(err)
					if ctx.Err() != nil {
						cause = "run ended before the attempt finished"
					}
					stats.fail(cause)
					log.Debug("bench: connection failed", "index", first+k, "cause", cause, "error", err)
					continue
				}
				stats.succeeded.Add(1)
				tcp.RecordDuration(tm.tcp)
				hs.RecordDuration(tm.tls)
				ack.RecordDuration(tm.connack)
				total.RecordDuration(tm.tcp + tm.tls + tm.connack)
				clients[k] = c
				if connected != nil {
					connected(c)
				}
			}
		}()
	}
	wg.Wait()
	return clients
}

// failureCause names why a connection attempt failed, coarsely enough to count: the stage and a
// short reason, without addresses or ports. (An attempt cut short by the end of the run is
// told apart by the caller, which knows the run's context: a dial timeout also matches
// context.DeadlineExceeded.)
func failureCause(err error) string {
	stage := "connect"
	var se *StageError
	if errors.As(err, &se) {
		stage = se.Stage
	}
	var (
		alert   tls.AlertError
		connack *ConnackError
		ne      net.Error
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
		inval   x509.CertificateInvalidError
		recHdr  tls.RecordHeaderError
	)
	reason := ""
	switch {
	case errors.Is(err, context.Canceled):
		reason = "run ended before the attempt finished"
	case errors.As(err, &connack):
		reason = connack.Error()
	case errors.As(err, &alert):
		reason = "alert: " + alert.Error()
	case errors.As(err, &unknown), errors.As(err, &inval):
		reason = "server certificate not trusted"
	case errors.As(err, &host):
		reason = "server certificate does not name " + host.Host
	case errors.As(err, &recHdr):
		reason = "server did not answer with TLS"
	case errors.Is(err, syscall.ECONNREFUSED):
		reason = "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		reason = "connection reset by server"
	case errors.Is(err, syscall.EADDRNOTAVAIL), errors.Is(err, syscall.EADDRINUSE):
		reason = "no free local port (use more source addresses)"
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		reason = "too many open files"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		if stage == "connack" {
			reason = "closed without CONNACK"
		} else {
			reason = "closed by server"
		}
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		reason = "timeout"
	default:
		reason = err.Error()
		if se != nil {
			reason = se.Err.Error()
		}
	}
	return stage + ": " + reason
}

// RunConnect runs the connect scenario. It returns an error only when the run could not start
// (bad target, too few identities); failed connections are counted in the result.
func RunConnect(ctx context.Context, cfg ConnectConfig) (*ConnectResult, error) {
	if cfg.Devices <= 0 {
		return nil, errors.New("connect: the number of devices must be positive")
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	log := loggerOr(cfg.Logger)
	d, err := cfg.Target.prepare(ctx, cfg.Devices)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	held := cfg.Devices
	if cfg.Churn {
		held = cfg.Concurrency
	}
	if err := ensureFileLimit(held+64, log); err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	stats := newConnectStats()
	stopProgress := startProgress(cfg.Progress, "connect", func(el time.Duration) string {
		ok, bad := stats.succeeded.Load(), stats.failed.Load()
		return fmt.Sprintf("%d/%d connected, %d failed, %.0f/s", ok, cfg.Devices, bad, perSecond(float64(ok), el))
	})

	// Held connections need their reader (to notice the server) and keep-alive pings on long runs.
	var live sync.Mutex
	var opened []*client
	kctx, stopKeep := context.WithCancel(ctx)
	var keepWG sync.WaitGroup
	if !cfg.Churn {
		keepWG.Add(1)
		go func() {
			defer keepWG.Done()
			keepAlive(kctx, func() []*client { live.Lock(); defer live.Unlock(); return append([]*client(nil), opened...) }, d.t.KeepAlive)
		}()
	}
	connectMany(ctx, d, 0, cfg.Devices, cfg.Concurrency, stats, log, func(c *client) {
		if cfg.Churn {
			c.close(false)
			return
		}
		c.start(handlers{})
		live.Lock()
		opened = append(opened, c)
		live.Unlock()
	})
	stopProgress()
	stopKeep()
	keepWG.Wait()
	res := stats.result(cfg.Devices, cfg.Concurrency)
	res.Churn = cfg.Churn
	res.Target = d.info()
	closeAll(opened, true)
	return &res, nil
}

// loggerOr returns l, or a logger that discards.
func loggerOr(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
