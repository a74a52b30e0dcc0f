package rules

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"sort"
	"strconv"
	"strings"
)

// ARN is a rule's ARN.
func (e *Engine) ARN(name string) string {
	return fmt.Sprintf("arn:aws:iot:%s:%s:rule/%s", e.opts.Region, e.opts.Account, name)
}

// CreateRule stores a new rule (CreateTopicRule).
func (e *Engine) CreateRule(name string, payload *Payload, tags []Tag) error {
	if err := CheckName(name); err != nil {
		return err
	}
	c, err := e.compile(name, payload)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	snap := e.rules.Load()
	if _, ok := snap.byName[name]; ok {
		return errorf(ErrAlreadyExists, "Rule %s already exists in this account", name)
	}
	c.rule.CreatedAt = e.opts.Now().UTC().Truncate(1e6)
	c.rule.Tags = tags
	if err := e.st.put(bucketRules, name, c.rule); err != nil {
		return err
	}
	e.install(snap, name, c)
	e.ensureDestinations(c)
	e.log.Info("topic rule created", "rule", name, "sql", c.rule.SQL, "version", c.rule.Version, "disabled", c.rule.Disabled, "actions", len(c.actions))
	return nil
}

// ReplaceRule replaces a rule's payload, keeping its creation time (ReplaceTopicRule).
func (e *Engine) ReplaceRule(name string, payload *Payload) error {
	c, err := e.compile(name, payload)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	snap := e.rules.Load()
	old, ok := snap.byName[name]
	if !ok {
		return errorf(ErrUnauthorized, "Access to topic rule '%s' was denied", name)
	}
	c.rule.CreatedAt, c.rule.Tags = old.rule.CreatedAt, old.rule.Tags
	if err := e.st.put(bucketRules, name, c.rule); err != nil {
		return err
	}
	e.install(snap, name, c)
	e.ensureDestinations(c)
	e.log.Info("topic rule replaced", "rule", name, "sql", c.rule.SQL)
	return nil
}

// install publishes a snapshot with name set to c (nil removes it).
func (e *Engine) install(old *snapshot, name string, c *compiled) {
	next := &snapshot{byName: maps.Clone(old.byName)}
	if c == nil {
		delete(next.byName, name)
	} else {
		next.byName[name] = c
	}
	e.publish(next)
}

// GetRule returns a rule (GetTopicRule). A missing rule is UnauthorizedException, as on AWS.
func (e *Engine) GetRule(name string) (*Rule, error) {
	c, ok := e.rules.Load().byName[name]
	if !ok {
		return nil, errorf(ErrUnauthorized, "Access to topic rule '%s' was denied", name)
	}
	r := *c.rule
	return &r, nil
}

// DeleteRule removes a rule (DeleteTopicRule). Deleting a missing rule is
// UnauthorizedException too.
func (e *Engine) DeleteRule(name string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	snap := e.rules.Load()
	if _, ok := snap.byName[name]; !ok {
		return errorf(ErrUnauthorized, "Access to topic rule '%s' was denied", name)
	}
	if err := e.st.delete(bucketRules, name); err != nil {
		return err
	}
	e.install(snap, name, nil)
	e.amu.Lock()
	delete(e.activity, name)
	e.amu.Unlock()
	e.log.Info("topic rule deleted", "rule", name)
	return nil
}

// SetEnabled enables or disables a rule (EnableTopicRule, DisableTopicRule).
func (e *Engine) SetEnabled(name string, enabled bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	snap := e.rules.Load()
	old, ok := snap.byName[name]
	if !ok {
		return errorf(ErrUnauthorized, "Access to topic rule '%s' was denied", name)
	}
	c := *old
	r := *old.rule
	r.Disabled = !enabled
	c.rule = &r
	if err := e.st.put(bucketRules, name, c.rule); err != nil {
		return err
	}
	e.install(snap, name, &c)
	e.log.Info("topic rule switched", "rule", name, "enabled", enabled)
	return nil
}

// ListItem is one entry of ListTopicRules.
type ListItem struct {
	RuleArn      string  `json:"ruleArn"`
	RuleName     string  `json:"ruleName"`
	TopicPattern string  `json:"topicPattern"`
	CreatedAt    float64 `json:"createdAt"`
	RuleDisabled bool    `json:"ruleDisabled"`
}

// ListRules lists rules by name (ListTopicRules): topic filters on the FROM pattern,
// disabled (when not nil) on the state; nextToken is opaque.
func (e *Engine) ListRules(topic string, disabled *bool, max int, nextToken string) ([]ListItem, string, error) {
	start := 0
	if nextToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(nextToken)
		n, err2 := strconv.Atoi(string(b))
		if err != nil || err2 != nil || n < 0 {
			return nil, "", errorf(ErrInvalidRequest, "nextToken is not valid")
		}
		start = n
	}
	snap := e.rules.Load()
	names := make([]string, 0, len(snap.byName))
	for n := range snap.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	var all []ListItem
	for _, n := range names {
		r := snap.byName[n].rule
		pattern := ""
		if c := snap.byName[n]; c.stmt != nil {
			pattern = c.stmt.Topic()
		}
		if topic != "" && pattern != topic {
			continue
		}
		if disabled != nil && r.Disabled != *disabled {
			continue
		}
		all = append(all, ListItem{RuleArn: e.ARN(n), RuleName: n, TopicPattern: pattern, CreatedAt: float64(r.CreatedAt.UnixMilli()) / 1000, RuleDisabled: r.Disabled})
	}
	if max <= 0 {
		max = 1000
	}
	if start > len(all) {
		start = len(all)
	}
	end := min(start+max, len(all))
	next := ""
	if end < len(all) {
		next = base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end)))
	}
	page := all[start:end]
	if page == nil {
		page = []ListItem{}
	}
	return page, next, nil
}

// MarshalRule is GetTopicRule's rule member.
func MarshalRule(r *Rule) map[string]any {
	out := map[string]any{
		"ruleName":         r.Name,
		"sql":              r.SQL,
		"description":      r.Description,
		"createdAt":        float64(r.CreatedAt.UnixMilli()) / 1000,
		"actions":          r.Actions,
		"ruleDisabled":     r.Disabled,
		"awsIotSqlVersion": r.Version,
	}
	if r.Actions == nil {
		out["actions"] = []json.RawMessage{}
	}
	if len(r.ErrorAction) > 0 {
		out["errorAction"] = r.ErrorAction
	}
	return out
}

// CheckRule validates a rule name and payload without storing anything (seed files check
// every rule before applying any).
func (e *Engine) CheckRule(name string, payload *Payload) error {
	if err := CheckName(name); err != nil {
		return err
	}
	_, err := e.compile(name, payload)
	return err
}

// MatchTopic reports whether a topic matches a FROM topic filter.
func MatchTopic(filter, topic string) bool {
	return matchFilter(strings.Split(filter, "/"), topic)
}
