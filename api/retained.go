package api

import (
	"encoding/base64"
	"sort"

	"github.com/iotcore-local/iotcore-local/auth"
)

// Paging of ListRetainedMessages: maxResults 1–200 as the model allows; 200 when absent.
const (
	maxRetainedPage     = 200
	defaultRetainedPage = 200
)

// retainedMessageOutput is GetRetainedMessage's JSON: payload and userProperties are blobs
// (base64 in JSON), lastModifiedTime is epoch milliseconds. userProperties is left out when the
// message has none (the SDK documents null).
type retainedMessageOutput struct {
	Topic            string `json:"topic"`
	Payload          []byte `json:"payload"`
	QoS              int    `json:"qos"`
	LastModifiedTime int64  `json:"lastModifiedTime"`
	UserProperties   []byte `json:"userProperties,omitempty"`
}

// retainedSummary is one entry of ListRetainedMessages.
type retainedSummary struct {
	Topic            string `json:"topic"`
	PayloadSize      int64  `json:"payloadSize"`
	QoS              int    `json:"qos"`
	LastModifiedTime int64  `json:"lastModifiedTime"`
}

type listRetainedOutput struct {
	RetainedTopics []retainedSummary `json:"retainedTopics"`
	NextToken      string            `json:"nextToken,omitempty"`
}

// getRetainedMessage is GetRetainedMessage: GET /retainedMessage/{topic}.
func (s *server) getRetainedMessage(c *call) (any, error) {
	topic := c.vars["topic"]
	if err := s.authorize(c, permission{actionGetRetainedMessage, auth.ResourceTopic, topic}); err != nil {
		return nil, err
	}
	b, err := s.broker()
	if err != nil {
		return nil, err
	}
	m, ok := b.Retained(topic)
	if !ok {
		return nil, notFound("No retained message exists for topic %s", topic)
	}
	out := retainedMessageOutput{
		Topic:            m.Topic,
		Payload:          m.Payload,
		QoS:              int(m.QoS),
		LastModifiedTime: m.LastModified.UnixMilli(),
	}
	if out.Payload == nil {
		out.Payload = []byte{}
	}
	if len(m.UserProperties) > 0 {
		out.UserProperties = encodeUserProperties(m.UserProperties)
	}
	return out, nil
}

// listRetainedMessages is ListRetainedMessages: GET /retainedMessage?maxResults&nextToken,
// topics in lexical order. The next token is the last topic of the page (base64url), so a
// page stays right when messages are added or removed between calls.
func (s *server) listRetainedMessages(c *call) (any, error) {
	if err := s.authorize(c, permission{actionListRetainedMessages, "*", ""}); err != nil {
		return nil, err
	}
	limit, err := intQuery(c, "maxResults", 1, maxRetainedPage, defaultRetainedPage)
	if err != nil {
		return nil, err
	}
	after := ""
	if tok := c.query("nextToken"); tok != "" {
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil || len(raw) == 0 {
			return nil, invalidRequest("nextToken: %q is not a token this API returned", tok)
		}
		after = string(raw)
	}
	b, err := s.broker()
	if err != nil {
		return nil, err
	}
	all := b.ListRetained()
	sort.Slice(all, func(i, j int) bool { return all[i].Topic < all[j].Topic })
	start := 0
	if after != "" {
		start = sort.Search(len(all), func(i int) bool { return all[i].Topic > after })
	}
	out := listRetainedOutput{RetainedTopics: []retainedSummary{}}
	for _, m := range all[start:] {
		if len(out.RetainedTopics) == limit {
			out.NextToken = base64.RawURLEncoding.EncodeToString([]byte(out.RetainedTopics[limit-1].Topic))
			break
		}
		out.RetainedTopics = append(out.RetainedTopics, retainedSummary{
			Topic:            m.Topic,
			PayloadSize:      int64(len(m.Payload)),
			QoS:              int(m.QoS),
			LastModifiedTime: m.LastModified.UnixMilli(),
		})
	}
	return out, nil
}
