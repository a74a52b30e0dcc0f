package jobs

import (
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"
)

// fakeDir is a Directory of in-memory things and groups (groups nest through parent).
type fakeDir struct {
	mu      sync.Mutex
	things  map[string]bool
	members map[string][]string // group -> things
	parent  map[string]string   // group -> parent group
	events  map[string]bool
}

func newFakeDir(things ...string) *fakeDir {
	d := &fakeDir{things: map[string]bool{}, members: map[string][]string{}, parent: map[string]string{}, events: map[string]bool{}}
	for _, t := range things {
		d.things[t] = true
	}
	return d
}

func (d *fakeDir) group(name, parent string, things ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.members[name] = append(d.members[name], things...)
	if parent != "" {
		d.parent[name] = parent
	}
	for _, t := range things {
		d.things[t] = true
	}
}

func (d *fakeDir) ThingExists(n string) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.things[n], nil
}

func (d *fakeDir) GroupExists(n string) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.members[n]
	return ok, nil
}

func (d *fakeDir) ThingsInGroup(n string) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := d.thingsIn(n)
	sort.Strings(out)
	return out, nil
}

func (d *fakeDir) thingsIn(n string) []string {
	out := append([]string{}, d.members[n]...)
	for g, p := range d.parent {
		if p == n {
			out = append(out, d.thingsIn(g)...)
		}
	}
	return out
}

func (d *fakeDir) GroupsOfThing(t string) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for g, ms := range d.members {
		for _, m := range ms {
			if m == t {
				for x := g; x != ""; x = d.parent[x] {
					out = append(out, x)
				}
			}
		}
	}
	return out, nil
}

func (d *fakeDir) EventEnabled(t string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.events[t]
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fixture is a service with a fake directory and clock, recording what it publishes.
type fixture struct {
	t    testing.TB
	svc  *Service
	dir  *fakeDir
	clk  *clock
	path string
	sync bool // fsync every write (the emulator's setting); tests leave it off
	mu   sync.Mutex
	pubs []Publication
}

func newFixture(t testing.TB, dir *fakeDir) *fixture {
	t.Helper()
	f := &fixture{t: t, dir: dir, clk: &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}, path: filepath.Join(t.TempDir(), "jobs.db")}
	f.open()
	return f
}

func (f *fixture) open() {
	f.t.Helper()
	svc, err := Open(f.path, Options{
		Directory: f.dir, Now: f.clk.now, NoSync: !f.sync,
		Publish: func(p Publication) { f.mu.Lock(); f.pubs = append(f.pubs, p); f.mu.Unlock() },
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		f.t.Fatal(err)
	}
	f.svc = svc
	f.t.Cleanup(func() { _ = svc.Close() })
}

// taken returns and forgets the publications so far.
func (f *fixture) taken() []Publication {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.pubs
	f.pubs = nil
	return p
}

func (f *fixture) create(in CreateJobInput) *Job {
	f.t.Helper()
	if in.Document == "" && in.JobTemplateARN == "" {
		in.Document = `{"operation":"update"}`
	}
	j, err := f.svc.CreateJob(in)
	if err != nil {
		f.t.Fatalf("CreateJob %s: %v", in.JobID, err)
	}
	return j
}

func (f *fixture) thingARN(n string) string { return f.svc.ThingARN(n) }
func (f *fixture) groupARN(n string) string { return f.svc.arn("thinggroup/" + n) }

// mqtt sends a request and decodes the reply.
func (f *fixture) mqtt(topic, payload string) (string, map[string]any, []Publication) {
	f.t.Helper()
	r, pubs := f.svc.HandleMQTT(topic, []byte(payload))
	var m map[string]any
	if err := json.Unmarshal(r.Payload, &m); err != nil {
		f.t.Fatalf("reply %s is not JSON: %v: %s", r.Topic, err, r.Payload)
	}
	return r.Topic, m, pubs
}

func topics(pubs []Publication) []string {
	var out []string
	for _, p := range pubs {
		out = append(out, p.Topic)
	}
	return out
}

func ptr[T any](v T) *T { return &v }
