package jobs

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/bbolt"
)

// effects collects, during one write transaction, what the change does beside itself: the jobs
// it touched (written once at the end, after completion and abort checks), the pending lists of
// the things it touched (to decide notify and notify-next), the messages to publish and the
// timers to arm.
type effects struct {
	s          *Service
	now        time.Time
	jobs       map[string]*Job
	jobOrder   []string
	before     map[string]pendingList
	thingOrder []string
	pubs       []Publication
	deadlines  []deadline
	pokeTimers bool
	deleted    map[string]bool
}

func newEffects(s *Service) *effects {
	return &effects{s: s, now: s.now(), jobs: map[string]*Job{}, before: map[string]pendingList{}, deleted: map[string]bool{}}
}

// job loads a job once per transaction; later changes to it are written by finish.
func (fx *effects) job(tx *bbolt.Tx, id string) (*Job, error) {
	if j, ok := fx.jobs[id]; ok {
		return j, nil
	}
	j, err := getJob(tx, id)
	if err != nil || j == nil {
		return j, err
	}
	fx.jobs[id] = j
	fx.jobOrder = append(fx.jobOrder, id)
	return j, nil
}

// addJob registers a new job to be written by finish.
func (fx *effects) addJob(j *Job) {
	fx.jobs[j.JobID] = j
	fx.jobOrder = append(fx.jobOrder, j.JobID)
}

// touch records the thing's pending list before the transaction changes it.
func (fx *effects) touch(tx *bbolt.Tx, thing string) error {
	if _, ok := fx.before[thing]; ok {
		return nil
	}
	l, err := fx.pending(tx, thing)
	if err != nil {
		return err
	}
	fx.before[thing] = l
	fx.thingOrder = append(fx.thingOrder, thing)
	return nil
}

// pendingEntry is one execution of a thing's pending list.
type pendingEntry struct {
	exec *Execution
	job  *Job
}

// pendingList is a thing's QUEUED and IN_PROGRESS executions: IN_PROGRESS first, then QUEUED,
// each by queue time (the order AWS reports and picks them in).
type pendingList []pendingEntry

// key names the first n entries (all when n < 0) in order.
func (l pendingList) key(n int) string {
	var b strings.Builder
	for i, e := range l {
		if n >= 0 && i >= n {
			break
		}
		b.WriteString(e.exec.JobID)
		b.WriteByte('#')
		b.WriteString(strconv.FormatInt(e.exec.ExecutionNumber, 10))
		b.WriteByte(' ')
	}
	return b.String()
}

// members names the entries as a set: a start that reorders the list changes no membership.
func (l pendingList) members() string {
	keys := make([]string, len(l))
	for i, e := range l {
		keys[i] = e.exec.JobID + "#" + strconv.FormatInt(e.exec.ExecutionNumber, 10)
	}
	sort.Strings(keys)
	return strings.Join(keys, " ")
}

// pending builds the thing's pending list as the transaction sees it.
func (fx *effects) pending(tx *bbolt.Tx, thing string) (pendingList, error) {
	var l pendingList
	for _, id := range thingJobs(tx, thing) {
		if fx.deleted[id] {
			continue
		}
		e, err := getExec(tx, id, thing, 0)
		if err != nil {
			return nil, err
		}
		if e == nil || e.Status.Terminal() {
			continue
		}
		j, err := fx.job(tx, id)
		if err != nil {
			return nil, err
		}
		if j == nil {
			continue
		}
		l = append(l, pendingEntry{exec: e, job: j})
	}
	sortPending(l)
	return l, nil
}

func sortPending(l pendingList) {
	sort.SliceStable(l, func(a, b int) bool {
		ea, eb := l[a].exec, l[b].exec
		if (ea.Status == InProgress) != (eb.Status == InProgress) {
			return ea.Status == InProgress
		}
		if !ea.QueuedAt.Equal(eb.QueuedAt) {
			return ea.QueuedAt.Before(eb.QueuedAt)
		}
		return ea.JobID < eb.JobID
	})
}

// finish writes the touched jobs (completing or aborting them when their executions say so)
// and decides the notifications of the touched things.
func (fx *effects) finish(tx *bbolt.Tx) error {
	for i := 0; i < len(fx.jobOrder); i++ { // aborts may touch more jobs' executions
		j := fx.jobs[fx.jobOrder[i]]
		if fx.deleted[j.JobID] {
			continue
		}
		if err := fx.s.checkAbort(tx, fx, j); err != nil {
			return err
		}
		fx.s.checkCompleted(fx, j)
	}
	seen := map[string]bool{}
	for _, id := range fx.jobOrder {
		if seen[id] || fx.deleted[id] {
			continue
		}
		seen[id] = true
		if err := putJob(tx, fx.jobs[id]); err != nil {
			return err
		}
	}
	for _, thing := range fx.thingOrder {
		after, err := fx.pending(tx, thing)
		if err != nil {
			return err
		}
		before := fx.before[thing]
		if before.members() != after.members() {
			fx.pubs = append(fx.pubs, Publication{Topic: notifyTopic(thing, "notify"), Payload: fx.s.notifyPayload(after, fx.now)})
		}
		if before.key(1) != after.key(1) {
			fx.pubs = append(fx.pubs, Publication{Topic: notifyTopic(thing, "notify-next"), Payload: fx.s.notifyNextPayload(after, fx.now)})
		}
	}
	return nil
}

func notifyTopic(thing, what string) string { return "$aws/things/" + thing + "/jobs/" + what }

// maxNotify is the number of executions a notify message lists at most.
const maxNotify = 10

func (s *Service) notifyPayload(l pendingList, now time.Time) []byte {
	jobsByStatus := map[string][]wireSummary{}
	for i, e := range l {
		if i >= maxNotify {
			break
		}
		st := string(e.exec.Status)
		jobsByStatus[st] = append(jobsByStatus[st], summaryOf(e.exec))
	}
	data, _ := json.Marshal(struct {
		Timestamp int64                    `json:"timestamp"`
		Jobs      map[string][]wireSummary `json:"jobs"`
	}{now.Unix(), jobsByStatus})
	return data
}

func (s *Service) notifyNextPayload(l pendingList, now time.Time) []byte {
	out := struct {
		Timestamp int64          `json:"timestamp"`
		Execution *wireExecution `json:"execution,omitempty"`
	}{Timestamp: now.Unix()}
	if len(l) > 0 {
		w := s.wireExec(l[0].exec, l[0].job, true, now)
		out.Execution = &w
	}
	data, _ := json.Marshal(out)
	return data
}
