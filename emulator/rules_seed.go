package emulator

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/iotcore-local/iotcore-local/rules"
)

// SeedRule is a topic rule of the seed file: its name and the members of a topicRulePayload.
// An existing rule of that name is kept as it is.
type SeedRule struct {
	Name             string            `json:"name"`
	SQL              string            `json:"sql"`
	Description      string            `json:"description"`
	AwsIotSqlVersion string            `json:"awsIotSqlVersion"`
	RuleDisabled     bool              `json:"ruleDisabled"`
	Actions          []json.RawMessage `json:"actions"`
	ErrorAction      json.RawMessage   `json:"errorAction"`
}

func (r SeedRule) payload() *rules.Payload {
	sql := r.SQL
	actions := r.Actions
	if actions == nil {
		actions = []json.RawMessage{}
	}
	return &rules.Payload{SQL: &sql, Description: r.Description, AwsIotSqlVersion: r.AwsIotSqlVersion,
		RuleDisabled: r.RuleDisabled, Actions: actions, ErrorAction: r.ErrorAction}
}

// checkSeedRules validates every seed rule before anything is applied.
func (e *Emulator) checkSeedRules(list []SeedRule) error {
	var errs []error
	seen := map[string]bool{}
	for i, r := range list {
		if seen[r.Name] {
			errs = append(errs, fmt.Errorf("rules[%d] (%s): declared twice", i, r.Name))
		}
		seen[r.Name] = true
		if err := e.rules.CheckRule(r.Name, r.payload()); err != nil {
			errs = append(errs, fmt.Errorf("rules[%d] (%s): %w", i, r.Name, err))
		}
	}
	return errors.Join(errs...)
}

// applySeedRules creates the seed rules that do not exist yet.
func (e *Emulator) applySeedRules(list []SeedRule) error {
	for _, r := range list {
		if _, err := e.rules.GetRule(r.Name); err == nil {
			continue
		}
		if err := e.rules.CreateRule(r.Name, r.payload(), nil); err != nil {
			return fmt.Errorf("rule %s: %w", r.Name, err)
		}
	}
	return nil
}
