package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// jobUsage describes the job verbs.
const jobUsage = `usage:
  iotcore-local job create JOB_ID --target T [--target T]... (--document FILE|- | --document-json JSON)
                           [--continuous] [--description TEXT] [--rate PER_MINUTE] [--timeout MINUTES]
  iotcore-local job list [--status IN_PROGRESS|CANCELED|COMPLETED|SCHEDULED]
  iotcore-local job describe JOB_ID [--thing NAME]      # with --thing: that thing's execution
  iotcore-local job cancel JOB_ID [--force] [--thing NAME] [--reason-code CODE] [--comment TEXT]

A target T is a thing name, thing:NAME, group:NAME or a full thing or thing-group ARN.
Every verb also takes --endpoint-url URL (default http://127.0.0.1:4580). The answers are the
control plane's JSON, indented.`

// jobCmd runs the "job" verbs: thin clients of the control plane's Jobs operations.
func jobCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, jobUsage)
		return fmt.Errorf("%w: job needs a verb: create, list, describe or cancel", errUsage)
	}
	verb, args := args[0], args[1:]
	switch verb {
	case "create":
		return jobCreate(ctx, args, stdin, stdout, stderr)
	case "list":
		return jobList(ctx, args, stdout, stderr)
	case "describe":
		return jobDescribe(ctx, args, stdout, stderr)
	case "cancel":
		return jobCancel(ctx, args, stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, jobUsage)
		return nil
	}
	fmt.Fprintln(stderr, jobUsage)
	return fmt.Errorf("%w: unknown command \"job %s\"", errUsage, verb)
}

// jobAPI calls the control plane and returns the JSON answer; an AWS error becomes an error
// naming the exception and its message.
type jobAPI struct{ base string }

func jobFlags(fs interface {
	StringVar(*string, string, string, string)
}) *jobAPI {
	a := &jobAPI{}
	fs.StringVar(&a.base, "endpoint-url", "http://127.0.0.1:4580", "the emulator's HTTP API")
	return a
}

func (a *jobAPI) call(ctx context.Context, method, path string, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(data)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(a.base, "/")+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(data, &e)
		return nil, fmt.Errorf("%s: %s", resp.Header.Get("x-amzn-ErrorType"), e.Message)
	}
	return data, nil
}

// printRawJSON writes a JSON answer indented.
func printRawJSON(w io.Writer, data []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, data, "", "  "); err != nil {
		_, err = w.Write(data)
		return err
	}
	buf.WriteByte('\n')
	_, err := buf.WriteTo(w)
	return err
}

// targetARN turns a --target into an ARN, asking the API for the thing's or group's ARN.
func (a *jobAPI) targetARN(ctx context.Context, t string) (string, error) {
	if strings.HasPrefix(t, "arn:") {
		return t, nil
	}
	kind, name, ok := strings.Cut(t, ":")
	if !ok {
		kind, name = "thing", t
	}
	var path, member string
	switch kind {
	case "thing":
		path, member = "/things/"+url.PathEscape(name), "thingArn"
	case "group":
		path, member = "/thing-groups/"+url.PathEscape(name), "thingGroupArn"
	default:
		return "", fmt.Errorf("%w: --target %q: use NAME, thing:NAME, group:NAME or an ARN", errUsage, t)
	}
	data, err := a.call(ctx, http.MethodGet, path, nil)
	if err != nil {
		return "", fmt.Errorf("target %s: %w", t, err)
	}
	var m map[string]any
	_ = json.Unmarshal(data, &m)
	arn, _ := m[member].(string)
	if arn == "" {
		return "", fmt.Errorf("target %s: the API returned no %s", t, member)
	}
	return arn, nil
}

