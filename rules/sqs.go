package rules

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// The sqs action sends with the SDK, which speaks SQS's JSON protocol. Some SQS emulators
// (goaws) speak only the older query protocol, which AWS still accepts; when a JSON request
// fails, the action tries the query protocol once and, if that works, keeps using it for that
// queue's endpoint.

func init() {
	builders["sqs"] = func(e *Engine, f *fields) action {
		f.str("roleArn", true)
		queue := f.tmpl("queueUrl", true)
		useBase64 := f.boolean("useBase64")
		return &awsAction{kind: "sqs", resource: queue, do: func(ctx context.Context, cfg aws.Config, x *execution) error {
			q := x.render(queue)
			if strings.HasSuffix(q, ".fifo") {
				return fmt.Errorf("FIFO queue %s is not supported by the sqs action", q)
			}
			body := string(x.payload)
			if useBase64 {
				body = b64(x.payload)
			}
			host := endpointKey(q)
			if _, query := x.engine.aws.queryEndpoints.Load(host); query {
				return sendQuery(ctx, cfg, q, body)
			}
			_, err := sqs.NewFromConfig(cfg).SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q), MessageBody: aws.String(body)})
			if err == nil {
				return nil
			}
			qerr := sendQuery(ctx, cfg, q, body)
			if qerr == nil {
				x.engine.aws.queryEndpoints.Store(host, true)
				x.engine.log.Info("SQS endpoint answers the query protocol only; the sqs action uses it from now on", "queue", q, "json_error", err)
				return nil
			}
			return fmt.Errorf("send SQS message: JSON protocol: %w; query protocol: %v", err, qerr)
		}}
	}
}

func endpointKey(queueURL string) string {
	u, err := url.Parse(queueURL)
	if err != nil {
		return queueURL
	}
	return u.Scheme + "://" + u.Host
}

// sendQuery sends SendMessage in the query protocol (form-encoded, SigV4 "sqs") to the
// queue's URL.
func sendQuery(ctx context.Context, cfg aws.Config, queueURL, body string) error {
	form := url.Values{"Action": {"SendMessage"}, "Version": {"2012-11-05"}, "QueueUrl": {queueURL}, "MessageBody": {body}}
	data := []byte(form.Encode())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, queueURL, bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("SQS query request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("AWS credentials: %w", err)
	}
	sum := sha256.Sum256(data)
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "sqs", cfg.Region, time.Now()); err != nil {
		return fmt.Errorf("sign SQS query request: %w", err)
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("SQS query request: %w", err)
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK || !bytes.Contains(reply, []byte("SendMessageResponse")) {
		return fmt.Errorf("SQS query SendMessage: HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(reply)))
	}
	return nil
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
