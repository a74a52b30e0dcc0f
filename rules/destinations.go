package rules

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Destination is a topic rule destination for HTTP: a confirmation URL that http actions'
// URLs start with. It is ENABLED only after its owner confirmed it with the token the
// confirmation request carried.
type Destination struct {
	Arn             string    `json:"arn"`
	Status          string    `json:"status"`
	StatusReason    string    `json:"statusReason,omitempty"`
	ConfirmationURL string    `json:"confirmationUrl"`
	CreatedAt       time.Time `json:"createdAt"`
	LastUpdatedAt   time.Time `json:"lastUpdatedAt"`
	Token           string    `json:"token"`
	Confirmed       bool      `json:"confirmed"`
}

// Destination statuses.
const (
	StatusEnabled    = "ENABLED"
	StatusInProgress = "IN_PROGRESS"
	StatusDisabled   = "DISABLED"
	StatusError      = "ERROR"
)

// checkHTTPURL allows https:// URLs, and plain http:// to loopback as an emulator convenience.
func checkHTTPURL(field, s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return nil, errorf(ErrInvalidRequest, "%s %q is not an absolute URL", field, s)
	}
	switch u.Scheme {
	case "https":
		return u, nil
	case "http":
		if isLoopback(u.Hostname()) {
			return u, nil
		}
	}
	return nil, errorf(ErrInvalidRequest, "%s %q must use https (plain http is allowed only to loopback)", field, s)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// CreateDestination creates an HTTP destination and sends its confirmation request
// (CreateTopicRuleDestination).
func (e *Engine) CreateDestination(confirmationURL string) (*Destination, error) {
	if _, err := checkHTTPURL("destinationConfiguration.httpUrlConfiguration.confirmationUrl", confirmationURL); err != nil {
		return nil, err
	}
	e.dmu.Lock()
	for _, d := range e.dests {
		if d.ConfirmationURL == confirmationURL {
			e.dmu.Unlock()
			return nil, errorf(ErrAlreadyExists, "Topic rule destination %s already exists for %s", d.Arn, confirmationURL)
		}
	}
	d := e.newDestination(confirmationURL)
	err := e.saveDestination(d)
	e.dmu.Unlock()
	if err != nil {
		return nil, err
	}
	e.sendConfirmation(*d)
	out := *d
	return &out, nil
}

func (e *Engine) newDestination(confirmationURL string) *Destination {
	now := e.opts.Now().UTC()
	tok := make([]byte, 32)
	rand.Read(tok)
	d := &Destination{
		Arn:    fmt.Sprintf("arn:aws:iot:%s:%s:ruledestination/http/%s", e.opts.Region, e.opts.Account, uuid.NewString()),
		Status: StatusInProgress, ConfirmationURL: confirmationURL, CreatedAt: now, LastUpdatedAt: now,
		Token: hex.EncodeToString(tok),
	}
	e.dests[d.Arn] = d
	return d
}

func (e *Engine) saveDestination(d *Destination) error {
	return e.st.put(bucketDestinations, d.Arn, d)
}

// sendConfirmation POSTs the confirmation request as AWS does, in the background.
func (e *Engine) sendConfirmation(d Destination) {
	enable := ""
	if e.opts.APIURL != nil {
		enable = strings.TrimSuffix(e.opts.APIURL(), "/") + "/confirmdestination/" + d.Token
	}
	body, _ := json.Marshal(map[string]string{
		"arn": d.Arn, "confirmationToken": d.Token, "enableUrl": enable, "messageType": "DestinationConfirmation",
	})
	target := d.ConfirmationURL
	sep := "?"
	if strings.Contains(target, "?") {
		sep = "&"
	}
	target += sep + "confirmationToken=" + url.QueryEscape(d.Token)
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		ctx, cancel := context.WithTimeout(e.ctx, e.opts.ActionTimeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
		if err != nil {
			e.log.Warn("destination confirmation not sent", "arn", d.Arn, "error", err)
			return
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("x-amz-rules-engine-message-type", "DestinationConfirmation")
		req.Header.Set("x-amz-rules-engine-destination-arn", d.Arn)
		resp, err := e.opts.HTTPClient.Do(req)
		if err != nil {
			e.log.Warn("destination confirmation request failed", "arn", d.Arn, "url", d.ConfirmationURL, "error", err)
			return
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		e.log.Info("destination confirmation request sent", "arn", d.Arn, "url", d.ConfirmationURL, "status", resp.StatusCode, "enable_url", enable)
	}()
}

// GetDestination returns a destination (GetTopicRuleDestination).
func (e *Engine) GetDestination(arn string) (*Destination, error) {
	e.dmu.Lock()
	defer e.dmu.Unlock()
	d, ok := e.dests[arn]
	if !ok {
		return nil, errorf(ErrNotFound, "Topic rule destination %s does not exist", arn)
	}
	out := *d
	return &out, nil
}

// ListDestinations lists destinations by creation (ListTopicRuleDestinations).
func (e *Engine) ListDestinations() []Destination {
	e.dmu.Lock()
	defer e.dmu.Unlock()
	out := make([]Destination, 0, len(e.dests))
	for _, d := range e.dests {
		out = append(out, *d)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].CreatedAt.Before(out[j].CreatedAt) || (out[i].CreatedAt.Equal(out[j].CreatedAt) && out[i].Arn < out[j].Arn)
	})
	return out
}

