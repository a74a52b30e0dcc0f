package shadow

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The transcripts in testdata/shadow/*.txt are exchanges with the shadow service as an MQTT client
// sees them, compared byte for byte. Format, one item a line:
//
//	# comment                  (kept; blank lines too)
//	@ 1700000000               the clock, in epoch seconds, for the following requests
//	> TOPIC PAYLOAD            a request published on a shadow request topic; PAYLOAD is the rest
//	                           of the line (may be empty)
//	= STATUS                   the expected Result.Status
//	< TOPIC PAYLOAD            an expected publication, in order
//	<! TOPIC PAYLOAD           an expected MQTT-only publication (the reply to the requester)
//
// The Result's Body must equal the payload of its first publication. Run
// `go test ./shadow -run TestFixtures -update` to rewrite the expectations from the current
// behaviour (then review the diff).

var updateFixtures = flag.Bool("update", false, "rewrite the expectations of testdata/shadow/*.txt")

const fixtureDir = "../testdata/shadow"

// transcriptLine is one parsed line of a transcript.
type transcriptLine struct {
	kind    string // "", "#", "@", ">", "=", "<", "<!"
	text    string // the whole line
	topic   string
	payload string
}

func parseTranscript(t *testing.T, path string) []transcriptLine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []transcriptLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		text := sc.Text()
		l := transcriptLine{text: text}
		switch {
		case strings.TrimSpace(text) == "":
		case strings.HasPrefix(text, "#"):
			l.kind = "#"
		case strings.HasPrefix(text, "@ "), strings.HasPrefix(text, "= "):
			l.kind, l.payload = text[:1], strings.TrimSpace(text[2:])
		case strings.HasPrefix(text, "> "), strings.HasPrefix(text, "< "), strings.HasPrefix(text, "<! "):
			kind, rest, _ := strings.Cut(text, " ")
			l.kind = kind
			l.topic, l.payload, _ = strings.Cut(rest, " ")
		default:
			t.Fatalf("%s:%d: cannot parse %q", path, n, text)
		}
		lines = append(lines, l)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// fixtureFiles returns the transcripts of testdata/shadow.
func fixtureFiles(t testing.TB) []string {
	files, err := filepath.Glob(filepath.Join(fixtureDir, "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures in %s: %v", fixtureDir, err)
	}
	return files
}

func TestFixtures(t *testing.T) {
	for _, path := range fixtureFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) { runTranscript(t, path) })
	}
}

func runTranscript(t *testing.T, path string) {
	lines := parseTranscript(t, path)
	clock := time.Unix(1700000000, 0)
	svc := openTest(t, Options{Now: func() time.Time { return clock }})
	var out bytes.Buffer
	var want, got []string // expectations of the current request
	lineOf := 0
	flush := func() {
		if !*updateFixtures && strings.Join(want, "\n") != strings.Join(got, "\n") {
			t.Errorf("%s:%d: request answered\n%s\nwant\n%s", path, lineOf, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		for _, g := range got {
			out.WriteString(g + "\n")
		}
		want, got = nil, nil
	}
	for i, l := range lines {
		switch l.kind {
		case "=", "<", "<!":
			want = append(want, l.text)
			continue
		case ">":
			flush()
			lineOf = i + 1
			key, op, ok := ParseTopic(l.topic)
			if !ok {
				t.Fatalf("%s:%d: %q is not a shadow request topic", path, i+1, l.topic)
			}
			res := svc.Handle(key, op, []byte(l.payload))
			got = append(got, "= "+strconv.Itoa(res.Status))
			for _, p := range res.Publications {
				mark := "<"
				if p.MQTTOnly {
					mark = "<!"
				}
				got = append(got, fmt.Sprintf("%s %s %s", mark, p.Topic, p.Payload))
			}
			if len(res.Publications) > 0 && !bytes.Equal(res.Body, res.Publications[0].Payload) {
				t.Errorf("%s:%d: Body %s differs from the reply publication %s", path, i+1, res.Body, res.Publications[0].Payload)
			}
			checkResultJSON(t, res)
		case "@":
			flush()
			sec, err := strconv.ParseInt(l.payload, 10, 64)
			if err != nil {
				t.Fatalf("%s:%d: bad clock %q", path, i+1, l.payload)
			}
			clock = time.Unix(sec, 0)
		default:
			flush()
		}
		out.WriteString(l.text + "\n")
	}
	flush()
	if *updateFixtures {
		if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
