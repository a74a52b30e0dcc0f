package shadow

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// version returns the version member of a response document.
func version(t testing.TB, body []byte) int64 {
	t.Helper()
	var d struct{ Version int64 }
	if err := json.Unmarshal(body, &d); err != nil {
		t.Fatalf("bad body %s: %v", body, err)
	}
	return d.Version
}

func mustOK(t testing.TB, r Result) Result {
	t.Helper()
	if r.Status != 200 {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	return r
}

func topics(r Result) []string {
	var out []string
	for _, p := range r.Publications {
		out = append(out, p.Topic)
	}
	return out
}

func TestStateSizeLimitOnMergedDocument(t *testing.T) {
	svc := openTest(t, Options{})
	key := Key{Thing: "big"}
	// desired {"a":"xxx…"} and reported {"b":"yyy…"}: each section is 8 bytes of JSON plus its string.
	half := DefaultMaxStateBytes/2 - len(`{"a":""}`)
	upd := func(section, k string, n int) Result {
		return svc.Update(key, fmt.Appendf(nil, `{"state":{%q:{%q:%q}}}`, section, k, strings.Repeat("x", n)))
	}
	mustOK(t, upd("desired", "a", half))
	// Exactly 8192 bytes merged: accepted, although no single request is near the limit.
	mustOK(t, upd("reported", "b", half))
	// One more byte on the merged document: 413, and nothing stored.
	r := upd("reported", "c", 0)
	if r.Status != 413 || !strings.Contains(string(r.Body), `"message":"The payload exceeds the maximum size allowed"`) {
		t.Fatalf("got %d %s", r.Status, r.Body)
	}
	if v := version(t, mustOK(t, svc.Get(key, nil)).Body); v != 2 {
		t.Fatalf("version %d after a refused update", v)
	}
	// Shrinking one section makes room again; deleting with null is measured after the merge.
	mustOK(t, svc.Update(key, []byte(`{"state":{"reported":{"b":null,"c":""}}}`)))
	// Metadata does not count: many small keys whose metadata is far larger than 8 KB.
	small := openTest(t, Options{})
	var b strings.Builder
	b.WriteString(`{"state":{"reported":{`)
	for i := range 700 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"k%03d":1`, i) // 8 bytes each: 5600 bytes of state, ~27 KB of metadata
	}
	b.WriteString(`}}}`)
	mustOK(t, small.Update(Key{Thing: "many"}, []byte(b.String())))
}

func TestMaxStateBytesOption(t *testing.T) {
	svc := openTest(t, Options{MaxStateBytes: 20})
	mustOK(t, svc.Update(Key{Thing: "t"}, []byte(`{"state":{"desired":{"a":"0123456789"}}}`))) // 18 bytes
	if r := svc.Update(Key{Thing: "t"}, []byte(`{"state":{"reported":{"b":1}}}`)); r.Status != 413 {
		t.Fatalf("got %d %s", r.Status, r.Body)
	}
}

func TestPayloadLimit(t *testing.T) {
	svc := openTest(t, Options{})
	r := svc.Update(Key{Thing: "t"}, []byte(`{"state":{},"pad":"`+strings.Repeat("p", MaxPayloadBytes)+`"}`))
	if r.Status != 413 {
		t.Fatalf("got %d %s", r.Status, r.Body)
	}
}

func TestConcurrentUpdatesSerialise(t *testing.T) {
	svc := openTest(t, Options{NoSync: true})
	key := Key{Thing: "busy"}
	const n = 50
	var wg sync.WaitGroup
	versions := make([]int64, n)
	for i := range n {
		wg.Go(func() {
			r := mustOK(t, svc.Update(key, fmt.Appendf(nil, `{"state":{"reported":{"k%d":%d}}}`, i, i)))
			versions[i] = version(t, r.Body)
		})
	}
	wg.Wait()
	seen := make(map[int64]bool)
	for _, v := range versions {
		if v < 1 || v > n || seen[v] {
			t.Fatalf("versions %v are not 1..%d each once", versions, n)
		}
		seen[v] = true
	}
	var doc struct {
		State   struct{ Reported map[string]int }
		Version int64
	}
	if err := json.Unmarshal(mustOK(t, svc.Get(key, nil)).Body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Version != n || len(doc.State.Reported) != n {
		t.Fatalf("version %d with %d keys, want %d and %d (an update was lost)", doc.Version, len(doc.State.Reported), n, n)
	}
}

func TestConcurrentOptimisticLocking(t *testing.T) {
	// N writers all send version 1: exactly one wins, the others get 409.
	svc := openTest(t, Options{NoSync: true})
	key := Key{Thing: "lock"}
	mustOK(t, svc.Update(key, []byte(`{"state":{"desired":{"owner":"none"}}}`)))
	const n = 20
	var wg sync.WaitGroup
	var mu sync.Mutex
	status := map[int]int{}
	for i := range n {
		wg.Go(func() {
			r := svc.Update(key, fmt.Appendf(nil, `{"state":{"desired":{"owner":"w%d"}},"version":1}`, i))
			mu.Lock()
			status[r.Status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if status[200] != 1 || status[409] != n-1 {
		t.Fatalf("statuses %v, want one 200 and %d 409", status, n-1)
	}
}

func TestPersistenceAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "shadows.db")
	clock := &fixedClock{t: time.Unix(1700000000, 0)}
	svc, err := Open(path, Options{Now: clock.now})
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t, svc.Update(Key{Thing: "t"}, []byte(`{"state":{"desired":{"price":1.50,"big":123456789012345678901234567890}}}`)))
	mustOK(t, svc.Update(Key{Thing: "t"}, []byte(`{"state":{"reported":{"on":true}}}`)))
	mustOK(t, svc.Update(Key{Thing: "t", Name: "n"}, []byte(`{"state":{"reported":{"x":1}}}`)))
	mustOK(t, svc.Update(Key{Thing: "t", Name: "gone"}, []byte(`{"state":{"reported":{"x":1}}}`)))
	mustOK(t, svc.Update(Key{Thing: "t", Name: "gone"}, []byte(`{"state":{"reported":{"x":2}}}`)))
	mustOK(t, svc.Delete(Key{Thing: "t", Name: "gone"}, nil))
	before := mustOK(t, svc.Get(Key{Thing: "t"}, nil)).Body
	if err := svc.Close(); err != nil {
		t.Fatal(err)
	}

	svc = openTestAt(t, path, Options{Now: clock.now})
	after := mustOK(t, svc.Get(Key{Thing: "t"}, nil)).Body
	if string(before) != string(after) {
		t.Fatalf("document changed across reopen:\n%s\n%s", before, after)
	}
	if !strings.Contains(string(after), `"price":1.50`) || !strings.Contains(string(after), `123456789012345678901234567890`) {
		t.Fatalf("number text not kept: %s", after)
	}
	if v := version(t, mustOK(t, svc.Get(Key{Thing: "t", Name: "n"}, nil)).Body); v != 1 {
		t.Fatalf("named version %d", v)
	}
	// The deleted shadow's version survived the restart.
	if v := version(t, mustOK(t, svc.Update(Key{Thing: "t", Name: "gone"}, []byte(`{"state":{}}`))).Body); v != 3 {
		t.Fatalf("recreated version %d, want 3", v)
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open("", Options{}); err == nil {
		t.Fatal("empty path accepted")
	}
	path := filepath.Join(t.TempDir(), "s.db")
	openTestAt(t, path, Options{})
	// A second opener of the same file waits for the lock, then fails with a clear error.
	start := time.Now()
	if _, err := Open(path, Options{}); err == nil || !strings.Contains(err.Error(), "another process") {
		t.Fatalf("second open: %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatal("second open hung")
	}
}

func TestClosedServiceAnswers500(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "s.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, r := range []Result{
		s.Update(Key{Thing: "t"}, []byte(`{"state":{},"clientToken":"tok"}`)),
		s.Get(Key{Thing: "t"}, []byte(`{"clientToken":"tok"}`)),
		s.Delete(Key{Thing: "t"}, []byte(`{"clientToken":"tok"}`)),
	} {
		if r.Status != 500 || !strings.Contains(string(r.Body), `"message":"Internal service failure"`) ||
			!strings.Contains(string(r.Body), `"clientToken":"tok"`) {
			t.Fatalf("got %d %s", r.Status, r.Body)
		}
	}
	if _, _, err := s.ListNamed("t", "", 0); err == nil {
		t.Fatal("ListNamed on a closed store succeeded")
	}
}

func TestNamedAndClassicIsolation(t *testing.T) {
	svc := openTest(t, Options{})
	classic, named, other := Key{Thing: "t"}, Key{Thing: "t", Name: "n"}, Key{Thing: "t2"}
	mustOK(t, svc.Update(classic, []byte(`{"state":{"desired":{"a":1}}}`)))
	mustOK(t, svc.Update(classic, []byte(`{"state":{"desired":{"a":2}}}`)))
	r := mustOK(t, svc.Update(named, []byte(`{"state":{"desired":{"b":1}}}`)))
	if v := version(t, r.Body); v != 1 {
		t.Fatalf("named shadow version %d, want its own 1", v)
	}
	for _, p := range r.Publications {
		if !strings.HasPrefix(p.Topic, "$aws/things/t/shadow/name/n/") {
			t.Fatalf("named update published on %s", p.Topic)
		}
	}
	if r := svc.Get(other, nil); r.Status != 404 {
		t.Fatalf("other thing: %d", r.Status)
	}
	mustOK(t, svc.Delete(classic, nil))
	if body := mustOK(t, svc.Get(named, nil)).Body; !strings.Contains(string(body), `"b":1`) || strings.Contains(string(body), `"a"`) {
		t.Fatalf("named shadow after deleting the classic one: %s", body)
	}
}

func TestListNamed(t *testing.T) {
	svc := openTest(t, Options{NoSync: true})
	mustOK(t, svc.Update(Key{Thing: "t"}, []byte(`{"state":{}}`))) // classic: never listed
	var want []string
	for i := range 7 {
		name := fmt.Sprintf("s%d", i)
		want = append(want, name)
		mustOK(t, svc.Update(Key{Thing: "t", Name: name}, []byte(`{"state":{}}`)))
	}
	mustOK(t, svc.Update(Key{Thing: "t", Name: "$zz"}, []byte(`{"state":{}}`)))
	want = append([]string{"$zz"}, want...)
	// A deleted shadow is not listed; another thing's (even with a name prefix) neither.
	mustOK(t, svc.Update(Key{Thing: "t", Name: "deleted"}, []byte(`{"state":{}}`)))
	mustOK(t, svc.Delete(Key{Thing: "t", Name: "deleted"}, nil))
	mustOK(t, svc.Update(Key{Thing: "t2", Name: "a"}, []byte(`{"state":{}}`)))
	mustOK(t, svc.Update(Key{Thing: "tt", Name: "a"}, []byte(`{"state":{}}`)))

	all, next, err := svc.ListNamed("t", "", 0)
	if err != nil || next != "" || strings.Join(all, ",") != strings.Join(want, ",") {
		t.Fatalf("ListNamed = %v %q %v, want %v", all, next, err, want)
	}
	var paged []string
	token := ""
	for pages := 0; ; pages++ {
		names, next, err := svc.ListNamed("t", token, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(names) > 3 || pages > 5 {
			t.Fatalf("page %v", names)
		}
		paged = append(paged, names...)
		if next == "" {
			break
		}
		token = next
	}
	if strings.Join(paged, ",") != strings.Join(want, ",") {
		t.Fatalf("paged %v, want %v", paged, want)
	}
	// Exactly a full last page: no token after it.
	names, next, err := svc.ListNamed("t", "", len(want))
	if err != nil || len(names) != len(want) || next != "" {
		t.Fatalf("full page: %v %q %v", names, next, err)
	}
	names, next, err = svc.ListNamed("unknown", "", 0)
	if err != nil || names == nil || len(names) != 0 || next != "" {
		t.Fatalf("unknown thing: %#v %q %v", names, next, err)
	}
	for _, bad := range []struct {
		thing, token string
		size         int
	}{
		{"t", "", -1}, {"t", "", 101}, {"t", "%%%", 0}, {"t", "dGhpcyBpcyBub3QgYSBuYW1l", 0}, {"bad thing", "", 0},
	} {
		_, _, err := svc.ListNamed(bad.thing, bad.token, bad.size)
		var e *Error
		if !errors.As(err, &e) || e.Code != 400 {
			t.Errorf("ListNamed(%q, %q, %d) error %v, want a 400", bad.thing, bad.token, bad.size, err)
		}
	}
	if names, _, err := svc.ListNamed("t", "", 100); err != nil || len(names) != len(want) {
		t.Fatalf("page size 100: %v %v", names, err)
	}
}

func TestPublicationsForHTTPAndMQTT(t *testing.T) {
	svc := openTest(t, Options{})
	key := Key{Thing: "t"}
	up := mustOK(t, svc.Update(key, []byte(`{"state":{"desired":{"a":1}}}`)))
	want := []string{"$aws/things/t/shadow/update/accepted", "$aws/things/t/shadow/update/delta", "$aws/things/t/shadow/update/documents"}
	if got := topics(up); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("update publications %v", got)
	}
	if len(up.HTTPPublications()) != 3 {
		t.Fatal("an HTTP update must fan out accepted, delta and documents")
	}
	get := mustOK(t, svc.Get(key, nil))
	if len(get.Publications) != 1 || !get.Publications[0].MQTTOnly || len(get.HTTPPublications()) != 0 {
		t.Fatalf("get publications %+v", get.Publications)
	}
	bad := svc.Update(key, []byte(`{}`))
	if bad.Err == nil || bad.Err.Code != 400 || bad.Err.Message != msgMissingState || up.Err != nil {
		t.Fatalf("Err %v / %v", bad.Err, up.Err)
	}
	if bad.Status != 400 || len(bad.Publications) != 1 || !bad.Publications[0].MQTTOnly ||
		bad.Publications[0].Topic != "$aws/things/t/shadow/update/rejected" || len(bad.HTTPPublications()) != 0 {
		t.Fatalf("rejection %+v", bad)
	}
	del := mustOK(t, svc.Delete(key, nil))
	if len(del.HTTPPublications()) != 1 || del.Publications[0].Topic != "$aws/things/t/shadow/delete/accepted" {
		t.Fatalf("delete publications %+v", del.Publications)
	}
}

func TestRejectionTopicOnlyWhenNamesFit(t *testing.T) {
	svc := openTest(t, Options{})
	for _, key := range []Key{{Thing: ""}, {Thing: "a/b"}, {Thing: "a+"}, {Thing: "t", Name: "x#"}} {
		r := svc.Update(key, []byte(`{"state":{}}`))
		if r.Status != 400 || len(r.Publications) != 0 {
			t.Errorf("%+v: %d %v", key, r.Status, topics(r))
		}
	}
	r := svc.Update(Key{Thing: "a b"}, []byte(`{"state":{}}`))
	if r.Status != 400 || len(r.Publications) != 1 {
		t.Fatalf("%d %v", r.Status, topics(r))
	}
}

func TestHandle(t *testing.T) {
	svc := openTest(t, Options{})
	key := Key{Thing: "t"}
	mustOK(t, svc.Handle(key, OpUpdate, []byte(`{"state":{}}`)))
	mustOK(t, svc.Handle(key, OpGet, nil))
	mustOK(t, svc.Handle(key, OpDelete, nil))
	if r := svc.Handle(key, "list", []byte(`{"clientToken":"x"}`)); r.Status != 400 || len(r.Publications) != 0 ||
		!strings.Contains(string(r.Body), `"clientToken":"x"`) {
		t.Fatalf("unknown op: %d %s %v", r.Status, r.Body, topics(r))
	}
}

// TestTrailingNULAccepted runs the Embedded C SDK's shadow demo payloads (the document and its
// terminating NUL) through the service: update, get and delete answer as for the bare document,
// while garbage after the NUL is still refused.
func TestTrailingNULAccepted(t *testing.T) {
	svc := openTest(t, Options{})
	key := Key{Thing: "demo"}
	r := mustOK(t, svc.Update(key, []byte("{\"state\":{\"desired\":{\"powerOn\":1}},\"clientToken\":\"tok\"}\x00")))
	if got := topics(r); len(got) != 3 || !strings.HasSuffix(got[1], "/update/delta") {
		t.Fatalf("update with a trailing NUL published %v, want accepted, delta, documents", got)
	}
	if !strings.Contains(string(r.Body), `"clientToken":"tok"`) || version(t, r.Body) != 1 {
		t.Fatalf("update/accepted = %s", r.Body)
	}
	if r := mustOK(t, svc.Get(key, []byte("{\"clientToken\":\"g\"}\x00"))); !strings.Contains(string(r.Body), `"clientToken":"g"`) {
		t.Fatalf("get/accepted = %s, want the clientToken echoed", r.Body)
	}
	r = svc.Update(key, []byte("{\"state\":{\"reported\":{\"powerOn\":1}}}\x00{\"x\":1}"))
	if r.Status != 400 || !strings.Contains(string(r.Body), msgInvalidJSON) {
		t.Fatalf("a second document after the NUL: %d %s, want 400 %s", r.Status, r.Body, msgInvalidJSON)
	}
	if r := mustOK(t, svc.Delete(key, []byte("{\"clientToken\":\"d\"}\x00\x00"))); !strings.Contains(string(r.Body), `"clientToken":"d"`) {
		t.Fatalf("delete/accepted = %s, want the clientToken echoed", r.Body)
	}
}

func TestDeletedVersionMemory(t *testing.T) {
	clock := &fixedClock{t: time.Unix(1700000000, 0)}
	svc := openTest(t, Options{Now: clock.now})
	key := Key{Thing: "t"}
	for range 3 {
		mustOK(t, svc.Update(key, []byte(`{"state":{"reported":{"a":1}}}`)))
	}
	if v := version(t, mustOK(t, svc.Delete(key, nil)).Body); v != 3 {
		t.Fatalf("delete/accepted version %d, want 3 (not incremented)", v)
	}
	// Exactly 48 hours later the version is still remembered.
	clock.t = clock.t.Add(48 * time.Hour)
	if v := version(t, mustOK(t, svc.Update(key, []byte(`{"state":{}}`))).Body); v != 4 {
		t.Fatalf("recreated after 48h: version %d, want 4", v)
	}
	mustOK(t, svc.Delete(key, nil))
	clock.t = clock.t.Add(48*time.Hour + time.Second)
	r := mustOK(t, svc.Update(key, []byte(`{"state":{}}`)))
	if v := version(t, r.Body); v != 1 {
		t.Fatalf("recreated after more than 48h: version %d, want 1", v)
	}
}

func TestTimestampsFromInjectedClock(t *testing.T) {
	clock := &fixedClock{t: time.Unix(1234567890, 999_000_000)}
	svc := openTest(t, Options{Now: clock.now})
	r := mustOK(t, svc.Update(Key{Thing: "t"}, []byte(`{"state":{"desired":{"a":1}}}`)))
	for _, p := range r.Publications {
		if !strings.Contains(string(p.Payload), `"timestamp":1234567890`) || strings.Contains(string(p.Payload), "1234567890.") {
			t.Fatalf("%s: %s", p.Topic, p.Payload)
		}
	}
}

func TestStoredDocumentIsNotShared(t *testing.T) {
	// A later update must not change documents already returned (the engine mutates the decoded
	// copy in place; each request decodes its own).
	svc := openTest(t, Options{})
	key := Key{Thing: "t"}
	mustOK(t, svc.Update(key, []byte(`{"state":{"desired":{"o":{"a":1}}}}`)))
	first := string(mustOK(t, svc.Get(key, nil)).Body)
	mustOK(t, svc.Update(key, []byte(`{"state":{"desired":{"o":{"b":2}}}}`)))
	if again := string(mustOK(t, svc.Get(key, nil)).Body); again == first {
		t.Fatal("update not visible")
	}
	if !strings.Contains(first, `"o":{"a":1}}`) {
		t.Fatalf("first answer changed: %s", first)
	}
}

func TestDurableFollowsNoSync(t *testing.T) {
	for _, noSync := range []bool{false, true} {
		s, err := Open(filepath.Join(t.TempDir(), "s.db"), Options{NoSync: noSync})
		if err != nil {
			t.Fatal(err)
		}
		if s.Durable() == noSync {
			t.Errorf("NoSync %v: Durable() = %v", noSync, s.Durable())
		}
		s.Close()
	}
}
