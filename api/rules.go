package api

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/iotcore-local/iotcore-local/rules"
)

// This file serves the rules engine's control plane: topic rules (Create/Get/Replace/Delete/
// Enable/Disable/ListTopicRules), HTTP topic rule destinations (Create/Get/Update/Delete/List,
// ConfirmTopicRuleDestination), and the emulator's GET /_iotcore/rules/{ruleName}/activity.
// Every decision is the rules package's; this file only maps the wire.

// ruleRoutes adds the rules routes when the emulator has a rules engine.
func (s *server) ruleRoutes(rt *router) {
	if s.cfg.Rules == nil {
		return
	}
	rt.add(http.MethodGet, "/rules", "ListTopicRules", s.listTopicRules)
	rt.add(http.MethodPost, "/rules/{ruleName}", "CreateTopicRule", s.createTopicRule)
	rt.add(http.MethodGet, "/rules/{ruleName}", "GetTopicRule", s.getTopicRule)
	rt.add(http.MethodPatch, "/rules/{ruleName}", "ReplaceTopicRule", s.replaceTopicRule)
	rt.add(http.MethodDelete, "/rules/{ruleName}", "DeleteTopicRule", s.deleteTopicRule)
	rt.add(http.MethodPost, "/rules/{ruleName}/enable", "EnableTopicRule", s.enableTopicRule)
	rt.add(http.MethodPost, "/rules/{ruleName}/disable", "DisableTopicRule", s.disableTopicRule)
	rt.add(http.MethodPost, "/destinations", "CreateTopicRuleDestination", s.createTopicRuleDestination)
	rt.add(http.MethodGet, "/destinations", "ListTopicRuleDestinations", s.listTopicRuleDestinations)
	rt.add(http.MethodPatch, "/destinations", "UpdateTopicRuleDestination", s.updateTopicRuleDestination)
	// {arn+} is greedy: an HTTP destination's ARN ends in ruledestination/http/<id>.
	rt.add(http.MethodGet, "/destinations/{a}/{b}/{c}", "GetTopicRuleDestination", s.getTopicRuleDestination)
	rt.add(http.MethodDelete, "/destinations/{a}/{b}/{c}", "DeleteTopicRuleDestination", s.deleteTopicRuleDestination)
	rt.add(http.MethodGet, "/destinations/{a}", "GetTopicRuleDestination", s.getTopicRuleDestination)
	rt.add(http.MethodDelete, "/destinations/{a}", "DeleteTopicRuleDestination", s.deleteTopicRuleDestination)
	rt.add(http.MethodGet, "/confirmdestination/{token}", "ConfirmTopicRuleDestination", s.confirmTopicRuleDestination)
	rt.add(http.MethodGet, "/_iotcore/rules/{ruleName}/activity", "RuleActivity", s.ruleActivity)
}

// rulePayload reads the body of CreateTopicRule / ReplaceTopicRule: the topicRulePayload.
func rulePayload(c *call) (*rules.Payload, error) {
	data, err := io.ReadAll(io.LimitReader(c.r.Body, maxBodyBytes+1))
	if err != nil {
		return nil, invalidRequest("reading body: %v", err)
	}
	if len(data) > maxBodyBytes {
		e := invalidRequest("request body larger than %d bytes", maxBodyBytes)
		e.status = http.StatusRequestEntityTooLarge
		return nil, e
	}
	p, err := rules.ParsePayload(data)
	if err != nil {
		return nil, serviceError(err)
	}
	return p, nil
}

func (s *server) createTopicRule(c *call) (any, error) {
	p, err := rulePayload(c)
	if err != nil {
		return nil, err
	}
	var tags []rules.Tag
	if h := c.r.Header.Get("x-amz-tagging"); h != "" {
		q, err := url.ParseQuery(h)
		if err != nil {
			return nil, invalidRequest("x-amz-tagging: %v", err)
		}
		for k, vs := range q {
			for _, v := range vs {
				tags = append(tags, rules.Tag{Key: k, Value: v})
			}
		}
	}
	return empty{}, serviceError(s.cfg.Rules.CreateRule(c.vars["ruleName"], p, tags))
}

