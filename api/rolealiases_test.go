package api_test

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"

	"github.com/iotcore-local/iotcore-local/api"
	"github.com/iotcore-local/iotcore-local/registry"
)

func TestRoleAliases(t *testing.T) {
	e := newEnv(t)
	const role = "arn:aws:iam::123456789012:role/device-role"
	out, err := e.iot.CreateRoleAlias(e.ctx, &iot.CreateRoleAliasInput{RoleAlias: aws.String("dev-alias"), RoleArn: aws.String(role),
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("fw")}}})
	must(t, err)
	arn := "arn:aws:iot:us-east-1:123456789012:rolealias/dev-alias"
	if aws.ToString(out.RoleAliasArn) != arn || aws.ToString(out.RoleAlias) != "dev-alias" {
		t.Fatalf("create: %+v", out)
	}
	d, err := e.iot.DescribeRoleAlias(e.ctx, &iot.DescribeRoleAliasInput{RoleAlias: aws.String("dev-alias")})
	must(t, err)
	rd := d.RoleAliasDescription
	if aws.ToString(rd.RoleArn) != role || aws.ToInt32(rd.CredentialDurationSeconds) != 3600 || aws.ToString(rd.Owner) != testAccount ||
		rd.CreationDate == nil || rd.LastModifiedDate == nil || aws.ToString(rd.RoleAliasArn) != arn {
		t.Fatalf("describe: %+v", rd)
	}
	tags, err := e.iot.ListTagsForResource(e.ctx, &iot.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
	must(t, err)
	if len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].Value) != "fw" {
		t.Fatalf("tags: %+v", tags.Tags)
	}
	// Terraform updates the duration and the role in two calls.
	_, err = e.iot.UpdateRoleAlias(e.ctx, &iot.UpdateRoleAliasInput{RoleAlias: aws.String("dev-alias"), CredentialDurationSeconds: aws.Int32(900)})
	must(t, err)
	_, err = e.iot.UpdateRoleAlias(e.ctx, &iot.UpdateRoleAliasInput{RoleAlias: aws.String("dev-alias"), RoleArn: aws.String(role + "2")})
	must(t, err)
	d, err = e.iot.DescribeRoleAlias(e.ctx, &iot.DescribeRoleAliasInput{RoleAlias: aws.String("dev-alias")})
	must(t, err)
	if aws.ToInt32(d.RoleAliasDescription.CredentialDurationSeconds) != 900 || aws.ToString(d.RoleAliasDescription.RoleArn) != role+"2" {
		t.Fatalf("after updates: %+v", d.RoleAliasDescription)
	}
	for _, n := range []string{"b-alias", "c-alias"} {
		_, err := e.iot.CreateRoleAlias(e.ctx, &iot.CreateRoleAliasInput{RoleAlias: aws.String(n), RoleArn: aws.String(role), CredentialDurationSeconds: aws.Int32(43200)})
		must(t, err)
	}
	var names []string
	var marker *string
	for {
		l, err := e.iot.ListRoleAliases(e.ctx, &iot.ListRoleAliasesInput{PageSize: aws.Int32(2), Marker: marker, AscendingOrder: true})
		must(t, err)
		names = append(names, l.RoleAliases...)
		if marker = l.NextMarker; marker == nil {
			break
		}
	}
	if len(names) != 3 || names[0] != "b-alias" || names[2] != "dev-alias" {
		t.Fatalf("list: %v", names)
	}

	errs := []struct {
		name   string
		call   func() error
		status int
		check  func(error)
	}{
		{"duplicate", func() error {
			_, err := e.iot.CreateRoleAlias(e.ctx, &iot.CreateRoleAliasInput{RoleAlias: aws.String("dev-alias"), RoleArn: aws.String(role)})
			return err
		}, 409, func(err error) { wantErr[*types.ResourceAlreadyExistsException](t, err, 409) }},
		{"duration too short", func() error {
			_, err := e.iot.CreateRoleAlias(e.ctx, &iot.CreateRoleAliasInput{RoleAlias: aws.String("x"), RoleArn: aws.String(role), CredentialDurationSeconds: aws.Int32(899)})
			return err
		}, 400, func(err error) { wantErr[*types.InvalidRequestException](t, err, 400) }},
		{"bad name", func() error {
			_, err := e.iot.CreateRoleAlias(e.ctx, &iot.CreateRoleAliasInput{RoleAlias: aws.String("a b"), RoleArn: aws.String(role)})
			return err
		}, 400, func(err error) { wantErr[*types.InvalidRequestException](t, err, 400) }},
		{"missing", func() error {
			_, err := e.iot.DescribeRoleAlias(e.ctx, &iot.DescribeRoleAliasInput{RoleAlias: aws.String("nope")})
			return err
		}, 404, func(err error) { wantErr[*types.ResourceNotFoundException](t, err, 404) }},
		{"update missing", func() error {
			_, err := e.iot.UpdateRoleAlias(e.ctx, &iot.UpdateRoleAliasInput{RoleAlias: aws.String("nope"), CredentialDurationSeconds: aws.Int32(1000)})
			return err
		}, 404, func(err error) { wantErr[*types.ResourceNotFoundException](t, err, 404) }},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) { tc.check(tc.call()) })
	}

	_, err = e.iot.DeleteRoleAlias(e.ctx, &iot.DeleteRoleAliasInput{RoleAlias: aws.String("dev-alias")})
	must(t, err)
	_, err = e.iot.DescribeRoleAlias(e.ctx, &iot.DescribeRoleAliasInput{RoleAlias: aws.String("dev-alias")})
	wantErr[*types.ResourceNotFoundException](t, err, 404)
	_, err = e.iot.ListTagsForResource(e.ctx, &iot.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
	wantErr[*types.ResourceNotFoundException](t, err, 404)
}

