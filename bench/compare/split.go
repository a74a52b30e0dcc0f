package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// runSplit is the mode "split": it shares a CPU profile's samples out among categories, so that a
// profile reads as "key exchange 28 %, signatures 31 %, …" rather than as a list of functions.
// It reads the stacks from "go tool pprof -traces", keeps the samples with a frame matching
// --root (all by default), and gives each to the first category with a matching frame.
//
//	go run ./bench/compare split --set handshake --root 'listener\.\(\*Listener\)\.handle' BINARY PROFILE
//	go run ./bench/compare split --set broker BINARY PROFILE
func runSplit(args []string) error {
	fs := flag.NewFlagSet("split", flag.ContinueOnError)
	set := fs.String("set", "broker", "categories: handshake (TLS server handshake) or broker (a broker process under MQTT load)")
	root := fs.String("root", "", "keep only samples with a frame matching this regular expression")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return fmt.Errorf("split: give the binary and the profile")
	}
	cats, ok := splitSets[*set]
	if !ok {
		return fmt.Errorf("split: --set %q: handshake or broker", *set)
	}
	var rootRE *regexp.Regexp
	if *root != "" {
		var err error
		if rootRE, err = regexp.Compile(*root); err != nil {
			return fmt.Errorf("split: --root: %w", err)
		}
	}
	out, err := exec.Command("go", "tool", "pprof", "-traces", fs.Arg(0), fs.Arg(1)).Output()
	if err != nil {
		return fmt.Errorf("split: go tool pprof -traces: %w", err)
	}
	samples, err := parseTraces(out)
	if err != nil {
		return err
	}
	total, kept := 0.0, 0.0
	byCat := map[string]float64{}
	for _, s := range samples {
		total += s.ms
		if rootRE != nil && !anyMatch(rootRE, s.frames) {
			continue
		}
		kept += s.ms
		byCat[classify(cats, s.frames)] += s.ms
	}
	fmt.Printf("samples %.0f ms, kept %.0f ms\n", total, kept)
	names := make([]string, 0, len(byCat))
	for n := range byCat {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return byCat[names[i]] > byCat[names[j]] })
	for _, n := range names {
		fmt.Printf("| %s | %.0f ms | %.1f %% |\n", n, byCat[n], 100*byCat[n]/kept)
	}
	return nil
}

// category is a name and the frames that put a sample in it.
type category struct {
	name string
	re   *regexp.Regexp
}

// splitSets are the category lists, tried in order; a sample matching none is "other".
var splitSets = map[string][]category{
	"handshake": {
		{"key exchange (X25519, P-256 ECDH)", regexp.MustCompile(`crypto/ecdh|x25519|edwards25519`)},
		{"server signature (ECDSA, RSA)", regexp.MustCompile(`ecdsa\.(signFIPS|Sign|SignASN1|sign)|crypto\.SignMessage|rsa\.(Sign|sign|decrypt)`)},
		{"verifying the client's signature", regexp.MustCompile(`ecdsa\.(VerifyASN1|verify)|verifyHandshakeSignature|rsa\.Verify`)},
		{"X.509 parse of the client certificate", regexp.MustCompile(`x509\.(Parse|parse)`)},
		{"hashing, HKDF, record encryption", regexp.MustCompile(`sha256|sha512|hkdf|hmac|gcm|aes`)},
		{"syscalls", regexp.MustCompile(`syscall|internal/poll|netpoll`)},
		{"allocation and GC", regexp.MustCompile(`runtime\.(mallocgc|gcBgMarkWorker|newobject|makeslice|growslice|scanobject|gcDrain)`)},
	},
	"broker": {
		{"load generator (in-process)", regexp.MustCompile(`iotcore-local/bench\.`)},
		{"GC", regexp.MustCompile(`gcBgMarkWorker|runtime\.gcDrain|bgsweep|bgscavenge|gcAssist|runtime\.markroot|scanobject`)},
		{"hooks: Provides (Mochi's per-event dispatch)", regexp.MustCompile(`iotcore-local/hooks\.\(\*\w+\)\.Provides`)},
		{"hooks: session store", regexp.MustCompile(`iotcore-local/hooks\.\(\*Store\)`)},
		{"hooks: profile (limits, packet ids, resend order)", regexp.MustCompile(`iotcore-local/hooks\.\(\*(Profile|packetIDs|resendOrder)\)`)},
		{"hooks: authorizer and session lookup", regexp.MustCompile(`iotcore-local/hooks\.\(\*(Authorizer|sessions)\)|iotcore-local/auth`)},
		{"hooks: other", regexp.MustCompile(`iotcore-local/hooks\.`)},
		{"socket syscalls", regexp.MustCompile(`syscall|internal/poll`)},
		{"TLS record crypto", regexp.MustCompile(`crypto/|aes|gcm`)},
		{"Mochi (routing, packets, in-flight)", regexp.MustCompile(`mochi-mqtt`)},
	},
}

// classify names the first category with a frame matching.
func classify(cats []category, frames []string) string {
	for _, c := range cats {
		if anyMatch(c.re, frames) {
			return c.name
		}
	}
	return "other"
}

func anyMatch(re *regexp.Regexp, frames []string) bool {
	for _, f := range frames {
		if re.MatchString(f) {
			return true
		}
	}
	return false
}

// trace is one stack of "go tool pprof -traces" and its sample value.
type trace struct {
	ms     float64
	frames []string
}

// sampleLine is a trace's first line: its value, then its leaf frame.
var sampleLine = regexp.MustCompile(`^\s*([\d.]+)(ms|s|us|µs)\s+(.*)$`)

// parseTraces reads the text of "go tool pprof -traces": blocks separated by dashed lines, each
// a value with the leaf frame, then the callers, one per line.
func parseTraces(out []byte) ([]trace, error) {
	var traces []trace
	var cur *trace
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "-----------+") {
			cur = nil
			continue
		}
		if cur == nil {
			m := sampleLine.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			v, err := strconv.ParseFloat(m[1], 64)
			if err != nil {
				continue
			}
			switch m[2] {
			case "s":
				v *= 1000
			case "us", "µs":
				v /= 1000
			}
			traces = append(traces, trace{ms: v, frames: []string{strings.TrimSpace(m[3])}})
			cur = &traces[len(traces)-1]
			continue
		}
		if f := strings.TrimSpace(line); f != "" {
			cur.frames = append(cur.frames, f)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(traces) == 0 {
		return nil, fmt.Errorf("split: no samples in the pprof output")
	}
	return traces, nil
}
