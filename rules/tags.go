package rules

import (
	"sort"
	"strings"
)

// RuleNameOfARN returns the rule name of a topic rule ARN (arn:aws:iot:<region>:<account>:rule/<name>).
func RuleNameOfARN(arn string) (string, bool) {
	_, name, ok := strings.Cut(arn, ":rule/")
	return name, ok && strings.HasPrefix(arn, "arn:") && name != ""
}

// updateRule applies f to a stored rule and persists it.
func (e *Engine) updateRule(name string, f func(r *Rule)) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	snap := e.rules.Load()
	old, ok := snap.byName[name]
	if !ok {
		return errorf(ErrNotFound, "Rule %s does not exist", name)
	}
	c := *old
	r := *old.rule
	r.Tags = append([]Tag(nil), r.Tags...)
	f(&r)
	c.rule = &r
	if err := e.st.put(bucketRules, name, c.rule); err != nil {
		return err
	}
	e.install(snap, name, &c)
	return nil
}

// TagRule adds or replaces tags of a rule (TagResource on a rule ARN).
func (e *Engine) TagRule(name string, tags []Tag) error {
	if len(tags) == 0 {
		return errorf(ErrInvalidRequest, "tags: at least one tag is required")
	}
	return e.updateRule(name, func(r *Rule) {
		for _, t := range tags {
			replaced := false
			for i := range r.Tags {
				if r.Tags[i].Key == t.Key {
					r.Tags[i].Value, replaced = t.Value, true
				}
			}
			if !replaced {
				r.Tags = append(r.Tags, t)
			}
		}
	})
}

// UntagRule removes tags by key (UntagResource on a rule ARN).
func (e *Engine) UntagRule(name string, keys []string) error {
	return e.updateRule(name, func(r *Rule) {
		kept := r.Tags[:0]
		for _, t := range r.Tags {
			drop := false
			for _, k := range keys {
				drop = drop || k == t.Key
			}
			if !drop {
				kept = append(kept, t)
			}
		}
		r.Tags = kept
	})
}

// RuleTags lists a rule's tags by key (ListTagsForResource on a rule ARN).
func (e *Engine) RuleTags(name string) ([]Tag, error) {
	c, ok := e.rules.Load().byName[name]
	if !ok {
		return nil, errorf(ErrNotFound, "Rule %s does not exist", name)
	}
	out := append([]Tag{}, c.rule.Tags...)
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}
