package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/iotcore-local/iotcore-local/rules"
	"github.com/iotcore-local/iotcore-local/rules/sql"
)

// ruleUsage describes the rule verbs.
const ruleUsage = `usage:
  iotcore-local rule create NAME --sql SQL [--republish TOPIC [--qos 0|1]] [--sql-version V] [--description D] [--disabled]
  iotcore-local rule create NAME --document FILE|-     # a full topicRulePayload (JSON)
  iotcore-local rule get|delete|enable|disable NAME
  iotcore-local rule list
  iotcore-local rule activity NAME                      # recent evaluations and action outcomes
  iotcore-local rule test --sql SQL --topic TOPIC --payload JSON [--client-id ID] [--sql-version V]

"rule test" evaluates SQL locally, without a broker: it prints the SELECT result as JSON, and
nothing (exit 0) when WHERE is false or the topic does not match FROM.
The other verbs take --endpoint-url URL (default http://127.0.0.1:4580) and --region REGION.`

// ruleCmd runs the "rule" verbs.
func ruleCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, ruleUsage)
		return fmt.Errorf("%w: rule needs a verb: create, get, list, delete, enable, disable, activity or test", errUsage)
	}
	verb, args := args[0], args[1:]
	switch verb {
	case "create":
		return ruleCreate(ctx, args, stdin, stdout, stderr)
	case "get", "delete", "enable", "disable", "activity", "list":
		return ruleSimple(ctx, verb, args, stdout, stderr)
	case "test":
		return ruleTest(args, stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, ruleUsage)
		return nil
	}
	fmt.Fprintln(stderr, ruleUsage)
	return fmt.Errorf("%w: unknown command \"rule %s\"", errUsage, verb)
}

// ruleFlags adds --endpoint-url and --region.
func ruleFlags(fs *flag.FlagSet) *string {
	var endpoint string
	fs.StringVar(&endpoint, "endpoint-url", "http://127.0.0.1:4580", "the emulator's HTTP API")
	fs.String("region", "us-east-1", "region (accepted for symmetry with the other verbs)")
	return &endpoint
}

func ruleCreate(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rule create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sqlText := fs.String("sql", "", "the rule's SQL statement")
	republish := fs.String("republish", "", "add a republish action to this topic (substitution templates allowed)")
	qos := fs.Int("qos", 0, "QoS of the republish action (0 or 1)")
	version := fs.String("sql-version", "2016-03-23", "awsIotSqlVersion")
	description := fs.String("description", "", "description")
	disabled := fs.Bool("disabled", false, "create the rule disabled")
	document := fs.String("document", "", "a topicRulePayload JSON file (- for stdin) instead of the flags above")
	endpoint := ruleFlags(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: rule create needs exactly one NAME", errUsage)
	}
	var body []byte
	if *document != "" {
		if *sqlText != "" || *republish != "" {
			return fmt.Errorf("%w: --document cannot be combined with --sql or --republish", errUsage)
		}
		if *document == "-" {
			body, err = io.ReadAll(io.LimitReader(stdin, 1<<20))
		} else {
			body, err = os.ReadFile(*document)
		}
		if err != nil {
			return fmt.Errorf("--document: %w", err)
		}
		if !json.Valid(body) {
			return fmt.Errorf("--document %s is not valid JSON", *document)
		}
	} else {
		if *sqlText == "" {
			return fmt.Errorf("%w: rule create needs --sql (or --document)", errUsage)
		}
		if *qos != 0 && *qos != 1 {
			return fmt.Errorf("%w: --qos must be 0 or 1", errUsage)
		}
		actions := []any{}
		if *republish != "" {
			actions = append(actions, map[string]any{"republish": map[string]any{
				"roleArn": "arn:aws:iam::123456789012:role/iotcore-local-republish", "topic": *republish, "qos": *qos,
			}})
		}
		body, _ = json.Marshal(map[string]any{"sql": *sqlText, "awsIotSqlVersion": *version, "description": *description,
			"ruleDisabled": *disabled, "actions": actions})
	}
	if _, err := ruleRequest(ctx, *endpoint, http.MethodPost, "/rules/"+url.PathEscape(pos[0]), body); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "rule %s created\n", pos[0])
	return nil
}

