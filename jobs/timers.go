package jobs

import (
	"container/heap"
	"encoding/json"
	"fmt"
	"math"
	"sync"
	"time"

	"go.etcd.io/bbolt"
)

// deadline is an execution's timeout timer. Entries are not removed when an execution changes:
// the timer checks the stored execution when it fires, ignores it when it no longer applies and
// arms it again when the execution's deadline moved later.
type deadline struct {
	at     time.Time
	job    string
	thing  string
	number int64
}

type timerKey struct {
	job, thing string
	number     int64
}

func (d deadline) key() timerKey { return timerKey{d.job, d.thing, d.number} }

type deadlineHeap []deadline

func (h deadlineHeap) Len() int           { return len(h) }
func (h deadlineHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h deadlineHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *deadlineHeap) Push(x any)        { *h = append(*h, x.(deadline)) }
func (h *deadlineHeap) Pop() any {
	old := *h
	d := old[len(old)-1]
	*h = old[:len(old)-1]
	return d
}

// timerSet holds at most one armed timer per execution (its earliest), so an execution updated
// again and again with a new step timer does not pile up entries.
type timerSet struct {
	h     deadlineHeap
	armed map[timerKey]time.Time
}

// arm adds d unless an earlier (or equal) timer of its execution is armed; it reports whether the
// next due time may have moved earlier.
func (t *timerSet) arm(d deadline) bool {
	if t.armed == nil {
		t.armed = map[timerKey]time.Time{}
	}
	if at, ok := t.armed[d.key()]; ok && !d.at.Before(at) {
		return false
	}
	t.armed[d.key()] = d.at
	heap.Push(&t.h, d)
	return true
}

// due removes and returns the timers due at now.
func (t *timerSet) due(now time.Time) []deadline {
	var out []deadline
	for t.h.Len() > 0 && !t.h[0].at.After(now) {
		d := heap.Pop(&t.h).(deadline)
		if at, ok := t.armed[d.key()]; ok && at.Equal(d.at) {
			delete(t.armed, d.key())
		}
		out = append(out, d)
	}
	return out
}

// next is when the earliest timer is due (zero: none).
func (t *timerSet) next() time.Time {
	if t.h.Len() == 0 {
		return time.Time{}
	}
	return t.h[0].at
}

// loadDeadlines arms the timers of the IN_PROGRESS executions found in the store.
func (s *Service) loadDeadlines() error {
	return s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketExecs).ForEach(func(_, v []byte) error {
			e, err := decodeExec(v)
			if err != nil {
				return err
			}
			if d := e.Deadline(); e.Status == InProgress && !d.IsZero() {
				s.deadlines.arm(deadline{at: d, job: e.JobID, thing: e.ThingName, number: e.ExecutionNumber})
			}
			return nil
		})
	})
}

// Tick does what is due now: scheduled starts and ends, rollout steps, execution timeouts. It
// returns when something is next due (zero: nothing is). The timer loop calls it; tests with a
// clock of their own call it after moving the clock.
func (s *Service) Tick() time.Time {
	var next time.Time
	later := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	now := s.now()
	// Execution timeouts.
	s.mu.Lock()
	due := s.deadlines.due(now)
	later(s.deadlines.next())
	s.mu.Unlock()
	if len(due) > 0 {
		pubs, err := s.update(func(tx *bbolt.Tx, fx *effects) error {
			for _, d := range due {
				e, err := getExec(tx, d.job, d.thing, d.number)
				if err != nil {
					return err
				}
				if e == nil || e.Status != InProgress || e.Deadline().IsZero() {
					continue
				}
				if e.Deadline().After(fx.now) { // moved later since: wait for the new time
					fx.deadlines = append(fx.deadlines, deadline{at: e.Deadline(), job: e.JobID, thing: e.ThingName, number: e.ExecutionNumber})
					continue
				}
				j, err := fx.job(tx, d.job)
				if err != nil || j == nil {
					return err
				}
				latest, err := getExec(tx, d.job, d.thing, 0)
				if err != nil {
					return err
				}
				if latest.ExecutionNumber != e.ExecutionNumber {
					continue
				}
				s.log.Info("job execution timed out", "job", d.job, "thing", d.thing, "execution", d.number)
				if err := s.setStatus(tx, fx, j, e, TimedOut, nil); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			s.log.Error("jobs: timing out executions", "error", err)
		}
		s.emit(pubs)
	}
	// Jobs: scheduled starts and ends, rollouts.
	var ids []string
	err := s.view(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketJobs).ForEach(func(k, v []byte) error {
			var j Job
			if err := json.Unmarshal(v, &j); err != nil {
				return err
			}
			if t := s.jobDue(&j); !t.IsZero() {
				if t.After(now) {
					later(t)
				} else {
					ids = append(ids, string(k))
				}
			}
			return nil
		})
	})
	if err != nil {
		s.log.Error("jobs: reading jobs", "error", err)
		return next
	}
	for _, id := range ids {
		var n time.Time
		pubs, err := s.update(func(tx *bbolt.Tx, fx *effects) error {
			j, err := fx.job(tx, id)
			if err != nil || j == nil {
				return err
			}
			n, err = s.advanceJob(tx, fx, j)
			return err
		})
		if err != nil {
			s.log.Error("jobs: advancing job", "job", id, "error", err)
			continue
		}
		s.emit(pubs)
		later(n)
	}
	return next
}

