package shadow

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// A batch whose transaction fails is run again one request at a time: the failing request gets
// its error, the others are committed.
func TestCommitBatchFailureIsolated(t *testing.T) {
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "c.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c := &committer{db: db}
	boom := errors.New("boom")
	put := func(k string) func(*bbolt.Tx) error {
		return func(tx *bbolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("b"))
			if err != nil {
				return err
			}
			return b.Put([]byte(k), []byte("v"))
		}
	}
	batch := []*writeReq{
		{fn: put("a"), done: make(chan writeResult, 1)},
		{fn: func(*bbolt.Tx) error { return boom }, done: make(chan writeResult, 1)},
		{fn: put("c"), done: make(chan writeResult, 1)},
	}
	c.commit(batch)
	if res := <-batch[0].done; res.err != nil {
		t.Errorf("first request: %v", res.err)
	}
	if res := <-batch[1].done; !errors.Is(res.err, boom) {
		t.Errorf("failing request: %v, want boom", res.err)
	}
	if res := <-batch[2].done; res.err != nil {
		t.Errorf("third request: %v", res.err)
	}
	db.View(func(tx *bbolt.Tx) error {
		for _, k := range []string{"a", "c"} {
			if tx.Bucket([]byte("b")).Get([]byte(k)) == nil {
				t.Errorf("key %s not committed", k)
			}
		}
		return nil
	})
}

// Writes after Close are refused with 500 and do not hang.
func TestWriteAfterClose(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "s.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t, s.Update(Key{Thing: "t"}, []byte(`{"state":{"reported":{"a":1}}}`)))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if r := s.Update(Key{Thing: "t"}, []byte(`{"state":{"reported":{"a":2}}}`)); r.Status != 500 {
		t.Fatalf("update after close: status %d, want 500", r.Status)
	}
	if r := s.Delete(Key{Thing: "t"}, nil); r.Status != 500 {
		t.Fatalf("delete after close: status %d, want 500", r.Status)
	}
}

// crashChildEnv makes the test binary the writer process of TestAcknowledgedUpdatesSurviveSIGKILL.
const crashChildEnv = "SHADOW_CRASH_CHILD_DB"

// TestCrashChild is the writer process: it runs concurrent updates until killed, printing each
// acknowledged one as "writer n".
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashChildEnv)
	if path == "" {
		t.Skip("the child process of TestAcknowledgedUpdatesSurviveSIGKILL")
	}
	s, err := Open(path, Options{})
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for w := range 10 {
		wg.Go(func() {
			for n := 1; ; n++ {
				r := s.Update(Key{Thing: fmt.Sprintf("w%d", w)}, fmt.Appendf(nil, `{"state":{"reported":{"n":%d}}}`, n))
				if r.Status != 200 {
					mu.Lock()
					fmt.Fprintln(out, "ERROR", r.Status, string(r.Body))
					out.Flush()
					mu.Unlock()
					return
				}
				mu.Lock()
				fmt.Fprintln(out, w, n)
				out.Flush()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// Updates acknowledged under concurrency (so committed in shared transactions) are all in the
// file after the process is killed with SIGKILL in the middle of its writes.
func TestAcknowledgedUpdatesSurviveSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	cmd := exec.Command(os.Args[0], "-test.run", "^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[int]int{}
	sc := bufio.NewScanner(stdout)
	total := 0
	deadline := time.Now().Add(60 * time.Second)
	for total < 2000 && sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 {
			w, err1 := strconv.Atoi(f[0])
			n, err2 := strconv.Atoi(f[1])
			if err1 == nil && err2 == nil {
				acked[w] = max(acked[w], n)
				total++
				continue
			}
		}
		if f := sc.Text(); strings.HasPrefix(f, "ERROR") {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("child: %s", f)
		}
		if time.Now().After(deadline) {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// What the child acknowledged between our last read and the kill counts too.
	for sc.Scan() {
		var w, n int
		if _, err := fmt.Sscan(sc.Text(), &w, &n); err == nil {
			acked[w] = max(acked[w], n)
		}
	}
	cmd.Wait()
	if total < 2000 {
		t.Fatalf("only %d acknowledged updates read before the deadline", total)
	}

	s := openTestAt(t, path, Options{})
	for w, n := range acked {
		r := mustOK(t, s.Get(Key{Thing: fmt.Sprintf("w%d", w)}, nil))
		var doc struct {
			State   struct{ Reported struct{ N int } }
			Version int
		}
		if err := json.Unmarshal(r.Body, &doc); err != nil {
			t.Fatal(err)
		}
		if doc.State.Reported.N < n || doc.Version < n {
			t.Errorf("writer %d: stored n=%d version %d, but update %d was acknowledged", w, doc.State.Reported.N, doc.Version, n)
		}
	}
	if len(acked) != 10 {
		t.Errorf("%d writers acknowledged updates, want 10", len(acked))
	}
	sum := 0
	for _, n := range acked {
		sum += n
	}
	t.Logf("%d updates acknowledged by 10 concurrent writers before SIGKILL; each writer's last acknowledged update found after reopening", sum)
}
