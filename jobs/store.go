package jobs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"go.etcd.io/bbolt"
)

// The bbolt layout. Names never contain NUL, so NUL separates the parts of a key; execution
// numbers are zero-padded so that a (job, thing) pair's attempts sort by number.
var (
	bucketMeta      = []byte("meta")
	bucketJobs      = []byte("jobs")      // jobId -> Job
	bucketExecs     = []byte("execs")     // jobId NUL thing NUL number -> Execution
	bucketByThing   = []byte("byThing")   // thing NUL jobId NUL number -> ""
	bucketPending   = []byte("pending")   // jobId NUL seq -> thing (rollout not reached yet)
	bucketTemplates = []byte("templates") // templateId -> Template

	allBuckets = [][]byte{bucketMeta, bucketJobs, bucketExecs, bucketByThing, bucketPending, bucketTemplates}
	keySchema  = []byte("schema")
)

const schemaVersion = "1"

func initSchema(tx *bbolt.Tx) error {
	for _, name := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	meta := tx.Bucket(bucketMeta)
	switch v := meta.Get(keySchema); {
	case v == nil:
		return meta.Put(keySchema, []byte(schemaVersion))
	case string(v) != schemaVersion:
		return fmt.Errorf("the file has jobs schema version %q; this build understands %q", v, schemaVersion)
	}
	return nil
}

func join(parts ...string) []byte {
	var b []byte
	for i, p := range parts {
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, p...)
	}
	return b
}

func num(n int64) string { return fmt.Sprintf("%020d", n) }

func execKey(jobID, thing string, n int64) []byte { return join(jobID, thing, num(n)) }

func thingKey(thing, jobID string, n int64) []byte { return join(thing, jobID, num(n)) }

func getJob(tx *bbolt.Tx, id string) (*Job, error) {
	data := tx.Bucket(bucketJobs).Get([]byte(id))
	if data == nil {
		return nil, nil
	}
	j := &Job{}
	if err := json.Unmarshal(data, j); err != nil {
		return nil, fmt.Errorf("jobs: stored job %s: %w", id, err)
	}
	if j.Counts == nil {
		j.Counts = map[ExecStatus]int64{}
	}
	return j, nil
}

func putJob(tx *bbolt.Tx, j *Job) error {
	data, err := json.Marshal(j)
	if err != nil {
		return fmt.Errorf("jobs: encode job %s: %w", j.JobID, err)
	}
	return tx.Bucket(bucketJobs).Put([]byte(j.JobID), data)
}

func putExec(tx *bbolt.Tx, e *Execution) error {
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("jobs: encode execution %s/%s: %w", e.JobID, e.ThingName, err)
	}
	if err := tx.Bucket(bucketExecs).Put(execKey(e.JobID, e.ThingName, e.ExecutionNumber), data); err != nil {
		return fmt.Errorf("jobs: store execution: %w", err)
	}
	return tx.Bucket(bucketByThing).Put(thingKey(e.ThingName, e.JobID, e.ExecutionNumber), nil)
}

func delExec(tx *bbolt.Tx, e *Execution) error {
	if err := tx.Bucket(bucketExecs).Delete(execKey(e.JobID, e.ThingName, e.ExecutionNumber)); err != nil {
		return err
	}
	return tx.Bucket(bucketByThing).Delete(thingKey(e.ThingName, e.JobID, e.ExecutionNumber))
}

func decodeExec(data []byte) (*Execution, error) {
	e := &Execution{}
	if err := json.Unmarshal(data, e); err != nil {
		return nil, fmt.Errorf("jobs: stored execution: %w", err)
	}
	return e, nil
}

// getExec returns the attempt n of the job on the thing, or the latest when n is 0.
func getExec(tx *bbolt.Tx, jobID, thing string, n int64) (*Execution, error) {
	b := tx.Bucket(bucketExecs)
	if n > 0 {
		data := b.Get(execKey(jobID, thing, n))
		if data == nil {
			return nil, nil
		}
		return decodeExec(data)
	}
	prefix := append(join(jobID, thing), 0)
	c := b.Cursor()
	// Seek past the prefix's last possible key, then step back.
	k, _ := c.Seek(append(bytes.Clone(prefix), 0xff))
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	if k == nil || !bytes.HasPrefix(k, prefix) {
		return nil, nil
	}
	return decodeExec(b.Get(k))
}

// eachExec calls fn with the latest execution of every thing of the job, in thing order.
func eachExec(tx *bbolt.Tx, jobID string, fn func(e *Execution) error) error {
	prefix := append([]byte(jobID), 0)
	c := tx.Bucket(bucketExecs).Cursor()
	var last []byte
	var lastVal []byte
	flush := func() error {
		if last == nil {
			return nil
		}
		e, err := decodeExec(lastVal)
		if err != nil {
			return err
		}
		return fn(e)
	}
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		thing := k[len(prefix):]
		thing = thing[:bytes.IndexByte(thing, 0)]
		if last != nil && !bytes.Equal(thing, last) {
			if err := flush(); err != nil {
				return err
			}
		}
		last, lastVal = bytes.Clone(thing), bytes.Clone(v)
	}
	return flush()
}

// allAttempts returns every attempt of the job on the thing.
func allAttempts(tx *bbolt.Tx, jobID, thing string) ([]*Execution, error) {
	prefix := append(join(jobID, thing), 0)
	c := tx.Bucket(bucketExecs).Cursor()
	var out []*Execution
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		e, err := decodeExec(v)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// thingJobs returns the IDs of the jobs that have executions on the thing, in job ID order.
func thingJobs(tx *bbolt.Tx, thing string) []string {
	prefix := append([]byte(thing), 0)
	c := tx.Bucket(bucketByThing).Cursor()
	var out []string
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		rest := k[len(prefix):]
		id := string(rest[:bytes.IndexByte(rest, 0)])
		if len(out) == 0 || out[len(out)-1] != id {
			out = append(out, id)
		}
	}
	return out
}

// pushPending appends things to the job's not-yet-queued targets.
func pushPending(tx *bbolt.Tx, j *Job, things []string) error {
	b := tx.Bucket(bucketPending)
	for _, t := range things {
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		if err := b.Put(join(j.JobID, num(int64(seq))), []byte(t)); err != nil {
			return err
		}
		j.PendingCount++
	}
	return nil
}

// popPending removes and returns up to n of the job's not-yet-queued targets, oldest first.
func popPending(tx *bbolt.Tx, j *Job, n int64) ([]string, error) {
	prefix := append([]byte(j.JobID), 0)
	c := tx.Bucket(bucketPending).Cursor()
	var out []string
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && int64(len(out)) < n; k, v = c.Seek(prefix) {
		out = append(out, string(v))
		if err := c.Delete(); err != nil {
			return nil, err
		}
		j.PendingCount--
	}
	return out, nil
}

// dropPending forgets every not-yet-queued target of the job.
func dropPending(tx *bbolt.Tx, j *Job) error {
	_, err := popPending(tx, j, 1<<62)
	return err
}

// parseNum reads a zero-padded execution number.
func parseNum(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}