// jobDue is when a job next needs the timer (zero: never).
func (s *Service) jobDue(j *Job) time.Time {
	switch j.Status {
	case JobScheduled:
		return j.StartAt
	case JobInProgress:
		var t time.Time
		if j.PendingCount > 0 {
			t = j.WindowStart.Add(time.Minute)
			if j.WindowStart.IsZero() || j.WindowQueued < j.Rate || j.Rate == 0 {
				t = time.Unix(0, 1) // now
			}
		}
		if !j.EndAt.IsZero() && (t.IsZero() || j.EndAt.Before(t)) {
			t = j.EndAt
		}
		return t
	}
	return time.Time{}
}

// advanceJob does what is due for one job and returns when it is next due.
func (s *Service) advanceJob(tx *bbolt.Tx, fx *effects, j *Job) (time.Time, error) {
	if j.Status == JobScheduled && !j.StartAt.After(fx.now) {
		things, err := s.resolve(j.Targets)
		if err != nil {
			return time.Time{}, err
		}
		s.log.Info("scheduled job starts", "job", j.JobID, "things", len(things))
		j.LastUpdatedAt = fx.now
		if err := s.startRollout(tx, fx, j, things); err != nil {
			return time.Time{}, err
		}
	}
	if j.Status == JobInProgress && !j.EndAt.IsZero() && !j.EndAt.After(fx.now) {
		behavior := "STOP_ROLLOUT"
		if j.Scheduling != nil && j.Scheduling.EndBehavior != "" {
			behavior = j.Scheduling.EndBehavior
		}
		s.log.Info("scheduled job ends", "job", j.JobID, "endBehavior", behavior)
		j.EndAt = time.Time{}
		switch behavior {
		case "CANCEL":
			return time.Time{}, s.cancelJobTx(tx, fx, j, false, "", "")
		case "FORCE_CANCEL":
			return time.Time{}, s.cancelJobTx(tx, fx, j, true, "", "")
		default:
			return time.Time{}, dropPending(tx, j)
		}
	}
	if j.Status != JobInProgress {
		return s.jobDue(j), nil
	}
	return s.rolloutStep(tx, fx, j)
}

// rolloutStep queues as many pending things as the job's rate allows in the current minute and
// returns when the next minute starts (zero when nothing is pending). An exponential rate grows
// by its factor each time its criterion (things notified, or succeeded, since the last
// increase) is met, once per minute at most, up to 1000 a minute.
func (s *Service) rolloutStep(tx *bbolt.Tx, fx *effects, j *Job) (time.Time, error) {
	if j.PendingCount <= 0 {
		return time.Time{}, nil
	}
	var rate int64
	var exp *ExponentialRate
	switch {
	case j.Rollout == nil:
		rate = math.MaxInt32
	case j.Rollout.MaximumPerMinute != nil:
		rate = *j.Rollout.MaximumPerMinute
	case j.Rollout.ExponentialRate != nil:
		exp = j.Rollout.ExponentialRate
		if j.Rate == 0 {
			j.Rate = exp.BaseRatePerMinute
		}
		rate = j.Rate
	default:
		rate = math.MaxInt32
	}
	if j.WindowStart.IsZero() || !fx.now.Before(j.WindowStart.Add(time.Minute)) {
		j.WindowStart, j.WindowQueued = fx.now, 0
	}
	if exp != nil {
		c := exp.RateIncreaseCriteria
		threshold := int64(0)
		if c.NumberOfNotifiedThings != nil {
			threshold = *c.NumberOfNotifiedThings
		} else if c.NumberOfSucceededThings != nil {
			threshold = *c.NumberOfSucceededThings
		}
		if threshold > 0 && j.SinceIncrease >= threshold && j.Rate < 1000 {
			j.Rate = min(1000, max(j.Rate+1, int64(math.Floor(float64(j.Rate)*exp.IncrementFactor))))
			j.SinceIncrease = 0
			rate = j.Rate
		}
	}
	j.Rate = rate
	n := min(rate-j.WindowQueued, j.PendingCount)
	if n > 0 {
		things, err := popPending(tx, j, n)
		if err != nil {
			return time.Time{}, err
		}
		for _, t := range things {
			if _, err := s.queueExec(tx, fx, j, t, 0); err != nil {
				return time.Time{}, err
			}
		}
		j.WindowQueued += int64(len(things))
		if exp != nil && exp.RateIncreaseCriteria.NumberOfNotifiedThings != nil {
			j.SinceIncrease += int64(len(things))
		}
	}
	if j.PendingCount > 0 {
		return j.WindowStart.Add(time.Minute), nil
	}
	return time.Time{}, nil
}