func jobCreate(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("job create", stderr)
	var targets listFlag
	var docFile, docJSON, description string
	var continuous bool
	var rate, timeout int64
	fs.Var(&targets, "target", "thing name, thing:NAME, group:NAME or ARN (repeatable)")
	fs.StringVar(&docFile, "document", "", "job document file (- for standard input)")
	fs.StringVar(&docJSON, "document-json", "", "job document as JSON text")
	fs.StringVar(&description, "description", "", "job description")
	fs.BoolVar(&continuous, "continuous", false, "targetSelection CONTINUOUS: things added to a target group later get the job")
	fs.Int64Var(&rate, "rate", 0, "rollout: at most this many things notified per minute")
	fs.Int64Var(&timeout, "timeout", 0, "in-progress timeout in minutes")
	api := jobFlags(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: job create takes exactly one JOB_ID", errUsage)
	}
	if len(targets) == 0 {
		return fmt.Errorf("%w: job create needs at least one --target", errUsage)
	}
	if (docFile == "") == (docJSON == "") {
		return fmt.Errorf("%w: job create needs exactly one of --document and --document-json", errUsage)
	}
	doc := docJSON
	if docFile != "" {
		var data []byte
		if docFile == "-" {
			data, err = io.ReadAll(io.LimitReader(stdin, 1<<20))
		} else {
			data, err = os.ReadFile(docFile)
		}
		if err != nil {
			return fmt.Errorf("--document: %w", err)
		}
		doc = string(data)
	}
	if !json.Valid([]byte(doc)) {
		return fmt.Errorf("%w: the job document is not valid JSON", errUsage)
	}
	body := map[string]any{"document": doc}
	var arns []string
	for _, t := range targets {
		arn, err := api.targetARN(ctx, t)
		if err != nil {
			return err
		}
		arns = append(arns, arn)
	}
	body["targets"] = arns
	if continuous {
		body["targetSelection"] = "CONTINUOUS"
	}
	if description != "" {
		body["description"] = description
	}
	if rate > 0 {
		body["jobExecutionsRolloutConfig"] = map[string]any{"maximumPerMinute": rate}
	}
	if timeout > 0 {
		body["timeoutConfig"] = map[string]any{"inProgressTimeoutInMinutes": timeout}
	}
	data, err := api.call(ctx, http.MethodPut, "/jobs/"+url.PathEscape(pos[0]), body)
	if err != nil {
		return fmt.Errorf("create job %s: %w", pos[0], err)
	}
	return printRawJSON(stdout, data)
}

func jobList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("job list", stderr)
	var status string
	fs.StringVar(&status, "status", "", "only jobs with this status")
	api := jobFlags(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return fmt.Errorf("%w: job list takes no arguments", errUsage)
	}
	path := "/jobs?maxResults=250"
	if status != "" {
		path += "&status=" + url.QueryEscape(status)
	}
	data, err := api.call(ctx, http.MethodGet, path, nil)
	if err != nil {
		return fmt.Errorf("list jobs: %w", err)
	}
	return printRawJSON(stdout, data)
}

func jobDescribe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("job describe", stderr)
	var thing string
	fs.StringVar(&thing, "thing", "", "describe this thing's execution of the job")
	api := jobFlags(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: job describe takes exactly one JOB_ID", errUsage)
	}
	path := "/jobs/" + url.PathEscape(pos[0])
	if thing != "" {
		path = "/things/" + url.PathEscape(thing) + "/jobs/" + url.PathEscape(pos[0])
	}
	data, err := api.call(ctx, http.MethodGet, path, nil)
	if err != nil {
		return fmt.Errorf("describe job %s: %w", pos[0], err)
	}
	return printRawJSON(stdout, data)
}

func jobCancel(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("job cancel", stderr)
	var thing, reason, comment string
	var force bool
	fs.StringVar(&thing, "thing", "", "cancel only this thing's execution")
	fs.BoolVar(&force, "force", false, "also cancel IN_PROGRESS executions")
	fs.StringVar(&reason, "reason-code", "", "reason code (upper-case letters, digits, _)")
	fs.StringVar(&comment, "comment", "", "comment")
	api := jobFlags(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: job cancel takes exactly one JOB_ID", errUsage)
	}
	q := ""
	if force {
		q = "?force=true"
	}
	var data []byte
	if thing != "" {
		data, err = api.call(ctx, http.MethodPut, "/things/"+url.PathEscape(thing)+"/jobs/"+url.PathEscape(pos[0])+"/cancel"+q, map[string]any{})
	} else {
		body := map[string]any{}
		if reason != "" {
			body["reasonCode"] = reason
		}
		if comment != "" {
			body["comment"] = comment
		}
		data, err = api.call(ctx, http.MethodPut, "/jobs/"+url.PathEscape(pos[0])+"/cancel"+q, body)
	}
	if err != nil {
		return fmt.Errorf("cancel job %s: %w", pos[0], err)
	}
	return printRawJSON(stdout, data)
}