func (s *server) replaceTopicRule(c *call) (any, error) {
	p, err := rulePayload(c)
	if err != nil {
		return nil, err
	}
	return empty{}, serviceError(s.cfg.Rules.ReplaceRule(c.vars["ruleName"], p))
}

func (s *server) getTopicRule(c *call) (any, error) {
	r, err := s.cfg.Rules.GetRule(c.vars["ruleName"])
	if err != nil {
		return nil, serviceError(err)
	}
	return map[string]any{"ruleArn": s.cfg.Rules.ARN(r.Name), "rule": rules.MarshalRule(r)}, nil
}

func (s *server) deleteTopicRule(c *call) (any, error) {
	return empty{}, serviceError(s.cfg.Rules.DeleteRule(c.vars["ruleName"]))
}

func (s *server) enableTopicRule(c *call) (any, error) {
	return empty{}, serviceError(s.cfg.Rules.SetEnabled(c.vars["ruleName"], true))
}

func (s *server) disableTopicRule(c *call) (any, error) {
	return empty{}, serviceError(s.cfg.Rules.SetEnabled(c.vars["ruleName"], false))
}

func (s *server) listTopicRules(c *call) (any, error) {
	max, err := intQuery(c, "maxResults", 1, 10000, 0)
	if err != nil {
		return nil, err
	}
	var disabled *bool
	if c.query("ruleDisabled") != "" {
		b, err := boolQuery(c, "ruleDisabled")
		if err != nil {
			return nil, err
		}
		disabled = &b
	}
	items, next, err := s.cfg.Rules.ListRules(c.query("topic"), disabled, max, c.query("nextToken"))
	if err != nil {
		return nil, serviceError(err)
	}
	out := map[string]any{"rules": items}
	if next != "" {
		out["nextToken"] = next
	}
	return out, nil
}

type destinationOut struct {
	Arn               string       `json:"arn"`
	Status            string       `json:"status"`
	StatusReason      string       `json:"statusReason,omitempty"`
	CreatedAt         epochSeconds `json:"createdAt"`
	LastUpdatedAt     epochSeconds `json:"lastUpdatedAt"`
	HTTPURLProperties *httpURL     `json:"httpUrlProperties,omitempty"`
	HTTPURLSummary    *httpURL     `json:"httpUrlSummary,omitempty"`
}

type httpURL struct {
	ConfirmationURL string `json:"confirmationUrl"`
}

func destinationView(d *rules.Destination, summary bool) destinationOut {
	o := destinationOut{Arn: d.Arn, Status: d.Status, StatusReason: d.StatusReason,
		CreatedAt: epochSeconds(d.CreatedAt), LastUpdatedAt: epochSeconds(d.LastUpdatedAt)}
	u := &httpURL{ConfirmationURL: d.ConfirmationURL}
	if summary {
		o.HTTPURLSummary = u
	} else {
		o.HTTPURLProperties = u
	}
	return o
}

func (s *server) createTopicRuleDestination(c *call) (any, error) {
	var in struct {
		DestinationConfiguration *struct {
			HTTPURLConfiguration *struct {
				ConfirmationURL string `json:"confirmationUrl"`
			} `json:"httpUrlConfiguration"`
			VPCConfiguration any `json:"vpcConfiguration"`
		} `json:"destinationConfiguration"`
	}
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	dc := in.DestinationConfiguration
	switch {
	case dc == nil:
		return nil, invalidRequest("destinationConfiguration is required")
	case dc.VPCConfiguration != nil:
		return nil, invalidRequest("destinationConfiguration.vpcConfiguration: VPC destinations are not supported by iotcore-local")
	case dc.HTTPURLConfiguration == nil || dc.HTTPURLConfiguration.ConfirmationURL == "":
		return nil, invalidRequest("destinationConfiguration.httpUrlConfiguration.confirmationUrl is required")
	}
	d, err := s.cfg.Rules.CreateDestination(dc.HTTPURLConfiguration.ConfirmationURL)
	if err != nil {
		return nil, serviceError(err)
	}
	return map[string]any{"topicRuleDestination": destinationView(d, false)}, nil
}

