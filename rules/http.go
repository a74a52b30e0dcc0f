package rules

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/iotcore-local/iotcore-local/rules/sql"
)

// httpAction POSTs the result to a URL of a confirmed, ENABLED destination; plain http:// to
// loopback needs no destination (an emulator convenience, logged).
type httpAction struct {
	url             *sql.Template
	urlText         string
	confirmationURL string
	headers         []kv
	sigv4           *httpSigV4 // auth.sigv4; nil: unsigned
}

// httpSigV4 is an http action's auth.sigv4: requests are signed for serviceName in
// signingRegion. AWS assumes roleArn for the credentials; the emulator signs with the AWS SDK's
// configured credentials (as its other AWS actions do), keeping roleArn for the record.
type httpSigV4 struct {
	region, service, roleARN string
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
		if auth := f.object("auth", false); auth != nil {
			if sig := auth.object("sigv4", false); sig != nil {
				a.sigv4 = &httpSigV4{region: sig.str("signingRegion", true), service: sig.str("serviceName", true), roleARN: sig.str("roleArn", true)}
				if sig.err != nil {
					f.fail("%s", sig.err.Error())
				}
			}
			if auth.err != nil {
				f.fail("%s", auth.err.Error())
			}
		}
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
		if a.sigv4 != nil {
			if err := a.sign(ctx, x, req); err != nil {
				return err
			}
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

// sign adds a SigV4 Authorization (and X-Amz-Date, X-Amz-Content-Sha256) to req, as AWS's
// http action does with auth.sigv4; the payload is hashed into the signature.
func (a *httpAction) sign(ctx context.Context, x *execution, req *http.Request) error {
	cfg, err := x.engine.aws.config(ctx)
	if err != nil {
		return err
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("http action sigv4: AWS credentials: %w", err)
	}
	sum := sha256.Sum256(x.payload)
	hash := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", hash)
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hash, a.sigv4.service, a.sigv4.region, time.Now()); err != nil {
		return fmt.Errorf("http action sigv4: sign: %w", err)
	}
	return nil
}