// credentialsPolicy lets a certificate assume the role alias "allowed" and publish on dev/*.
const credentialsPolicy = `{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":"iot:AssumeRoleWithCertificate","Resource":"arn:aws:iot:us-east-1:123456789012:rolealias/allowed"},
 {"Effect":"Allow","Action":"iot:AssumeRoleWithCertificate","Resource":"arn:aws:iot:us-east-1:123456789012:rolealias/missing"}
]}`

// fakeClock is a settable clock for the temporary credentials.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestCredentialsProvider(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	e, b := dataEnv(t, func(c *api.Config) {
		c.SigV4Strict = true
		c.TemporaryCredentials = api.NewTemporaryCredentials(clock.now)
	})
	srv := httptest.NewUnstartedServer(e.srv.Config.Handler)
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert}
	srv.StartTLS()
	t.Cleanup(srv.Close)

	creds, err := e.ca.IssueDevice()
	must(t, err)
	cert, err := e.reg.RegisterCertificate(creds.CertificatePEM, registry.StatusActive, "")
	must(t, err)
	_, err = e.reg.CreatePolicy("creds", credentialsPolicy)
	must(t, err)
	must(t, e.reg.AttachPolicy("creds", cert.ARN))
	_, err = e.reg.CreateThing(registry.CreateThingInput{Name: "dev1"})
	must(t, err)
	_, err = e.reg.CreateThing(registry.CreateThingInput{Name: "other"})
	must(t, err)
	must(t, e.reg.AttachThingPrincipal("dev1", cert.ARN, ""))
	_, err = e.reg.CreateRoleAlias(registry.CreateRoleAliasInput{Name: "allowed", RoleARN: "arn:aws:iam::123456789012:role/dev", DurationSeconds: 900})
	must(t, err)
	_, err = e.reg.CreateRoleAlias(registry.CreateRoleAliasInput{Name: "forbidden", RoleARN: "arn:aws:iam::123456789012:role/dev"})
	must(t, err)

	pair, err := tls.X509KeyPair([]byte(creds.CertificatePEM), []byte(creds.PrivateKeyPEM))
	must(t, err)
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.Certificates = []tls.Certificate{pair}
	device := &http.Client{Transport: tr}
	fetch := func(c *http.Client, alias, thing string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(e.ctx, "GET", srv.URL+"/role-aliases/"+alias+"/credentials", nil)
		must(t, err)
		if thing != "" {
			req.Header.Set("x-amzn-iot-thingname", thing)
		}
		return sendWith(t, c, req)
	}

	resp, body := fetch(device, "allowed", "dev1")
	if resp.StatusCode != 200 {
		t.Fatalf("credentials: %d %s", resp.StatusCode, body)
	}
	var got struct {
		Credentials struct {
			AccessKeyID, SecretAccessKey, SessionToken, Expiration string
		} `json:"credentials"`
	}
	must(t, json.Unmarshal(body, &got))
	c := got.Credentials
	if !regexp.MustCompile(`^ASIA[A-Z2-7]{16}$`).MatchString(c.AccessKeyID) || c.SecretAccessKey == "" || c.SessionToken == "" {
		t.Fatalf("credentials: %s", body)
	}
	exp, err := time.Parse("2006-01-02T15:04:05Z", c.Expiration)
	must(t, err)
	if d := exp.Sub(clock.now()); d < 899*time.Second || d > 900*time.Second {
		t.Errorf("expiration %s is %v from now, want the alias's 900 s", c.Expiration, d)
	}

	// The credentials sign iot-data calls the strict SigV4 check accepts.
	data := func(key, secret, token string) *iotdataplane.Client {
		return iotdataplane.NewFromConfig(aws.Config{Region: testRegion, RetryMaxAttempts: 1, HTTPClient: e.srv.Client(),
			Credentials: credentials.NewStaticCredentialsProvider(key, secret, token)},
			func(o *iotdataplane.Options) { o.BaseEndpoint = aws.String(e.srv.URL) })
	}
	_, err = data(c.AccessKeyID, c.SecretAccessKey, c.SessionToken).Publish(e.ctx, &iotdataplane.PublishInput{Topic: aws.String("dev/1"), Payload: []byte("x")})
	must(t, err)
	if b.last(t).Topic != "dev/1" {
		t.Fatalf("published %+v", b.last(t))
	}
	// Without its session token, or with another secret, the key is refused.
	_, err = data(c.AccessKeyID, c.SecretAccessKey, "").Publish(e.ctx, &iotdataplane.PublishInput{Topic: aws.String("dev/1")})
	wantStatus(t, err, 403)
	_, err = data(c.AccessKeyID, "wrong", c.SessionToken).Publish(e.ctx, &iotdataplane.PublishInput{Topic: aws.String("dev/1")})
	wantStatus(t, err, 403)
	// Once expired, the key is refused.
	clock.add(901 * time.Second)
	_, err = data(c.AccessKeyID, c.SecretAccessKey, c.SessionToken).Publish(e.ctx, &iotdataplane.PublishInput{Topic: aws.String("dev/1")})
	wantStatus(t, err, 403)

	refusals := []struct {
		name, alias, thing string
		client             *http.Client
		status             int
		errType, message   string
	}{
		{"no thing header is fine, policy denies the alias", "forbidden", "", device, 403, "AccessDeniedException", "Access Denied"},
		{"thing not attached", "allowed", "other", device, 403, "AccessDeniedException", "Invalid thing name passed"},
		{"thing unknown", "allowed", "ghost", device, 403, "AccessDeniedException", "Invalid thing name passed"},
		{"alias missing", "missing", "", device, 404, "ResourceNotFoundException", "Role alias does not exist"},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := fetch(tc.client, tc.alias, tc.thing)
			errorShape(t, resp, body, tc.status, tc.errType, tc.message)
		})
	}
	// Without a client certificate (plain HTTP, or SigV4), the endpoint refuses.
	resp, body = e.do(t, "GET", "/role-aliases/allowed/credentials", "", nil)
	errorShape(t, resp, body, 403, "AccessDeniedException", "client certificate")
	// An inactive certificate gets nothing.
	must(t, e.reg.UpdateCertificateStatus(cert.ID, registry.StatusInactive))
	resp, body = fetch(device, "allowed", "")
	errorShape(t, resp, body, 403, "AccessDeniedException", "Certificate is invalid on this endpoint")
}

// wantStatus asserts that err carries an HTTP response with status.
func wantStatus(t *testing.T, err error, status int) {
	t.Helper()
	var re *awshttp.ResponseError
	if err == nil {
		t.Fatalf("no error, want HTTP %d", status)
	}
	if !errors.As(err, &re) || re.HTTPStatusCode() != status {
		t.Fatalf("error %v, want HTTP %d", err, status)
	}
}
