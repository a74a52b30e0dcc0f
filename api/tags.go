package api

import (
	"fmt"

	"github.com/iotcore-local/iotcore-local/registry"
)

// tag is one {Key, Value} of a tags list (capitalised, as in the model).
type tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// registryTags converts a request's tags.
func registryTags(tags []tag) []registry.Tag {
	if len(tags) == 0 {
		return nil
	}
	out := make([]registry.Tag, 0, len(tags))
	for _, t := range tags {
		out = append(out, registry.Tag(t))
	}
	return out
}

// tagResourceRequest is TagResource's JSON body.
type tagResourceRequest struct {
	ResourceArn *string `json:"resourceArn"`
	Tags        []tag   `json:"tags"`
}

// tagResource is TagResource: POST /tags {resourceArn, tags}. Thing groups, thing types,
// policies and CA certificates can be tagged.
func (s *server) tagResource(c *call) (any, error) {
	var in tagResourceRequest
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	if in.ResourceArn == nil || *in.ResourceArn == "" {
		return nil, invalidRequest("resourceArn: required")
	}
	if in.Tags == nil {
		return nil, invalidRequest("tags: required")
	}
	if name, ok := s.ruleOfARN(*in.ResourceArn); ok {
		return empty{}, serviceError(s.cfg.Rules.TagRule(name, ruleTags(in.Tags)))
	}
	if err := s.reg.TagResource(*in.ResourceArn, registryTags(in.Tags)); err != nil {
		return nil, fmt.Errorf("tag %s: %w", *in.ResourceArn, err)
	}
	return empty{}, nil
}

// untagResourceRequest is UntagResource's JSON body.
type untagResourceRequest struct {
	ResourceArn *string  `json:"resourceArn"`
	TagKeys     []string `json:"tagKeys"`
}

// untagResource is UntagResource: POST /untag {resourceArn, tagKeys}.
func (s *server) untagResource(c *call) (any, error) {
	var in untagResourceRequest
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	if in.ResourceArn == nil || *in.ResourceArn == "" {
		return nil, invalidRequest("resourceArn: required")
	}
	if in.TagKeys == nil {
		return nil, invalidRequest("tagKeys: required")
	}
	if name, ok := s.ruleOfARN(*in.ResourceArn); ok {
		return empty{}, serviceError(s.cfg.Rules.UntagRule(name, in.TagKeys))
	}
	if err := s.reg.UntagResource(*in.ResourceArn, in.TagKeys); err != nil {
		return nil, fmt.Errorf("untag %s: %w", *in.ResourceArn, err)
	}
	return empty{}, nil
}

// listTagsForResourceResponse is ListTagsForResource's output; nextToken is absent on the last page.
type listTagsForResourceResponse struct {
	Tags      []tag  `json:"tags"`
	NextToken string `json:"nextToken,omitempty"`
}

// listTagsForResource is ListTagsForResource: GET /tags?resourceArn&nextToken.
func (s *server) listTagsForResource(c *call) (any, error) {
	arn := c.query("resourceArn")
	if arn == "" {
		return nil, invalidRequest("resourceArn: required")
	}
	if name, ok := s.ruleOfARN(arn); ok {
		return s.listRuleTags(name)
	}
	tags, next, err := s.reg.ListTagsForResource(arn, c.query("nextToken"))
	if err != nil {
		return nil, fmt.Errorf("list tags of %s: %w", arn, err)
	}
	out := listTagsForResourceResponse{Tags: make([]tag, 0, len(tags)), NextToken: next}
	for _, t := range tags {
		out.Tags = append(out.Tags, tag(t))
	}
	return out, nil
}
