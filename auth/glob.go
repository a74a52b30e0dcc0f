package auth

import "unicode/utf8"

// globOpKind is one step of a compiled wildcard pattern.
type globOpKind uint8

const (
	globLiteral globOpKind = iota // the literal text must appear here
	globOne                       // `?`: exactly one character
	globStar                      // `*`: any run of characters, possibly empty
)

type globOp struct {
	kind globOpKind
	lit  string // for globLiteral
}

// glob is a compiled IAM wildcard pattern: `*` matches any run of characters (including `/`),
// `?` exactly one character (one UTF-8 sequence). Everything else is literal, including text
// that came from a policy variable or a ${*} escape: the pattern is built from operations, never
// re-read from a string, so a substituted `*` can only match itself.
//
// Matching uses the classic single-backtrack-point algorithm: only the most recent `*` is ever
// retried, which is sufficient because the pieces between stars have a fixed number of
// characters. The worst case is O(len(pattern) × len(subject)); patterns like `*a*a*a*b` cannot
// blow up exponentially.
type glob struct {
	ops    []globOp
	fold   bool // compare literals ASCII-case-insensitively (action names)
	minLen int  // fewest bytes a match needs: literal bytes plus one per `?`
}

// globBuilder assembles a glob, merging adjacent literals and collapsing runs of `*`. A literal
// made of one piece keeps the caller's string; only a literal joined from several pieces is copied.
type globBuilder struct {
	ops    []globOp
	pend   string // the pending literal when it is a single piece
	buf    []byte // the pending literal when joined from several pieces
	joined bool   // buf, not pend, holds the pending literal
}

func (b *globBuilder) literal(s string) {
	switch {
	case s == "":
	case !b.joined && b.pend == "":
		b.pend = s
	default:
		if !b.joined {
			b.buf = append(b.buf[:0], b.pend...)
			b.joined = true
		}
		b.buf = append(b.buf, s...)
	}
}

func (b *globBuilder) flush() {
	lit := b.pend
	if b.joined {
		lit = string(b.buf)
	}
	b.pend, b.joined = "", false
	if lit != "" {
		b.ops = append(b.ops, globOp{kind: globLiteral, lit: lit})
	}
}

func (b *globBuilder) one() {
	b.flush()
	b.ops = append(b.ops, globOp{kind: globOne})
}

func (b *globBuilder) star() {
	b.flush()
	if n := len(b.ops); n > 0 && b.ops[n-1].kind == globStar {
		return
	}
	b.ops = append(b.ops, globOp{kind: globStar})
}

func (b *globBuilder) build(fold bool) glob {
	b.flush()
	g := glob{ops: b.ops, fold: fold}
	for _, op := range g.ops {
		switch op.kind {
		case globLiteral:
			g.minLen += len(op.lit)
		case globOne:
			g.minLen++
		}
	}
	b.ops = nil
	return g
}

// parseGlob compiles a pattern in which every `*` and `?` is a wildcard (action patterns, which
// have no variables).
func parseGlob(pattern string, fold bool) glob {
	b := globBuilder{ops: make([]globOp, 0, 2)} // "iot:Publish", "iot:*": one or two ops
	start := 0
	for i := 0; i < len(pattern); i++ {
		switch pattern[i] {
		case '*', '?':
			b.literal(pattern[start:i])
			if pattern[i] == '*' {
				b.star()
			} else {
				b.one()
			}
			start = i + 1
		}
	}
	b.literal(pattern[start:])
	return b.build(fold)
}

// isStar reports whether the glob matches everything.
func (g *glob) isStar() bool { return len(g.ops) == 1 && g.ops[0].kind == globStar }

// subject is the text a glob is matched against, given as up to three pieces that are matched
// as if concatenated. Decide matches "TYPE" + "/" + "NAME" this way without building the string.
type subject struct {
	p [3]string
}

func (s *subject) len() int { return len(s.p[0]) + len(s.p[1]) + len(s.p[2]) }

// hasAt reports whether lit occurs at byte offset i of the subject.
func (s *subject) hasAt(i int, lit string, fold bool) bool {
	for k := 0; k < len(s.p) && len(lit) > 0; k++ {
		p := s.p[k]
		if i >= len(p) {
			i -= len(p)
			continue
		}
		m := min(len(p)-i, len(lit))
		if !equalText(p[i:i+m], lit[:m], fold) {
			return false
		}
		lit = lit[m:]
		i = 0
	}
	return len(lit) == 0
}

// runeLen is the byte length of the character starting at offset i (1 for invalid UTF-8), so
// that `?` and the advance of `*` step over whole characters.
func (s *subject) runeLen(i int) int {
	for k := range s.p {
		p := s.p[k]
		if i >= len(p) {
			i -= len(p)
			continue
		}
		if p[i] < utf8.RuneSelf {
			return 1
		}
		_, w := utf8.DecodeRuneInString(p[i:])
		return w
	}
	return 1
}

// equalText compares two strings of equal length, optionally folding ASCII case.
func equalText(a, b string, fold bool) bool {
	if !fold {
		return a == b
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// match reports whether the whole subject matches the pattern. It does not allocate.
func (g *glob) match(s *subject) bool {
	n := s.len()
	if n < g.minLen {
		return false
	}
	ops := g.ops
	pi, ti := 0, 0
	backPi, backTi := -1, 0 // where to resume after the most recent `*`
	for {
		if pi < len(ops) {
			op := &ops[pi]
			switch op.kind {
			case globStar:
				pi++
				if pi == len(ops) {
					return true // a trailing `*` takes the rest
				}
				backPi, backTi = pi, ti
				continue
			case globLiteral:
				if s.hasAt(ti, op.lit, g.fold) {
					ti += len(op.lit)
					pi++
					continue
				}
			case globOne:
				if ti < n {
					ti += s.runeLen(ti)
					pi++
					continue
				}
			}
		} else if ti == n {
			return true
		}
		// Mismatch: let the most recent `*` take one more character and retry from there.
		if backPi < 0 || backTi >= n {
			return false
		}
		backTi += s.runeLen(backTi)
		pi, ti = backPi, backTi
	}
}

// matchString matches a single string.
func (g *glob) matchString(text string) bool {
	s := subject{p: [3]string{text}}
	return g.match(&s)
}
