package sql

import (
	"fmt"
	"strings"
	"time"
)

// parseTime is parse_time(pattern, epochMs[, zone]): the time formatted with a Joda-Time
// pattern, in UTC unless a zone is given.
func parseTime(c *evalCtx, a []Value) Value {
	pattern, ok := a[0].(string)
	ms, ok2 := toInt(a[1])
	if !ok || !ok2 {
		return undef
	}
	loc := time.UTC
	if len(a) == 3 {
		z, ok := a[2].(string)
		if !ok {
			return undef
		}
		l, err := time.LoadLocation(z)
		if err != nil {
			return undef
		}
		loc = l
	}
	s, err := formatJoda(pattern, time.UnixMilli(ms).In(loc))
	if err != nil {
		return undef
	}
	return s
}

// timeToEpoch is time_to_epoch(text, pattern): the epoch milliseconds of a time written with a
// java.time DateTimeFormatter pattern; no zone in the pattern means UTC.
func timeToEpoch(c *evalCtx, a []Value) Value {
	text, ok := a[0].(string)
	pattern, ok2 := a[1].(string)
	if !ok || !ok2 {
		return undef
	}
	loc := time.UTC
	// A pattern ending in a zone ID (VV) or name (z): the zone is the text's last word.
	for _, suffix := range []string{" VV", " zzzz", " zzz", " z"} {
		if strings.HasSuffix(pattern, suffix) {
			i := strings.LastIndexByte(text, ' ')
			if i < 0 {
				return undef
			}
			l, ok := zoneNamed(text[i+1:])
			if !ok {
				return undef
			}
			pattern, text, loc = strings.TrimSuffix(pattern, suffix), text[:i], l
			break
		}
	}
	layout, err := goLayout(pattern)
	if err != nil {
		return undef
	}
	t, err := time.ParseInLocation(layout, text, loc)
	if err != nil {
		return undef
	}
	return t.UnixMilli()
}

