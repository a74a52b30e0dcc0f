package auth

import (
	"fmt"
	"strings"
)

// Explain answers like Decide and fills Reason: which statement allowed or denied, and with which
// resource pattern; for a default deny, the nearest candidate — an Allow statement covering the
// action whose resource did not match, or whose Condition was false for this connection — and
// why (unresolved variables, another account or region, the condition that was false and the
// value it saw). An allow also names a Deny that would have applied but for its Condition. It
// allocates, so it is meant for denials and logs, not for every message.
func (c *Compiled) Explain(action, resourceType, name string) Decision {
	var env Environment
	if c != nil {
		env = c.env
	}
	arn := ResourceARN(env, resourceType, name)
	idx, allowed := c.decide(action, resourceType, name)
	if idx >= 0 {
		st := &c.statements[idx]
		res := subject{p: [3]string{resourceType, "/", name}}
		d := Decision{Allowed: allowed, Policy: st.policy, Statement: st.index}
		if allowed && c.and != nil {
			if d2 := c.and.Explain(action, resourceType, name); !d2.Allowed {
				d2.Reason = c.andLabel + " " + d2.Reason
				return d2
			}
		}
		if allowed {
			d.Reason = fmt.Sprintf("allowed: %s allows %s on %s (%s)", st.describe(), action, arn, st.matchNote(&res)) + st.conditionNote()
			if ex := c.excludedCovering(action, &res, true); ex != nil {
				d.Reason += fmt.Sprintf("; %s would deny it but does not apply: %s", ex.describe(), c.whyExcluded(ex))
			}
		} else {
			d.Reason = fmt.Sprintf("denied: %s explicitly denies %s on %s (%s)", st.describe(), action, arn, st.matchNote(&res)) + st.conditionNote()
		}
		return d
	}
	d := Decision{Statement: -1, Reason: fmt.Sprintf("denied: no statement allows %s on %s", action, arn)}
	if c == nil || len(c.statements) == 0 {
		d.Reason += "; no policy is attached"
		return d
	}
	d.Reason += "; " + c.nearest(action, resourceType, name, arn)
	return d
}

// ExcludedStatement is a statement left out of a connection's decisions because its Condition
// is false for that connection.
type ExcludedStatement struct {
	Policy    string
	Statement int    // index in its policy
	Reason    string // the condition that was false and the value it saw
}

// Excluded lists, in policy and document order, the statements whose Condition is false for
// this connection, with the reason: for logs and transcripts at CONNECT. It allocates.
func (c *Compiled) Excluded() []ExcludedStatement {
	if c == nil {
		return nil
	}
	var out []ExcludedStatement
	for i := range c.statements {
		if st := &c.statements[i]; st.excluded {
			out = append(out, ExcludedStatement{Policy: st.policy, Statement: st.index, Reason: c.whyExcluded(st)})
		}
	}
	return out
}

// whyExcluded says which condition of an excluded statement was false, and why.
func (c *Compiled) whyExcluded(st *compiledStatement) string {
	if st.condErr != "" {
		return st.condErr
	}
	if st.failed < 0 {
		return "its Condition is false"
	}
	return whyFalse(newScope(&c.env), &st.conditions[st.failed], st.vars)
}

// conditionNote tells, for a statement that decided, what its Condition did.
func (st *compiledStatement) conditionNote() string {
	switch {
	case st.condErr != "":
		return "; its Condition cannot be evaluated (" + st.condErr + "), so the Deny applies as if unconditional"
	case len(st.conditions) > 0:
		return "; its Condition holds for this connection"
	}
	return ""
}

// excludedCovering returns the first excluded statement of the given effect that covers the
// action and resource, or nil.
func (c *Compiled) excludedCovering(action string, res *subject, deny bool) *compiledStatement {
	for i := range c.statements {
		st := &c.statements[i]
		if st.excluded && st.deny == deny && st.actionApplies(action) && st.resourceApplies(res) {
			return st
		}
	}
	return nil
}

// describe names a statement for messages: policy "P" statement 2 (Sid "X").
func (st *compiledStatement) describe() string {
	s := fmt.Sprintf("policy %q statement %d", st.policy, st.index)
	if st.source.Sid != "" {
		s += fmt.Sprintf(" (Sid %q)", st.source.Sid)
	}
	return s
}

// matchNote says which resource entry made a statement apply.
func (st *compiledStatement) matchNote(res *subject) string {
	if st.notResource {
		return "its NotResource does not list it"
	}
	i := st.matchedResource(res)
	if i < 0 {
		return "no resource matched" // not reached: the statement applied
	}
	return "Resource " + st.resources[i].describe()
}

// describe shows a pattern as written and, when variables changed it, as resolved.
func (r *resourcePattern) describe() string {
	if r.display == r.source {
		return fmt.Sprintf("%q", r.source)
	}
	return fmt.Sprintf("%q resolved to %q", r.source, r.display)
}

// whyNoMatch lists what keeps a pattern from matching beyond its text: a foreign ARN prefix and
// variables without a value.
func (r *resourcePattern) whyNoMatch(sc *scope) string {
	var notes []string
	if r.none {
		notes = append(notes, r.whyNone)
	}
	if r.literalVars {
		notes = append(notes, `its policy lacks "Version": "2012-10-17", so ${...} is literal text, not a policy variable`)
	}
	for _, v := range r.unresolved {
		notes = append(notes, fmt.Sprintf("${%s} has no value: %s", v, sc.whyUnresolved(v)))
	}
	return strings.Join(notes, "; ")
}

// nearest describes the Allow statement that came closest to allowing action on the resource.
func (c *Compiled) nearest(action, resourceType, name, arn string) string {
	res := subject{p: [3]string{resourceType, "/", name}}
	var (
		best      *compiledStatement
		bestRes   = -1 // index in best.resources; -1 for an excluding NotResource
		bestScore = -1
		covering  int
	)
	for i := range c.statements {
		st := &c.statements[i]
		if st.deny || st.source.Effect != EffectAllow || !st.actionApplies(action) {
			continue
		}
		covering++
		if st.excluded && st.resourceApplies(&res) {
			return fmt.Sprintf("%s would allow it but does not apply: %s", st.describe(), c.whyExcluded(st))
		}
		if st.notResource {
			if i := st.matchedResource(&res); i >= 0 && len(arn)+1 > bestScore {
				best, bestRes, bestScore = st, -1-i, len(arn)+1
			}
			continue
		}
		for j := range st.resources {
			if score := commonPrefix(st.resources[j].display, arn); score > bestScore {
				best, bestRes, bestScore = st, j, score
			}
		}
	}
	if best == nil {
		if covering == 0 {
			return fmt.Sprintf("no Allow statement in the %d attached %s covers %s", c.policies, plural(c.policies, "policy", "policies"), action)
		}
		return "no candidate statement"
	}
	if bestRes < 0 {
		r := &best.resources[-1-bestRes]
		return fmt.Sprintf("nearest candidate: %s allows %s except on NotResource %s, which matches it", best.describe(), action, r.describe())
	}
	r := &best.resources[bestRes]
	s := fmt.Sprintf("nearest candidate: %s allows %s on %s", best.describe(), action, r.describe())
	if why := r.whyNoMatch(newScope(&c.env)); why != "" {
		s += ", which cannot match: " + why
	}
	if best.excluded {
		s += "; besides, it does not apply: " + c.whyExcluded(best)
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}
