package rules

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/iotcore-local/iotcore-local/rules/sql"
)

// action is one compiled rule action.
type action interface {
	name() string  // the payload key: "republish", "lambda", …
	shape() string // the model's shape name, errorAction's failedAction: "RepublishAction"
	target(x *execution) string
	run(ctx context.Context, x *execution) error
}

// execution is what an action works on: the evaluation (for templates), the payload (the
// SELECT result, or the error document for an errorAction) and the message.
type execution struct {
	engine  *Engine
	ev      *sql.Evaluation
	payload []byte
	msg     *Message
	rule    string
	isError bool
}

func (x *execution) render(t *sql.Template) string {
	if t == nil {
		return ""
	}
	return x.ev.Render(t)
}

// actionKinds are the action types of the iot model. Those without a builder are accepted and
// stored (so infrastructure code that declares them works), and fail at run time with a
// message saying iotcore-local does not perform them.
var actionKinds = []string{
	"dynamoDB", "dynamoDBv2", "lambda", "sns", "sqs", "kinesis", "republish", "s3", "firehose",
	"cloudwatchMetric", "cloudwatchAlarm", "cloudwatchLogs", "elasticsearch", "salesforce",
	"iotAnalytics", "iotEvents", "iotSiteWise", "stepFunctions", "timestream", "http", "kafka",
	"openSearch", "location",
}

// fields decodes an action's parameters, checking required members and building templates.
type fields struct {
	path    string // e.g. topicRulePayload.actions[0].republish
	version string
	isError bool
	m       map[string]json.RawMessage
	err     error
}

func (f *fields) fail(format string, args ...any) {
	if f.err == nil {
		f.err = errorf(ErrInvalidRequest, format, args...)
	}
}

// str returns a string member; required ones must be present and non-empty.
func (f *fields) str(name string, required bool) string {
	raw, ok := f.m[name]
	if !ok || string(raw) == "null" {
		if required {
			f.fail("%s.%s is required", f.path, name)
		}
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		f.fail("%s.%s must be a string", f.path, name)
		return ""
	}
	if required && s == "" {
		f.fail("%s.%s must not be empty", f.path, name)
	}
	return s
}

// tmpl returns a string member parsed as a substitution template.
func (f *fields) tmpl(name string, required bool) *sql.Template {
	s := f.str(name, required)
	if f.err != nil || (s == "" && !required) {
		return nil
	}
	return f.template(f.path+"."+name, s)
}

func (f *fields) template(path, s string) *sql.Template {
	t, err := sql.ParseTemplate(s, f.version)
	if err != nil {
		f.fail("%s: substitution template %q: %v", path, s, err)
		return nil
	}
	if f.isError {
		for _, fn := range t.Functions() {
			if fn == "get_thing_shadow" || fn == "get_registry_data" {
				f.fail("%s: function %s is not allowed in an errorAction's templates", path, fn)
			}
		}
	}
	return t
}

func (f *fields) boolean(name string) bool {
	raw, ok := f.m[name]
	if !ok {
		return false
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		f.fail("%s.%s must be a boolean", f.path, name)
	}
	return b
}

func (f *fields) object(name string, required bool) *fields {
	raw, ok := f.m[name]
	sub := &fields{path: f.path + "." + name, version: f.version, isError: f.isError}
	if !ok || string(raw) == "null" {
		if required {
			f.fail("%s.%s is required", f.path, name)
		}
		return nil
	}
	if err := json.Unmarshal(raw, &sub.m); err != nil {
		f.fail("%s.%s must be an object", f.path, name)
		return nil
	}
	return sub
}

// keyValues decodes a list of {key, value} (headers, user properties); values are templates.
func (f *fields) keyValues(name string, max int) []kv {
	raw, ok := f.m[name]
	if !ok {
		return nil
	}
	var list []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		f.fail("%s.%s must be a list of {key, value}", f.path, name)
		return nil
	}
	if len(list) > max {
		f.fail("%s.%s has %d entries; the maximum is %d", f.path, name, len(list), max)
	}
	var out []kv
	for i, item := range list {
		sub := &fields{path: fmt.Sprintf("%s.%s[%d]", f.path, name, i), version: f.version, isError: f.isError, m: item}
		k := sub.str("key", true)
		v := sub.tmpl("value", true)
		if sub.err != nil {
			f.fail("%s", sub.err.Error())
			return nil
		}
		out = append(out, kv{key: k, value: v})
	}
	return out
}

