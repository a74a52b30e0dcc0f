package rules

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/iotcore-local/iotcore-local/rules/sql"
)

// httpAction POSTs the result to a URL of a confirmed, ENABLED destination; plain http:// to
// loopback needs no destination (an emulator convenience, logged).
type httpAction struct {
	url             *sql.Template
	urlText         string
	confirmationURL string
	headers         []kv
}

func init() {
	builders["http"] = func(e *Engine, f *fields) action {
		a := &httpAction{urlText: f.str("url", true)}
		a.url = f.tmpl("url", true)
		a.confirmationURL = f.str("confirmationUrl", false)
		if f.err == nil && !strings.Contains(a.urlText, "${") {
			if _, err := checkHTTPURL(f.path+".url", a.urlText); err != nil {
				f.fail("%s", err.Error())
			}
		}
		if a.confirmationURL != "" && !strings.Contains(a.confirmationURL, "${") && !strings.HasPrefix(a.urlText, a.confirmationURL) {
			f.fail("%s.confirmationUrl %q must be a prefix of url %q", f.path, a.confirmationURL, a.urlText)
		}
		a.headers = f.keyValues("headers", 100)
		return a
	}
}

func (a *httpAction) name() string               { return "http" }
func (a *httpAction) shape() string              { return "HttpAction" }
func (a *httpAction) target(x *execution) string { return x.render(a.url) }

// maxHTTPTries is AWS's limit: at least one try, at most three, retrying only 429 and 5xx.
const maxHTTPTries = 3

func (a *httpAction) run(ctx context.Context, x *execution) error {
	u := x.render(a.url)
	parsed, err := checkHTTPURL("url", u)
	if err != nil {
		return err
	}
	if parsed.Scheme == "http" {
		x.engine.log.Debug("http action to plain http on loopback (an emulator convenience; AWS requires https and a confirmed destination)", "url", u)
	} else {
		d, ok := x.engine.destinationFor(u)
		if !ok {
			return fmt.Errorf("no topic rule destination covers %s", u)
		}
		if d.Status != StatusEnabled {
			return fmt.Errorf("topic rule destination %s is %s, not ENABLED (confirm it with the token sent to %s)", d.Arn, d.Status, d.ConfirmationURL)
		}
	}
	contentType := "application/octet-stream"
	if json.Valid(x.payload) {
		contentType = "application/json"
	}
	var last error
	for try := 1; try <= maxHTTPTries; try++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(x.payload))
		if err != nil {
			return fmt.Errorf("http request: %w", err)
		}
		req.Header.Set("Content-Type", contentType)
		for _, h := range a.headers {
			req.Header.Set(h.key, x.render(h.value))
		}
		resp, err := x.engine.opts.HTTPClient.Do(req)
		if err != nil {
			return fmt.Errorf("POST %s: %w", u, err)
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 16384))
		resp.Body.Close()
		if resp.StatusCode < 300 {
			return nil
		}
		last = fmt.Errorf("POST %s: HTTP %d", u, resp.StatusCode)
		if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode < 500 {
			return last
		}
		select {
		case <-ctx.Done():
			return last
		case <-time.After(time.Duration(try) * 100 * time.Millisecond):
		}
	}
	return last
}