// patternRuns splits a Joda/java.time pattern into letter runs and literals ('quoted' text and
// non-letters).
func patternRuns(p string, f func(letter rune, n int, lit string) error) error {
	r := []rune(p)
	for i := 0; i < len(r); {
		c := r[i]
		switch {
		case c == '\'':
			j := i + 1
			var sb strings.Builder
			for j < len(r) {
				if r[j] == '\'' {
					if j+1 < len(r) && r[j+1] == '\'' {
						sb.WriteRune('\'')
						j += 2
						continue
					}
					break
				}
				sb.WriteRune(r[j])
				j++
			}
			if j >= len(r) {
				return fmt.Errorf("unclosed quote in pattern")
			}
			lit := sb.String()
			if j == i+1 {
				lit = "'"
			}
			if err := f(0, 0, lit); err != nil {
				return err
			}
			i = j + 1
		case (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'):
			j := i
			for j < len(r) && r[j] == c {
				j++
			}
			if err := f(c, j-i, ""); err != nil {
				return err
			}
			i = j
		default:
			if err := f(0, 0, string(c)); err != nil {
				return err
			}
			i++
		}
	}
	return nil
}

func formatJoda(p string, t time.Time) (string, error) {
	var sb strings.Builder
	pad := func(v, n int) { sb.WriteString(fmt.Sprintf("%0*d", n, v)) }
	err := patternRuns(p, func(c rune, n int, lit string) error {
		switch c {
		case 0:
			sb.WriteString(lit)
		case 'y', 'Y', 'u':
			if n == 2 {
				pad(t.Year()%100, 2)
			} else {
				pad(t.Year(), n)
			}
		case 'M':
			switch {
			case n >= 4:
				sb.WriteString(t.Month().String())
			case n == 3:
				sb.WriteString(t.Month().String()[:3])
			default:
				pad(int(t.Month()), n)
			}
		case 'd':
			pad(t.Day(), n)
		case 'D':
			pad(t.YearDay(), n)
		case 'H':
			pad(t.Hour(), n)
		case 'k':
			h := t.Hour()
			if h == 0 {
				h = 24
			}
			pad(h, n)
		case 'h':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			pad(h, n)
		case 'K':
			pad(t.Hour()%12, n)
		case 'm':
			pad(t.Minute(), n)
		case 's':
			pad(t.Second(), n)
		case 'S':
			frac := fmt.Sprintf("%09d", t.Nanosecond())
			if n > 9 {
				frac += strings.Repeat("0", n-9)
			}
			sb.WriteString(frac[:n])
		case 'a':
			if t.Hour() < 12 {
				sb.WriteString("AM")
			} else {
				sb.WriteString("PM")
			}
		case 'E':
			if n >= 4 {
				sb.WriteString(t.Weekday().String())
			} else {
				sb.WriteString(t.Weekday().String()[:3])
			}
		case 'e':
			wd := int(t.Weekday())
			if wd == 0 {
				wd = 7
			}
			pad(wd, n)
		case 'Z':
			switch n {
			case 1:
				sb.WriteString(t.Format("-0700"))
			case 2:
				sb.WriteString(t.Format("-07:00"))
			default:
				sb.WriteString(t.Location().String())
			}
		case 'z':
			sb.WriteString(t.Format("MST"))
		case 'G':
			sb.WriteString("AD")
		default:
			return fmt.Errorf("pattern letter %c not supported", c)
		}
		return nil
	})
	return sb.String(), err
}

// goLayout converts a java.time pattern into a Go time layout.
func goLayout(p string) (string, error) {
	var sb strings.Builder
	err := patternRuns(p, func(c rune, n int, lit string) error {
		if c == 0 {
			if strings.ContainsAny(lit, "0123456789") {
				return fmt.Errorf("digits in a literal are not supported")
			}
			sb.WriteString(lit)
			return nil
		}
		m := map[rune]map[int]string{
			'y': {2: "06", 4: "2006"}, 'u': {2: "06", 4: "2006"},
			'M': {1: "1", 2: "01", 3: "Jan", 4: "January"},
			'd': {1: "2", 2: "02"}, 'H': {1: "15", 2: "15"}, 'h': {1: "3", 2: "03"},
			'm': {1: "4", 2: "04"}, 's': {1: "5", 2: "05"}, 'a': {1: "PM"},
			'E': {3: "Mon", 4: "Monday"}, 'z': {1: "MST", 3: "MST"},
			'Z': {1: "-0700", 3: "-0700"}, 'X': {1: "Z07", 2: "Z0700", 3: "Z07:00"},
			'x': {2: "-0700", 3: "-07:00"},
		}
		if c == 'S' {
			s := sb.String()
			if strings.HasSuffix(s, ".") || strings.HasSuffix(s, ",") {
				sb.WriteString(strings.Repeat("0", n))
				return nil
			}
			return fmt.Errorf("fraction S must follow . or ,")
		}
		if n > 4 {
			n = 4
		}
		if l, ok := m[c][n]; ok {
			sb.WriteString(l)
			return nil
		}
		return fmt.Errorf("pattern letter %c×%d not supported", c, n)
	})
	return sb.String(), err
}

// zoneNamed resolves a java.time zone ID: Z, UTC, GMT, an offset (+01:00), a prefixed offset
// (UTC+01:00) or a region (America/Los_Angeles).
func zoneNamed(z string) (*time.Location, bool) {
	for _, p := range []string{"UTC", "GMT", "UT", ""} {
		rest, ok := strings.CutPrefix(z, p)
		if !ok {
			continue
		}
		if rest == "" || rest == "Z" {
			if p != "" || rest == "Z" {
				return time.UTC, true
			}
			continue
		}
		if t, err := time.Parse("-07:00", rest); err == nil {
			_, off := t.Zone()
			return time.FixedZone(z, off), true
		}
		if t, err := time.Parse("-0700", rest); err == nil {
			_, off := t.Zone()
			return time.FixedZone(z, off), true
		}
	}
	l, err := time.LoadLocation(z)
	return l, err == nil
}
