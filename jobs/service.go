package jobs

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.etcd.io/bbolt"

	"github.com/iotcore-local/iotcore-local/internal/dbfile"
)

// Directory is what the service needs from the registry: which things and groups exist and
// who belongs where. RegistryDirectory adapts a *registry.Registry.
type Directory interface {
	// ThingExists and GroupExists report whether the name is registered.
	ThingExists(name string) (bool, error)
	GroupExists(name string) (bool, error)
	// ThingsInGroup lists the things of the group and of every group below it.
	ThingsInGroup(name string) ([]string, error)
	// GroupsOfThing lists the groups the thing is in, with all their ancestors.
	GroupsOfThing(name string) ([]string, error)
	// EventEnabled reports whether UpdateEventConfigurations switched the event type (JOB,
	// JOB_EXECUTION) on.
	EventEnabled(eventType string) bool
}

// Options configure a Service.
type Options struct {
	Region, Account string
	// Directory resolves targets; required.
	Directory Directory
	// Publish sends the messages the service causes (notify, notify-next, events), in order,
	// after the change that caused them committed. Nil drops them.
	Publish func(Publication)
	// Now is the clock; nil means time.Now. With a clock of their own, tests call Tick to run
	// what is due instead of Start.
	Now func() time.Time
	// Presigner replaces ${aws:iot:s3-presigned-url:URL} placeholders; nil uses the one built
	// from the environment (NewEnvPresigner).
	Presigner Presigner
	// NoSync skips fsync per write (tests).
	NoSync bool
	// DeviceRequestsPerSecond limits the device API requests of one thing (MQTT and HTTPS); a
	// request over the limit is rejected RequestThrottled. 0 means no limit.
	DeviceRequestsPerSecond int
	Logger                  *slog.Logger
}

// Service is the jobs service over one bbolt file. Every change is one write transaction under
// the service's lock, so the state machine sees one change at a time.
type Service struct {
	db   *bbolt.DB
	opts Options
	now  func() time.Time
	log  *slog.Logger
	dir  Directory
	pre  Presigner

	mu        sync.Mutex
	deadlines timerSet

	throttle throttle

	wake      chan struct{}
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	startOnce sync.Once
}

// Open opens (creating if needed) the jobs store at path; Start runs its timers.
func Open(path string, opts Options) (*Service, error) {
	if opts.Directory == nil {
		return nil, errors.New("jobs: open: no directory")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.Account == "" {
		opts.Account = "123456789012"
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("jobs: create folder of %s: %w", path, err)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 2 * time.Second, NoSync: opts.NoSync})
	if err != nil {
		return nil, fmt.Errorf("jobs: open %s%s: %w", path, dbfile.OpenHint(err), err)
	}
	if err := db.Update(initSchema); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("jobs: initialise %s: %w", path, err)
	}
	s := &Service{
		db: db, opts: opts, now: opts.Now, log: opts.Logger, dir: opts.Directory,
		pre:  opts.Presigner,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	s.throttle.limit = opts.DeviceRequestsPerSecond
	if s.pre == nil {
		s.pre = NewEnvPresigner(opts.Logger)
	}
	if err := s.loadDeadlines(); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// Start runs the timers (scheduled starts and ends, rollouts, execution timeouts) in the
// background until Close; what fell due while the emulator was stopped happens at once. Call it
// once whatever Publish needs is ready. Without Start, nothing happens on time unless Tick is
// called (tests and benchmarks that drive the clock).
func (s *Service) Start() {
	s.startOnce.Do(func() { go s.loop() })
}

// Close stops the timers and closes the store.
func (s *Service) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.startOnce.Do(func() { close(s.done) }) // never started: no loop to wait for
		close(s.stop)
		<-s.done
		s.mu.Lock()
		defer s.mu.Unlock()
		if e := s.db.Close(); e != nil {
			err = fmt.Errorf("jobs: close: %w", e)
		}
	})
	return err
}

// poke tells the timer loop that something may be due earlier than it thought.
func (s *Service) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// loop runs what is due, then sleeps until the next due time or a poke.
func (s *Service) loop() {
	defer close(s.done)
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		next := s.Tick()
		wait := time.Hour
		if !next.IsZero() {
			wait = next.Sub(s.now())
			if wait < 10*time.Millisecond {
				wait = 10 * time.Millisecond
			}
		}
		t.Reset(wait)
		select {
		case <-s.stop:
			return
		case <-s.wake:
			if !t.Stop() {
				<-t.C
			}
		case <-t.C:
		}
	}
}

// arn builds an ARN of the emulator's region and account.
func (s *Service) arn(resource string) string {
	return "arn:aws:iot:" + s.opts.Region + ":" + s.opts.Account + ":" + resource
}

// JobARN is the ARN of a job.
func (s *Service) JobARN(id string) string { return s.arn("job/" + id) }

// ThingARN is the ARN of a thing.
func (s *Service) ThingARN(name string) string { return s.arn("thing/" + name) }

// emit publishes the messages of a committed change.
func (s *Service) emit(pubs []Publication) {
	if s.opts.Publish == nil {
		return
	}
	for _, p := range pubs {
		s.opts.Publish(p)
	}
}

// update runs fn in one write transaction under the lock and returns the messages it caused,
// to be published by the caller once the lock is released.
func (s *Service) update(fn func(tx *bbolt.Tx, fx *effects) error) ([]Publication, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fx := newEffects(s)
	err := s.db.Update(func(tx *bbolt.Tx) error {
		if err := fn(tx, fx); err != nil {
			return err
		}
		return fx.finish(tx)
	})
	if err != nil {
		return nil, err
	}
	earlier := false
	for _, d := range fx.deadlines {
		earlier = s.deadlines.arm(d) || earlier
	}
	if fx.pokeTimers || earlier {
		s.poke()
	}
	return fx.pubs, nil
}

// view runs fn in one read transaction.
func (s *Service) view(fn func(tx *bbolt.Tx) error) error {
	return s.db.View(fn)
}

// Emit publishes messages a device request returned (the HTTP device API calls it; the MQTT
// router publishes them itself, after its answer).
func (s *Service) Emit(pubs []Publication) { s.emit(pubs) }