type kv struct {
	key   string
	value *sql.Template
}

// compileAction decodes one action object: exactly one member naming its type.
func (e *Engine) compileAction(raw json.RawMessage, path, version string, isError bool) (action, error) {
	var outer map[string]json.RawMessage
	if err := json.Unmarshal(raw, &outer); err != nil {
		return nil, errorf(ErrInvalidRequest, "%s must be an object with one member naming the action type", path)
	}
	if len(outer) != 1 {
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range outer {
				if !yield(k) {
					return
				}
			}
		})
		return nil, errorf(ErrInvalidRequest, "%s must name exactly one action type, found %d (%s)", path, len(outer), strings.Join(keys, ", "))
	}
	for kind, body := range outer {
		if !slices.Contains(actionKinds, kind) {
			return nil, errorf(ErrInvalidRequest, "%s: unknown action type %q (known: %s)", path, kind, strings.Join(actionKinds, ", "))
		}
		f := &fields{path: path + "." + kind, version: version, isError: isError}
		if err := json.Unmarshal(body, &f.m); err != nil || f.m == nil {
			return nil, errorf(ErrInvalidRequest, "%s must be an object", f.path)
		}
		build, ok := builders[kind]
		if !ok {
			e.log.Warn("rule action type stored but not performed by iotcore-local", "action", kind, "path", path)
			return &unsupportedAction{kind: kind}, nil
		}
		a := build(e, f)
		if f.err != nil {
			return nil, f.err
		}
		return a, nil
	}
	return nil, errors.New("unreachable")
}

// builders construct the performed action types.
var builders = map[string]func(e *Engine, f *fields) action{}

func shapeOf(kind string) string { return strings.ToUpper(kind[:1]) + kind[1:] + "Action" }

// unsupportedAction is a stored action type iotcore-local does not perform.
type unsupportedAction struct{ kind string }

func (a *unsupportedAction) name() string               { return a.kind }
func (a *unsupportedAction) shape() string              { return shapeOf(a.kind) }
func (a *unsupportedAction) target(x *execution) string { return "" }
func (a *unsupportedAction) run(context.Context, *execution) error {
	return fmt.Errorf("the %s action is not performed by iotcore-local", a.kind)
}

// ---- republish ----

type republishAction struct {
	topic                                                   *sql.Template
	qos                                                     byte
	format, contentType, responseTopic, correlation, expiry *sql.Template
	userProps                                               []kv
}

func init() {
	builders["republish"] = func(e *Engine, f *fields) action {
		f.str("roleArn", true)
		a := &republishAction{topic: f.tmpl("topic", true)}
		if raw, ok := f.m["qos"]; ok {
			var q int
			if err := json.Unmarshal(raw, &q); err != nil || q < 0 || q > 1 {
				f.fail("%s.qos must be 0 or 1", f.path)
			}
			a.qos = byte(q)
		}
		if h := f.object("headers", false); h != nil {
			a.format = h.tmpl("payloadFormatIndicator", false)
			a.contentType = h.tmpl("contentType", false)
			a.responseTopic = h.tmpl("responseTopic", false)
			a.correlation = h.tmpl("correlationData", false)
			a.expiry = h.tmpl("messageExpiry", false)
			a.userProps = h.keyValues("userProperties", 100)
			if h.err != nil {
				f.fail("%s", h.err.Error())
			}
		}
		return a
	}
}

func (a *republishAction) name() string               { return "republish" }
func (a *republishAction) shape() string              { return "RepublishAction" }
func (a *republishAction) target(x *execution) string { return x.render(a.topic) }