// destinationARN reassembles the greedy {arn+} of the destination paths.
func destinationARN(c *call) string {
	parts := []string{c.vars["a"]}
	if b, ok := c.vars["b"]; ok {
		parts = append(parts, b, c.vars["c"])
	}
	return strings.Join(parts, "/")
}

func (s *server) getTopicRuleDestination(c *call) (any, error) {
	d, err := s.cfg.Rules.GetDestination(destinationARN(c))
	if err != nil {
		return nil, serviceError(err)
	}
	return map[string]any{"topicRuleDestination": destinationView(d, false)}, nil
}

func (s *server) deleteTopicRuleDestination(c *call) (any, error) {
	return empty{}, serviceError(s.cfg.Rules.DeleteDestination(destinationARN(c)))
}

func (s *server) updateTopicRuleDestination(c *call) (any, error) {
	var in struct {
		Arn    string `json:"arn"`
		Status string `json:"status"`
	}
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	if in.Arn == "" {
		return nil, invalidRequest("arn is required")
	}
	if in.Status == "" {
		return nil, invalidRequest("status is required")
	}
	return empty{}, serviceError(s.cfg.Rules.UpdateDestination(in.Arn, in.Status))
}

func (s *server) listTopicRuleDestinations(c *call) (any, error) {
	max, err := intQuery(c, "maxResults", 1, 1000, 1000)
	if err != nil {
		return nil, err
	}
	start := 0
	if t := c.query("nextToken"); t != "" {
		if _, err := fmt.Sscanf(t, "%d", &start); err != nil || start < 0 {
			return nil, invalidRequest("nextToken is not valid")
		}
	}
	all := s.cfg.Rules.ListDestinations()
	start = min(start, len(all))
	end := min(start+max, len(all))
	out := []destinationOut{}
	for i := range all[start:end] {
		out = append(out, destinationView(&all[start+i], true))
	}
	res := map[string]any{"destinationSummaries": out}
	if end < len(all) {
		res["nextToken"] = fmt.Sprint(end)
	}
	return res, nil
}

func (s *server) confirmTopicRuleDestination(c *call) (any, error) {
	return empty{}, serviceError(s.cfg.Rules.ConfirmDestination(c.vars["token"]))
}

// ruleActivity is GET /_iotcore/rules/{ruleName}/activity: the rule's recent evaluations,
// newest first.
func (s *server) ruleActivity(c *call) (any, error) {
	evs, ok := s.cfg.Rules.Activity(c.vars["ruleName"])
	if !ok {
		return nil, notFound("topic rule %s does not exist", c.vars["ruleName"])
	}
	return map[string]any{"evaluations": evs}, nil
}

// ruleOfARN reports whether a tagging call names a topic rule (tags.go hands those here).
func (s *server) ruleOfARN(arn string) (string, bool) {
	if s.cfg.Rules == nil {
		return "", false
	}
	return rules.RuleNameOfARN(arn)
}

func ruleTags(in []tag) []rules.Tag {
	out := make([]rules.Tag, 0, len(in))
	for _, t := range in {
		out = append(out, rules.Tag{Key: t.Key, Value: t.Value})
	}
	return out
}

func (s *server) listRuleTags(name string) (any, error) {
	tags, err := s.cfg.Rules.RuleTags(name)
	if err != nil {
		return nil, serviceError(err)
	}
	out := listTagsForResourceResponse{Tags: make([]tag, 0, len(tags))}
	for _, t := range tags {
		out.Tags = append(out.Tags, tag{Key: t.Key, Value: t.Value})
	}
	return out, nil
}