func ruleSimple(ctx context.Context, verb string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rule "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	endpoint := ruleFlags(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	want := 1
	if verb == "list" {
		want = 0
	}
	if len(pos) != want {
		return fmt.Errorf("%w: rule %s takes %d argument(s)", errUsage, verb, want)
	}
	var method, path string
	switch verb {
	case "list":
		method, path = http.MethodGet, "/rules"
	case "get":
		method, path = http.MethodGet, "/rules/"+url.PathEscape(pos[0])
	case "delete":
		method, path = http.MethodDelete, "/rules/"+url.PathEscape(pos[0])
	case "enable", "disable":
		method, path = http.MethodPost, "/rules/"+url.PathEscape(pos[0])+"/"+verb
	case "activity":
		method, path = http.MethodGet, "/_iotcore/rules/"+url.PathEscape(pos[0])+"/activity"
	}
	out, err := ruleRequest(ctx, *endpoint, method, path, nil)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(out)) > 2 {
		var buf bytes.Buffer
		if json.Indent(&buf, out, "", "  ") == nil {
			out = buf.Bytes()
		}
		fmt.Fprintln(stdout, string(out))
	} else {
		fmt.Fprintf(stdout, "rule %s: %s done\n", pos[0], verb)
	}
	return nil
}

// ruleRequest calls the emulator's API and turns an AWS error answer into an error naming the
// exception and its message.
func ruleRequest(ctx context.Context, endpoint, method, path string, body []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(endpoint, "/")+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the emulator at %s: %w", endpoint, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if resp.StatusCode >= 300 {
		var e struct {
			Message string `json:"message"`
		}
		json.Unmarshal(out, &e)
		return nil, fmt.Errorf("%s: %s", resp.Header.Get("x-amzn-ErrorType"), e.Message)
	}
	return out, nil
}

// ruleTest evaluates SQL on one message locally.
func ruleTest(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rule test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sqlText := fs.String("sql", "", "the SQL statement")
	topic := fs.String("topic", "", "the topic the message is published on")
	payload := fs.String("payload", "", "the message payload (JSON or any text)")
	clientID := fs.String("client-id", "", "the publisher's client ID (clientid() is n/a without it)")
	version := fs.String("sql-version", "2016-03-23", "awsIotSqlVersion (as rule create's default; a rule created through the API without one runs 2015-10-08)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return fmt.Errorf("%w: rule test takes no arguments, got %q", errUsage, pos)
	}
	if *sqlText == "" || *topic == "" {
		return fmt.Errorf("%w: rule test needs --sql and --topic", errUsage)
	}
	st, err := sql.Parse(*sqlText, *version)
	if err != nil {
		var pe *sql.Error
		if errors.As(err, &pe) {
			return fmt.Errorf("--sql: SqlParseException at %s: %s", pe.Pos, pe.Msg)
		}
		return fmt.Errorf("--sql: %w", err)
	}
	msg := &sql.Message{Topic: *topic, Payload: []byte(*payload), ClientID: *clientID, Received: time.Now()}
	if r, rest, ok := rules.ParseIngest(*topic); ok {
		fmt.Fprintf(stderr, "Basic Ingest topic: only rule %s sees it, and topic() is %q\n", r, rest)
		msg.Topic = rest
	} else if f := st.Topic(); f != "" && !rules.MatchTopic(f, *topic) {
		fmt.Fprintf(stderr, "topic %q does not match FROM '%s': the rule would not fire\n", *topic, f)
		return nil
	}
	ev := st.Evaluate(msg, nil)
	if !ev.Matched {
		return nil
	}
	fmt.Fprintln(stdout, string(ev.Payload()))
	return nil
}
