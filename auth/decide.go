package auth

// Decision is the answer to one authorization question.
type Decision struct {
	Allowed bool
	// Policy is the policy whose statement decided: the Deny that matched, or else the first
	// Allow that matched. It is "" when no statement matched (default deny).
	Policy string
	// Statement is the index of that statement in its policy, -1 when none matched.
	Statement int
	// Reason is a human explanation, filled only by Explain: Decide must not allocate.
	Reason string
}

// Decide answers whether action is allowed on the resource resourceType/name (e.g. "topic",
// "a/b"), whose ARN is arn:PARTITION:iot:REGION:ACCOUNT:TYPE/NAME for this connection. Every
// Deny is consulted before any Allow, so an explicit Deny in any policy wins; with no matching
// statement the answer is deny.
//
// Decide runs on the per-message path and does not allocate: the ARN prefix was checked by
// Compile, and the resource part is matched piecewise without building the string. A nil
// *Compiled denies everything.
func (c *Compiled) Decide(action, resourceType, name string) Decision {
	idx, allowed := c.decide(action, resourceType, name)
	if idx < 0 {
		return Decision{Statement: -1}
	}
	if allowed && c.and != nil {
		if d := c.and.Decide(action, resourceType, name); !d.Allowed {
			return d
		}
	}
	st := &c.statements[idx]
	return Decision{Allowed: allowed, Policy: st.policy, Statement: st.index}
}

// decide returns the index in c.statements of the deciding statement (-1 for none) and whether
// it allows.
func (c *Compiled) decide(action, resourceType, name string) (int, bool) {
	if c == nil {
		return -1, false
	}
	res := subject{p: [3]string{resourceType, "/", name}}
	if a := knownActionIndex(action); a >= 0 {
		l := &c.byAction[a]
		for _, i := range l.deny {
			if c.statements[i].resourceApplies(&res) {
				return int(i), false
			}
		}
		for _, i := range l.allow {
			if c.statements[i].resourceApplies(&res) {
				return int(i), true
			}
		}
		return -1, false
	}
	for _, i := range c.any.deny {
		if st := &c.statements[i]; st.actionApplies(action) && st.resourceApplies(&res) {
			return int(i), false
		}
	}
	for _, i := range c.any.allow {
		if st := &c.statements[i]; st.actionApplies(action) && st.resourceApplies(&res) {
			return int(i), true
		}
	}
	return -1, false
}
