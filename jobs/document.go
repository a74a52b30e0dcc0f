package jobs

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// maxDocument is the longest job document AWS accepts (characters of JSON text).
const maxDocument = 32768

var (
	paramRE     = regexp.MustCompile(`\$\{aws:iot:parameter:([a-zA-Z0-9_-]+)\}`)
	presignedRE = regexp.MustCompile(`\$\{aws:iot:s3-presigned-url:([^}]+)\}`)
	paramKeyRE  = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,128}$`)
)

// checkDocument validates a job document: a JSON object of at most 32768 characters.
func checkDocument(doc string) *Error {
	if len(doc) > maxDocument {
		return newError(ErrInvalidRequest, "document: %d characters, at most %d are allowed", len(doc), maxDocument)
	}
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		return newError(ErrInvalidRequest, "document: not valid JSON: %v", err)
	}
	if _, ok := v.(map[string]any); !ok {
		return newError(ErrInvalidRequest, "document: the job document must be a JSON object")
	}
	return nil
}

// substituteParameters replaces ${aws:iot:parameter:KEY} placeholders with the document
// parameters. A placeholder without a value is an invalid request, as is a parameter of a wrong
// form. Values are inserted JSON-escaped, since they land inside JSON strings.
func substituteParameters(doc string, params map[string]string) (string, *Error) {
	for k, v := range params {
		if !paramKeyRE.MatchString(k) {
			return "", newError(ErrInvalidRequest, "documentParameters: key %q must be 1-128 characters of a-z, A-Z, 0-9, '_' and '-'", k)
		}
		if len(v) < 1 || len(v) > 30720 {
			return "", newError(ErrInvalidRequest, "documentParameters.%s: the value must be 1-30720 characters", k)
		}
	}
	var missing string
	out := paramRE.ReplaceAllStringFunc(doc, func(m string) string {
		key := paramRE.FindStringSubmatch(m)[1]
		v, ok := params[key]
		if !ok {
			missing = key
			return m
		}
		q, _ := json.Marshal(v)
		return string(q[1 : len(q)-1])
	})
	if missing != "" {
		return "", newError(ErrInvalidRequest, "documentParameters: no value for the placeholder ${aws:iot:parameter:%s}", missing)
	}
	return out, nil
}

// deviceDocument is the job document as a device receives it: presigned S3 placeholders
// replaced on each request, as AWS does.
func (s *Service) deviceDocument(j *Job, now time.Time) string {
	doc := j.Document
	if !strings.Contains(doc, "${aws:iot:s3-presigned-url:") {
		return doc
	}
	expires := int64(3600)
	if j.PresignedURLConfig != nil && j.PresignedURLConfig.ExpiresInSec != nil {
		expires = *j.PresignedURLConfig.ExpiresInSec
	}
	return presignedRE.ReplaceAllStringFunc(doc, func(m string) string {
		raw := presignedRE.FindStringSubmatch(m)[1]
		u, ok := s.pre.Presign(raw, time.Duration(expires)*time.Second, now)
		if !ok {
			return m
		}
		q, _ := json.Marshal(u)
		return string(q[1 : len(q)-1])
	})
}

// Presigner turns an S3 object URL into a presigned GET URL.
type Presigner interface {
	// Presign returns the presigned URL, or false to leave the placeholder as it is.
	Presign(objectURL string, expires time.Duration, now time.Time) (string, bool)
}

// envPresigner presigns for the S3-compatible endpoint the AWS SDK way of configuring one
// names: AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL; with credentials from AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) and the region from AWS_REGION (default
// us-east-1). Without an endpoint it leaves placeholders as they are, saying so once in the log.
type envPresigner struct {
	endpoint string
	region   string
	creds    aws.Credentials
	log      *slog.Logger
	warned   sync.Once
}

// NewEnvPresigner reads the environment as described on envPresigner.
func NewEnvPresigner(log *slog.Logger) Presigner {
	p := &envPresigner{log: log, region: os.Getenv("AWS_REGION")}
	p.endpoint = os.Getenv("AWS_ENDPOINT_URL_S3")
	if p.endpoint == "" {
		p.endpoint = os.Getenv("AWS_ENDPOINT_URL")
	}
	if p.region == "" {
		p.region = os.Getenv("AWS_DEFAULT_REGION")
	}
	if p.region == "" {
		p.region = "us-east-1"
	}
	p.creds = aws.Credentials{
		AccessKeyID: os.Getenv("AWS_ACCESS_KEY_ID"), SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
		SessionToken: os.Getenv("AWS_SESSION_TOKEN"),
	}
	if p.creds.AccessKeyID == "" {
		p.creds.AccessKeyID, p.creds.SecretAccessKey = "test", "test"
	}
	return p
}

// bucketAndKey reads an S3 object URL in either style: https://s3[.region].amazonaws.com/b/k
// (path style) or https://b.s3[.region].amazonaws.com/k (virtual host), or s3://b/k.
func bucketAndKey(raw string) (bucket, key string, ok bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", "", false
	}
	path := strings.TrimPrefix(u.Path, "/")
	if u.Scheme == "s3" {
		return u.Host, path, path != ""
	}
	host := u.Hostname()
	if strings.HasPrefix(host, "s3.") || strings.HasPrefix(host, "s3-") || host == "s3.amazonaws.com" {
		bucket, key, _ = strings.Cut(path, "/")
		return bucket, key, bucket != "" && key != ""
	}
	if i := strings.Index(host, ".s3"); i > 0 {
		return host[:i], path, path != ""
	}
	return "", "", false
}

func (p *envPresigner) Presign(objectURL string, expires time.Duration, now time.Time) (string, bool) {
	if p.endpoint == "" {
		p.warned.Do(func() {
			p.log.Info("job document has ${aws:iot:s3-presigned-url:...} placeholders; they are left as text because no S3 endpoint is configured (set AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL)")
		})
		return "", false
	}
	bucket, key, ok := bucketAndKey(objectURL)
	if !ok {
		p.log.Warn("presigned URL placeholder is not an S3 object URL; left as text", "url", objectURL)
		return "", false
	}
	target := strings.TrimRight(p.endpoint, "/") + "/" + bucket + "/" + key
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		p.log.Warn("presign S3 URL", "url", target, "error", err)
		return "", false
	}
	q := req.URL.Query()
	q.Set("X-Amz-Expires", strconv.FormatInt(int64(expires/time.Second), 10))
	req.URL.RawQuery = q.Encode()
	signed, _, err := v4.NewSigner().PresignHTTP(context.Background(), p.creds, req, "UNSIGNED-PAYLOAD", "s3", p.region, now)
	if err != nil {
		p.log.Warn("presign S3 URL", "url", target, "error", err)
		return "", false
	}
	return signed, true
}
