package main

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/iotcore-local/iotcore-local/bench"
)

// MemoryBreakdown is what a broker process holds, read at the end of an idle hold: the kernel's
// resident figures, and for the Go brokers the runtime's own accounting, which says where the
// resident memory goes (goroutine stacks, live heap, the garbage the GC pacer lets accumulate).
type MemoryBreakdown struct {
	VmRSS   uint64 `json:"vm_rss_bytes"`
	RssAnon uint64 `json:"rss_anon_bytes"`
	RssFile uint64 `json:"rss_file_bytes"`
	// Go runtime (runtime.MemStats through /debug/pprof/heap?debug=1); zero for Mosquitto.
	HeapAlloc  uint64 `json:"heap_alloc_bytes,omitempty"`
	HeapInuse  uint64 `json:"heap_inuse_bytes,omitempty"`
	StackInuse uint64 `json:"stack_inuse_bytes,omitempty"`
	NextGC     uint64 `json:"next_gc_bytes,omitempty"`
	NumGC      uint64 `json:"num_gc,omitempty"`
	Goroutines int    `json:"goroutines,omitempty"`
}

// brokerMemory is the idle scenario's memory probe: it reports VmRSS, as bench.ProcessMemory
// does, and keeps the full breakdown of its latest reading.
type brokerMemory struct {
	pid      int
	pprofURL string
	first    *MemoryBreakdown
	last     MemoryBreakdown
	// afterGC is the Go runtime's accounting at the end of the hold after two forced
	// collections (the first frees the garbage, and each halves the goroutine stacks that use
	// less than a quarter of theirs): what the connections themselves hold. Nil for Mosquitto.
	afterGC *MemoryBreakdown
}

func (m *brokerMemory) Source() string { return fmt.Sprintf("VmRSS of process %d", m.pid) }

func (m *brokerMemory) Read() (uint64, error) {
	v, err := bench.ProcessMemory{PID: m.pid}.Read()
	if err != nil {
		return 0, err
	}
	b := MemoryBreakdown{VmRSS: v}
	if f, err := os.Open(fmt.Sprintf("/proc/%d/status", m.pid)); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			k, rest, _ := strings.Cut(sc.Text(), ":")
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			switch k {
			case "RssAnon":
				b.RssAnon = kb * 1024
			case "RssFile":
				b.RssFile = kb * 1024
			}
		}
		f.Close()
	}
	if m.pprofURL != "" {
		readRuntimeStats(m.pprofURL, &b, false)
	}
	if m.first == nil {
		first := b
		m.first = &first
	}
	m.last = b
	return v, nil
}

// readAfterGC fills afterGC, for a Go broker; the idle scenario calls it at the end of the hold,
// after the last reading of the hold itself.
func (m *brokerMemory) readAfterGC() {
	if m.pprofURL == "" {
		return
	}
	var b MemoryBreakdown
	readRuntimeStats(m.pprofURL, &b, true)
	readRuntimeStats(m.pprofURL, &b, true)
	m.afterGC = &b
}

// readRuntimeStats fills the Go runtime figures from a broker's pprof endpoint, after a forced
// garbage collection when gc is set.
func readRuntimeStats(base string, b *MemoryBreakdown, gc bool) {
	client := http.Client{Timeout: 30 * time.Second}
	url := base + "/debug/pprof/heap?debug=1"
	if gc {
		url += "&gc=1"
	}
	resp, err := client.Get(url)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "# ")
		if !ok {
			continue
		}
		k, v, ok := strings.Cut(line, " = ")
		if !ok {
			continue
		}
		first, _, _ := strings.Cut(v, " ") // "Stack = inuse / sys"
		n, _ := strconv.ParseUint(first, 10, 64)
		switch k {
		case "HeapAlloc":
			b.HeapAlloc = n
		case "HeapInuse":
			b.HeapInuse = n
		case "Stack":
			b.StackInuse = n
		case "NextGC":
			b.NextGC = n
		case "NumGC":
			b.NumGC = n
		}
	}
	if resp, err := client.Get(base + "/debug/pprof/goroutine?debug=1"); err == nil {
		defer resp.Body.Close()
		line, _ := bufio.NewReader(resp.Body).ReadString('\n') // "goroutine profile: total N"
		if _, after, ok := strings.Cut(line, "total "); ok {
			b.Goroutines, _ = strconv.Atoi(strings.TrimSpace(after))
		}
	}
}