func (a *republishAction) run(ctx context.Context, x *execution) error {
	e := x.engine
	if e.opts.Publisher == nil {
		return errors.New("no broker to republish to")
	}
	topic := x.render(a.topic)
	if topic == "" || strings.ContainsAny(topic, "+#") {
		return fmt.Errorf("republish topic %q is not a valid topic name", topic)
	}
	if strings.HasPrefix(topic, "$aws/things/") && strings.Contains(topic, "/jobs/") {
		return fmt.Errorf("republish to reserved Jobs topic %q is not supported", topic)
	}
	p := Publication{Topic: topic, Payload: x.payload, QoS: a.qos}
	if a.format != nil {
		var v byte
		switch strings.ToUpper(x.render(a.format)) {
		case "UTF8_DATA":
			v = 1
		case "UNSPECIFIED_BYTES":
		default:
			return fmt.Errorf("payloadFormatIndicator %q is neither UNSPECIFIED_BYTES nor UTF8_DATA", x.render(a.format))
		}
		p.PayloadFormat = &v
	}
	p.ContentType = x.render(a.contentType)
	p.ResponseTopic = x.render(a.responseTopic)
	if a.correlation != nil {
		b, err := base64.StdEncoding.DecodeString(x.render(a.correlation))
		if err != nil {
			return fmt.Errorf("correlationData is not base64: %w", err)
		}
		p.CorrelationData = b
	}
	if a.expiry != nil {
		n, err := strconv.ParseUint(x.render(a.expiry), 10, 32)
		if err != nil {
			return fmt.Errorf("messageExpiry %q is not a number of seconds", x.render(a.expiry))
		}
		p.MessageExpiry = uint32(n)
	}
	for _, up := range a.userProps {
		p.UserProperties = append(p.UserProperties, [2]string{up.key, x.render(up.value)})
	}
	if err := e.opts.Publisher.Publish(ctx, p); err != nil {
		return fmt.Errorf("republish to %s: %w", topic, err)
	}
	e.feedBack(x.msg, p)
	return nil
}

// feedBack evaluates a republished message like any other publish, one generation deeper;
// past MaxRepublishDepth the loop is cut with a log line.
func (e *Engine) feedBack(from *Message, p Publication) {
	depth := from.depth + 1
	if depth > e.opts.MaxRepublishDepth {
		e.log.Warn("republish loop cut: the message is not evaluated again", "topic", p.Topic, "depth", depth, "max", e.opts.MaxRepublishDepth)
		return
	}
	m := Message{Message: sql.Message{
		Topic: p.Topic, Payload: p.Payload, Received: e.opts.Now(), ContentType: p.ContentType,
		PayloadFormat: p.PayloadFormat, ResponseTopic: p.ResponseTopic, CorrelationData: p.CorrelationData,
		UserProperties: p.UserProperties,
	}, OriginalTopic: p.Topic, depth: depth}
	if rule, rest, ok := ParseIngest(p.Topic); ok {
		m.IngestRule, m.Topic = rule, rest
	}
	if e.Active() {
		e.Submit(m)
	}
}

// ---- lambda ----

type lambdaAction struct{ arn *sql.Template }

func init() {
	builders["lambda"] = func(e *Engine, f *fields) action { return &lambdaAction{arn: f.tmpl("functionArn", true)} }
}

func (a *lambdaAction) name() string               { return "lambda" }
func (a *lambdaAction) shape() string              { return "LambdaAction" }
func (a *lambdaAction) target(x *execution) string { return x.render(a.arn) }

// run invokes the function asynchronously: only a failed invocation (no such function,
// endpoint unreachable, refused) is an action failure; the function's own error never reaches
// the rules engine.
func (a *lambdaAction) run(ctx context.Context, x *execution) error {
	if !json.Valid(x.payload) {
		return errors.New("a Lambda function cannot take a binary payload; select encode(*, 'base64') instead")
	}
	if x.engine.opts.Functions == nil {
		return errors.New("no functions are configured (serve --function ARN=URL, or AWS_ENDPOINT_URL_LAMBDA)")
	}
	return x.engine.opts.Functions.InvokeAsync(ctx, x.render(a.arn), x.payload)
}
