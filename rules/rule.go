package rules

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/iotcore-local/iotcore-local/rules/sql"
)

// Rule is a topic rule as stored and as GetTopicRule echoes it: the payload's members as
// given (action objects kept verbatim, unknown keys included), its name and creation time.
type Rule struct {
	Name        string            `json:"ruleName"`
	SQL         string            `json:"sql"`
	Description string            `json:"description,omitempty"`
	Actions     []json.RawMessage `json:"actions"`
	ErrorAction json.RawMessage   `json:"errorAction,omitempty"`
	Disabled    bool              `json:"ruleDisabled"`
	// Version is the awsIotSqlVersion in force (2015-10-08 when the payload named none).
	Version   string    `json:"awsIotSqlVersion"`
	CreatedAt time.Time `json:"createdAt"`
	Tags      []Tag     `json:"tags,omitempty"`
}

// Tag is one resource tag (x-amz-tagging of CreateTopicRule).
type Tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// Payload is the topicRulePayload of CreateTopicRule and ReplaceTopicRule.
type Payload struct {
	SQL              *string           `json:"sql"`
	Description      string            `json:"description"`
	Actions          []json.RawMessage `json:"actions"`
	RuleDisabled     bool              `json:"ruleDisabled"`
	AwsIotSqlVersion string            `json:"awsIotSqlVersion"`
	ErrorAction      json.RawMessage   `json:"errorAction"`
}

// ParsePayload decodes a topicRulePayload, naming the member that has the wrong type.
func ParsePayload(data []byte) (*Payload, error) {
	var p Payload
	if err := json.Unmarshal(data, &p); err != nil {
		var te *json.UnmarshalTypeError
		if ok := asType(err, &te); ok {
			return nil, errorf(ErrInvalidRequest, "topicRulePayload.%s: expected %s, found %s", te.Field, te.Type, te.Value)
		}
		return nil, errorf(ErrInvalidRequest, "topicRulePayload is not valid JSON: %v", err)
	}
	return &p, nil
}

func asType(err error, target **json.UnmarshalTypeError) bool {
	te, ok := err.(*json.UnmarshalTypeError)
	if ok {
		*target = te
	}
	return ok
}

var ruleNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_]+$`)

// CheckName validates a rule name as AWS does.
func CheckName(name string) error {
	if len(name) < 1 || len(name) > 128 || !ruleNamePattern.MatchString(name) {
		return errorf(ErrInvalidRequest, "1 validation error detected: Value '%s' at 'ruleName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9_]+$", name)
	}
	return nil
}

// maxActions is AWS's limit on a rule's actions.
const maxActions = 10

// compiled is a rule ready to run.
type compiled struct {
	rule        *Rule
	stmt        *sql.Statement
	filter      []string // FROM split in levels; nil = Basic Ingest only
	actions     []action
	errorAction action
	// usesTrace is set when the statement or a template calls traceid(): only then is a
	// message's trace ID made.
	usesTrace bool
}

// compile checks a payload and builds what runs it. Every error names the member.
func (e *Engine) compile(name string, p *Payload) (*compiled, error) {
	if p.SQL == nil || strings.TrimSpace(*p.SQL) == "" {
		return nil, errorf(ErrInvalidRequest, "topicRulePayload.sql is required")
	}
	if err := sql.CheckVersion(p.AwsIotSqlVersion); err != nil {
		return nil, errorf(ErrInvalidRequest, "topicRulePayload.awsIotSqlVersion: %v", err)
	}
	version := p.AwsIotSqlVersion
	if version == "" {
		version = sql.DefaultVersion
	}
	stmt, err := sql.Parse(*p.SQL, version)
	if err != nil {
		return nil, errorf(ErrSQLParse, "Expression %q could not be parsed: %v", *p.SQL, err)
	}
	if p.Actions == nil {
		return nil, errorf(ErrInvalidRequest, "topicRulePayload.actions is required")
	}
	if len(p.Actions) > maxActions {
		return nil, errorf(ErrInvalidRequest, "topicRulePayload.actions has %d actions; the maximum is %d", len(p.Actions), maxActions)
	}
	if len(p.Description) > 2028 {
		return nil, errorf(ErrInvalidRequest, "topicRulePayload.description is longer than 2028 characters")
	}
	c := &compiled{stmt: stmt, usesTrace: slices.Contains(stmt.Functions(), "traceid")}
	for _, a := range append(append([]json.RawMessage{}, p.Actions...), p.ErrorAction) {
		if strings.Contains(strings.ToLower(string(a)), "traceid") {
			c.usesTrace = true
		}
	}
	if f := stmt.Topic(); f != "" {
		c.filter = strings.Split(f, "/")
	}
	for i, raw := range p.Actions {
		a, err := e.compileAction(raw, fmt.Sprintf("topicRulePayload.actions[%d]", i), version, false)
		if err != nil {
			return nil, err
		}
		c.actions = append(c.actions, a)
	}
	if len(p.ErrorAction) > 0 && string(p.ErrorAction) != "null" {
		a, err := e.compileAction(p.ErrorAction, "topicRulePayload.errorAction", version, true)
		if err != nil {
			return nil, err
		}
		c.errorAction = a
	}
	c.rule = &Rule{
		Name: name, SQL: *p.SQL, Description: p.Description, Actions: p.Actions,
		Disabled: p.RuleDisabled, Version: version,
	}
	if c.errorAction != nil {
		c.rule.ErrorAction = p.ErrorAction
	}
	return c, nil
}

// matchFilter reports whether a topic matches a topic filter split in levels. Filters starting
// with a wildcard do not match $-topics, as in MQTT.
func matchFilter(filter []string, topic string) bool {
	if len(filter) == 0 {
		return false
	}
	if strings.HasPrefix(topic, "$") && (filter[0] == "+" || filter[0] == "#") {
		return false
	}
	rest := topic
	for i, f := range filter {
		if f == "#" {
			return true
		}
		var level string
		j := strings.IndexByte(rest, '/')
		if j < 0 {
			level, rest = rest, ""
			if i != len(filter)-1 {
				// topic ended; a/# also matches a
				return i == len(filter)-2 && filter[i+1] == "#" && (f == "+" || f == level)
			}
		} else {
			level, rest = rest[:j], rest[j+1:]
			if i == len(filter)-1 {
				return false
			}
		}
		if f != "+" && f != level {
			return false
		}
	}
	return true
}