// UpdateDestination sets a destination's status (UpdateTopicRuleDestination): ENABLED needs a
// confirmed destination; IN_PROGRESS sends a new confirmation request.
func (e *Engine) UpdateDestination(arn, status string) error {
	e.dmu.Lock()
	d, ok := e.dests[arn]
	if !ok {
		e.dmu.Unlock()
		return errorf(ErrNotFound, "Topic rule destination %s does not exist", arn)
	}
	switch status {
	case StatusEnabled:
		if !d.Confirmed {
			e.dmu.Unlock()
			return errorf(ErrInvalidRequest, "Topic rule destination %s has not been confirmed", arn)
		}
	case StatusDisabled, StatusInProgress:
	default:
		e.dmu.Unlock()
		return errorf(ErrInvalidRequest, "status %q is not one of ENABLED, DISABLED, IN_PROGRESS", status)
	}
	d.Status, d.LastUpdatedAt = status, e.opts.Now().UTC()
	resend := status == StatusInProgress
	err := e.saveDestination(d)
	cp := *d
	e.dmu.Unlock()
	if err != nil {
		return err
	}
	if resend {
		e.sendConfirmation(cp)
	}
	e.log.Info("topic rule destination updated", "arn", arn, "status", status)
	return nil
}

// DeleteDestination removes a destination (DeleteTopicRuleDestination).
func (e *Engine) DeleteDestination(arn string) error {
	e.dmu.Lock()
	defer e.dmu.Unlock()
	if _, ok := e.dests[arn]; !ok {
		return errorf(ErrNotFound, "Topic rule destination %s does not exist", arn)
	}
	if err := e.st.delete(bucketDestinations, arn); err != nil {
		return err
	}
	delete(e.dests, arn)
	return nil
}

// ConfirmDestination confirms and enables the destination a token belongs to
// (ConfirmTopicRuleDestination, and the enableUrl of the confirmation request).
func (e *Engine) ConfirmDestination(token string) error {
	e.dmu.Lock()
	defer e.dmu.Unlock()
	for _, d := range e.dests {
		if d.Token == token && token != "" {
			d.Confirmed, d.Status, d.LastUpdatedAt = true, StatusEnabled, e.opts.Now().UTC()
			if err := e.saveDestination(d); err != nil {
				return err
			}
			e.log.Info("topic rule destination confirmed", "arn", d.Arn, "url", d.ConfirmationURL)
			return nil
		}
	}
	return errorf(ErrInvalidRequest, "confirmationToken is not valid")
}

// destinationFor finds the destination covering an action URL.
func (e *Engine) destinationFor(u string) (Destination, bool) {
	e.dmu.Lock()
	defer e.dmu.Unlock()
	var best *Destination
	for _, d := range e.dests {
		if strings.HasPrefix(u, d.ConfirmationURL) && (best == nil || len(d.ConfirmationURL) > len(best.ConfirmationURL)) {
			best = d
		}
	}
	if best == nil {
		return Destination{}, false
	}
	return *best, true
}

// ensureDestinations creates (and asks confirmation of) a destination for each http action
// whose URL no destination covers, as AWS does when a rule names a new URL. Plain http to
// loopback needs none.
func (e *Engine) ensureDestinations(c *compiled) {
	for _, a := range append(append([]action{}, c.actions...), c.errorAction) {
		h, ok := a.(*httpAction)
		if !ok {
			continue
		}
		conf := h.confirmationURL
		if conf == "" {
			conf = h.urlText
		}
		if conf == "" || strings.Contains(conf, "${") || strings.HasPrefix(conf, "http://") {
			continue
		}
		if _, ok := e.destinationFor(conf); ok {
			continue
		}
		e.dmu.Lock()
		d := e.newDestination(conf)
		err := e.saveDestination(d)
		cp := *d
		e.dmu.Unlock()
		if err != nil {
			e.log.Warn("topic rule destination not stored", "url", conf, "error", err)
			continue
		}
		e.log.Info("topic rule destination created for a rule's http action; confirm it", "rule", c.rule.Name, "arn", cp.Arn, "url", conf)
		e.sendConfirmation(cp)
	}
}
