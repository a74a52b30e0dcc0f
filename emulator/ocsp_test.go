package emulator

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iotcore-local/iotcore-local/pki"
)

// failingInvoker is a responder function that is down.
type failingInvoker struct {
	mu    sync.Mutex
	calls int
}

func (f *failingInvoker) Invoke(context.Context, string, []byte) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return nil, errors.New("connection refused")
}

// TestStaplerKeepsAndRefreshes checks the stapler's timing: a response is kept and served as is,
// fetched again in the background once half its validity has passed (the old one is served
// meanwhile), and a responder that fails is not called again by handshakes within stapleRetry.
func TestStaplerKeepsAndRefreshes(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	authority, err := pki.Load(pki.Options{Dir: t.TempDir(), Names: []string{"localhost"}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	fn := &failingInvoker{}
	s := newStapler(authority, fn, log, clock)
	defer s.close()
	cert := authority.ServerCertificate()

	first, note := s.Staple("root", "", cert)
	if first == cert || len(first.OCSPStaple) == 0 || !strings.Contains(note, "from the root CA: certificate status good") {
		t.Fatalf("first handshake: stapled %d bytes, note %q", len(first.OCSPStaple), note)
	}
	if again, _ := s.Staple("root", "", cert); again != first {
		t.Fatal("a current response was not reused")
	}
	advance(pki.OCSPValidity/2 + time.Minute)
	if during, _ := s.Staple("root", "", cert); during != first {
		t.Fatal("the response due for refresh was not served while the new one is fetched")
	}
	s.wg.Wait()
	if after, _ := s.Staple("root", "", cert); after == first || len(after.OCSPStaple) == 0 {
		t.Fatal("the background refresh did not replace the response")
	}

	out, note := s.Staple("down", "arn:aws:lambda:us-east-1:123456789012:function:ocsp", cert)
	if out != cert || !strings.Contains(note, "connection refused") {
		t.Fatalf("failing responder: stapled %v, note %q", out != cert, note)
	}
	s.Staple("down", "arn:aws:lambda:us-east-1:123456789012:function:ocsp", cert)
	if fn.calls != 1 {
		t.Fatalf("a failing responder was called %d times within %s; want once", fn.calls, stapleRetry)
	}
	advance(stapleRetry + time.Second)
	s.Staple("down", "arn:aws:lambda:us-east-1:123456789012:function:ocsp", cert)
	if fn.calls != 2 {
		t.Fatalf("after %s the responder was called %d times in all; want 2", stapleRetry, fn.calls)
	}
}

// TestStaplerConcurrentHandshakes: handshakes staple from many goroutines while a background
// refresh replaces the response (run with -race); every one gets a stapled certificate, and the
// refresh lands.
func TestStaplerConcurrentHandshakes(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	authority, err := pki.Load(pki.Options{Dir: t.TempDir(), Names: []string{"localhost"}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := newStapler(authority, nil, log, clock)
	defer s.close()
	cert := authority.ServerCertificate()
	first, _ := s.Staple("root", "", cert)
	mu.Lock()
	now = now.Add(pki.OCSPValidity/2 + time.Minute)
	mu.Unlock()
	var wg sync.WaitGroup
	var unstapled sync.Map
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if out, _ := s.Staple("root", "", cert); len(out.OCSPStaple) == 0 {
				unstapled.Store(i, true)
			}
		}()
	}
	wg.Wait()
	s.wg.Wait()
	unstapled.Range(func(k, _ any) bool { t.Errorf("handshake %v got no staple", k); return true })
	if after, _ := s.Staple("root", "", cert); after == first {
		t.Fatal("the refresh did not replace the response")
	}
}