// throttle limits device requests per thing per second.
type throttle struct {
	limit int
	mu    sync.Mutex
	sec   int64
	count map[string]int
}

// allow counts a request of the thing and reports whether it is within the limit.
func (t *throttle) allow(thing string, now time.Time) bool {
	if t.limit <= 0 {
		return true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if sec := now.Unix(); sec != t.sec || t.count == nil {
		t.sec, t.count = sec, map[string]int{}
	}
	t.count[thing]++
	return t.count[thing] <= t.limit
}

// OnMembership follows a thing joining or leaving a thing group for the continuous jobs that
// target the group or one of its ancestors: a thing that joins gets a QUEUED execution (at once:
// the rollout rate governs only the initial members); a thing that no target reaches any more
// has its QUEUED or IN_PROGRESS execution REMOVED.
func (s *Service) OnMembership(thing, group string, added bool) {
	if !s.hasContinuousJobs() {
		return // the common case: nothing to follow, no write
	}
	groups, err := s.dir.GroupsOfThing(thing)
	if err != nil && added {
		s.log.Warn("jobs: groups of thing", "thing", thing, "error", err)
		return
	}
	reach := map[string]bool{s.ThingARN(thing): true}
	for _, g := range groups {
		reach[s.arn("thinggroup/"+g)] = true
	}
	pubs, err := s.update(func(tx *bbolt.Tx, fx *effects) error {
		var cont []string
		err := tx.Bucket(bucketJobs).ForEach(func(k, v []byte) error {
			var j Job
			if err := json.Unmarshal(v, &j); err != nil {
				return err
			}
			if j.TargetSelection == Continuous && j.Status == JobInProgress {
				cont = append(cont, string(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, id := range cont {
			j, err := fx.job(tx, id)
			if err != nil {
				return err
			}
			reached := false
			for _, t := range j.Targets {
				if reach[t] {
					reached = true
					break
				}
			}
			e, err := getExec(tx, id, thing, 0)
			if err != nil {
				return err
			}
			switch {
			case reached && (e == nil || e.Status == Removed):
				if _, err := s.queueExec(tx, fx, j, thing, 0); err != nil {
					return fmt.Errorf("queue %s on %s: %w", id, thing, err)
				}
				s.log.Info("continuous job reaches a thing that joined a target group", "job", id, "thing", thing, "group", group)
			case !reached && e != nil && !e.Status.Terminal():
				if err := s.setStatus(tx, fx, j, e, Removed, nil); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		s.log.Error("jobs: following a group membership change", "thing", thing, "group", group, "error", err)
		return
	}
	s.emit(pubs)
}

// hasContinuousJobs reports whether an IN_PROGRESS continuous job exists.
func (s *Service) hasContinuousJobs() bool {
	found := false
	err := s.view(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketJobs).ForEach(func(_, v []byte) error {
			var j struct {
				TargetSelection string    `json:"targetSelection"`
				Status          JobStatus `json:"status"`
			}
			if json.Unmarshal(v, &j) == nil && j.TargetSelection == Continuous && j.Status == JobInProgress {
				found = true
			}
			return nil
		})
	})
	return err != nil || found
}

// OnThingDeleted ends the deleted thing's QUEUED and IN_PROGRESS executions as REMOVED: it is no
// longer a target of any job.
func (s *Service) OnThingDeleted(thing string) {
	var has bool
	_ = s.view(func(tx *bbolt.Tx) error { has = len(thingJobs(tx, thing)) > 0; return nil })
	if !has {
		return // the common case: no job ever reached it, no write
	}
	pubs, err := s.update(func(tx *bbolt.Tx, fx *effects) error {
		l, err := fx.pending(tx, thing)
		if err != nil {
			return err
		}
		for _, p := range l {
			if err := s.setStatus(tx, fx, p.job, p.exec, Removed, nil); err != nil {
				return err
			}
		}
		if len(l) > 0 {
			s.log.Info("deleted thing's job executions removed", "thing", thing, "executions", len(l))
		}
		return nil
	})
	if err != nil {
		s.log.Error("jobs: removing a deleted thing's executions", "thing", thing, "error", err)
		return
	}
	s.emit(pubs)
}
