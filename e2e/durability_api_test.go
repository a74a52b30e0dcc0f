package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestAPIWritesSurviveSIGKILL: the serve process is killed with SIGKILL while 8 clients create
// things through the HTTP API as fast as it answers. After a restart on the same folder, every
// thing whose CreateThing was answered 200 exists: an acknowledged API write is on disk.
func TestAPIWritesSurviveSIGKILL(t *testing.T) {
	state := t.TempDir()
	p := startServeProcess(t, state)

	var (
		mu    sync.Mutex
		acked []string
		wg    sync.WaitGroup
	)
	stop := make(chan struct{})
	client := &http.Client{Timeout: 5 * time.Second}
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("burst-%d-%d", w, i)
				resp, err := client.Post("http://"+p.api+"/things/"+name, "application/json", strings.NewReader("{}"))
				if err != nil {
					return // the server is gone
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					mu.Lock()
					acked = append(acked, name)
					mu.Unlock()
				}
			}
		}()
	}
	waitUntil(t, "200 acknowledged creations", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) >= 200
	})
	p.kill(t)
	close(stop)
	wg.Wait()

	p = startServeProcess(t, state)
	var missing []string
	for _, name := range acked {
		resp, err := client.Get("http://" + p.api + "/things/" + name)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			missing = append(missing, name)
		}
	}
	t.Logf("%d creations acknowledged before SIGKILL", len(acked))
	if len(missing) > 0 {
		t.Fatalf("%d of %d acknowledged things lost across SIGKILL: %v", len(missing), len(acked), missing[:min(10, len(missing))])
	}
}
