package bench

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultPolicyName is the policy provisioning creates and attaches to every bench device.
const DefaultPolicyName = "iotcore-local-bench"

// BenchPolicy is the thing-scoped policy of provisioned devices: connect only as the thing the
// certificate is attached to; publish, receive and subscribe under bench/ (the pubsub
// scenario); and publish, receive and subscribe on the thing's own Device Shadow topics, classic
// and named (the shadow scenario). Region and account are wildcards so the document fits any
// emulator configuration. A policy resource's * spans topic levels, so shadow/* covers
// shadow/update, shadow/update/accepted and shadow/name/N/update alike.
const BenchPolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": "iot:Connect", "Resource": "arn:aws:iot:*:*:client/${iot:Connection.Thing.ThingName}"},
    {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": "arn:aws:iot:*:*:topic/bench/*"},
    {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": "arn:aws:iot:*:*:topicfilter/bench/*"},
    {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": "arn:aws:iot:*:*:topic/$aws/things/${iot:Connection.Thing.ThingName}/shadow/*"},
    {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": "arn:aws:iot:*:*:topicfilter/$aws/things/${iot:Connection.Thing.ThingName}/shadow/*"}
  ]
}`

// legacyBenchPolicies are the documents earlier versions of the load generator stored under
// the bench policy's name. Provisioning upgrades such a policy to BenchPolicy with a new default
// version instead of refusing it, so credentials cached by an earlier version keep working.
var legacyBenchPolicies = []string{`{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": "iot:Connect", "Resource": "arn:aws:iot:*:*:client/${iot:Connection.Thing.ThingName}"},
    {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": "arn:aws:iot:*:*:topic/bench/*"},
    {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": "arn:aws:iot:*:*:topicfilter/bench/*"}
  ]
}`}

// ProvisionConfig says which devices to create through the emulator's HTTP API.
type ProvisionConfig struct {
	// APIURL is the emulator's API, e.g. http://127.0.0.1:4580.
	APIURL string
	// Devices is how many to have: things Prefix0 … Prefix(N−1).
	Devices int
	// Prefix starts every thing name (and so client id); default "bench-".
	Prefix string
	// PolicyName names the policy holding BenchPolicy; default DefaultPolicyName.
	PolicyName string
	// Concurrency is the API calls in flight; default twice the CPUs.
	Concurrency int
	// Cache, when set, is a JSON file of credentials kept between runs: devices found there
	// (and still ACTIVE in the emulator) are reused, only missing ones are created, and the file
	// is rewritten. Issuing a certificate costs an RSA-2048 key, so large fleets are made once.
	Cache string
	// KeyType is KeyRSA (the default) or KeyECDSA.
	KeyType string
	// HTTPClient defaults to one with a 30 s timeout.
	HTTPClient *http.Client
	Progress   io.Writer
	Logger     *slog.Logger
}

// Key types of provisioned devices.
const (
	// KeyRSA: CreateKeysAndCertificate, an RSA-2048 key and a certificate from the emulator's
	// device CA, exactly what AWS IoT Core issues. Each costs the emulator an RSA key generation
	// (tens of milliseconds), so large fleets are best kept with a cache.
	KeyRSA = "rsa"
	// KeyECDSA: a P-256 key and certificate made here, signed by a bench CA kept in the fleet
	// (DeviceCAPEM), registered with RegisterCertificateWithoutCA. Fast for large fleets, and
	// other brokers can be given the bench CA to verify the very same certificates.
	KeyECDSA = "ecdsa"
)

// Credentials are one provisioned device, as the cache file stores them.
type Credentials struct {
	ThingName      string `json:"thing_name"`
	CertificateID  string `json:"certificate_id"`
	CertificateARN string `json:"certificate_arn"`
	CertificatePEM string `json:"certificate_pem"`
	PrivateKeyPEM  string `json:"private_key_pem"`
}

// Fleet is a set of provisioned devices and the CA that verifies the server.
type Fleet struct {
	APIURL    string `json:"api_url"`
	Prefix    string `json:"prefix"`
	KeyType   string `json:"key_type"`
	RootCAPEM string `json:"root_ca_pem"`
	// DeviceCAPEM and DeviceCAKeyPEM are the bench CA of a KeyECDSA fleet: give DeviceCAPEM to
	// other brokers as the CA of client certificates; the key signs devices added later.
	DeviceCAPEM    string        `json:"device_ca_pem,omitempty"`
	DeviceCAKeyPEM string        `json:"device_ca_key_pem,omitempty"`
	Credentials    []Credentials `json:"devices"`
}

// Devices parses the credentials into identities for a Target, using every CPU.
func (f *Fleet) Devices() ([]Device, error) {
	out := make([]Device, len(f.Credentials))
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(out) {
					return
				}
				c := f.Credentials[i]
				cert, err := tls.X509KeyPair([]byte(c.CertificatePEM), []byte(c.PrivateKeyPEM))
				if err != nil {
					once.Do(func() { firstErr = fmt.Errorf("device %s: key pair: %w", c.ThingName, err) })
					return
				}
				out[i] = Device{ClientID: c.ThingName, CertificateID: c.CertificateID, Certificate: cert}
			}
		}()
	}
	wg.Wait()
	return out, firstErr
}

// RootCAs is the fleet's root CA as a pool for Target.RootCAs.
func (f *Fleet) RootCAs() (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(f.RootCAPEM)) {
		return nil, errors.New("the emulator's root CA PEM holds no certificate")
	}
	return pool, nil
}

// Provision makes sure Devices things exist, each with its own ACTIVE certificate and the bench
// policy attached, using the emulator's AWS-compatible API, and returns their credentials.
func Provision(ctx context.Context, cfg ProvisionConfig) (*Fleet, error) {
	if cfg.Devices <= 0 {
		return nil, errors.New("provision: the number of devices must be positive")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultClientIDPrefix
	}
	if cfg.PolicyName == "" {
		cfg.PolicyName = DefaultPolicyName
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 2 * runtime.NumCPU()
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.KeyType == "" {
		cfg.KeyType = KeyRSA
	}
	if cfg.KeyType != KeyRSA && cfg.KeyType != KeyECDSA {
		return nil, fmt.Errorf("provision: key type %q: must be %s or %s", cfg.KeyType, KeyRSA, KeyECDSA)
	}
	u, err := url.Parse(cfg.APIURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("provision: API URL %q is not an http(s) URL", cfg.APIURL)
	}
	log := loggerOr(cfg.Logger)
	api := &apiClient{base: strings.TrimRight(cfg.APIURL, "/"), http: cfg.HTTPClient}

	ca, err := api.do(ctx, http.MethodGet, "/_iotcore/root-ca.pem", nil, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("provision: fetch the root CA (is %s an iotcore-local API?): %w", cfg.APIURL, err)
	}
	fleet := &Fleet{APIURL: cfg.APIURL, Prefix: cfg.Prefix, KeyType: cfg.KeyType, RootCAPEM: string(ca)}
	if cfg.Cache != "" {
		if cached := api.reusable(ctx, cfg, log); cached != nil {
			cached.APIURL, cached.RootCAPEM = fleet.APIURL, fleet.RootCAPEM
			fleet = cached
		}
	}
	// Also for a fully cached fleet: its devices may hold an older version of the policy.
	if err := api.ensurePolicy(ctx, cfg.PolicyName); err != nil {
		return nil, fmt.Errorf("provision: %w", err)
	}
	if len(fleet.Credentials) >= cfg.Devices {
		fleet.Credentials = fleet.Credentials[:cfg.Devices]
		return fleet, nil
	}
	var issuer *benchCA
	if cfg.KeyType == KeyECDSA {
		if issuer, err = fleet.benchCA(); err != nil {
			return nil, fmt.Errorf("provision: %w", err)
		}
	}

	have := len(fleet.Credentials)
	fleet.Credentials = append(fleet.Credentials, make([]Credentials, cfg.Devices-have)...)
	var next, done atomic.Int64
	next.Store(int64(have))
	stop := startProgress(cfg.Progress, "provision", func(el time.Duration) string {
		n := done.Load()
		return fmt.Sprintf("%d/%d devices created, %.0f/s", n, cfg.Devices-have, perSecond(float64(n), el))
	})
	defer stop()
	pctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for range min(cfg.Concurrency, cfg.Devices-have) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for pctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= cfg.Devices {
					return
				}
				c, err := api.createDevice(pctx, cfg.Prefix+strconv.Itoa(i), cfg.PolicyName, issuer)
				if err != nil {
					cancel(err)
					return
				}
				fleet.Credentials[i] = c
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	stop()
	if err := context.Cause(pctx); err != nil {
		return nil, fmt.Errorf("provision: %w", err)
	}
	log.Info("bench: provisioned devices", "created", cfg.Devices-have, "reused", have, "api", cfg.APIURL)
	if cfg.Cache != "" {
		if err := fleet.Save(cfg.Cache); err != nil {
			return nil, fmt.Errorf("provision: %w", err)
		}
	}
	return fleet, nil
}

// reusable returns the cached fleet if it still works: same prefix and key type, and the first
// and last certificate still ACTIVE in the emulator behind the API (one started afresh knows none
// of them). The API's address may differ: an emulator restarted on its state folder with listeners
// on free ports keeps its devices.
func (a *apiClient) reusable(ctx context.Context, cfg ProvisionConfig, log *slog.Logger) *Fleet {
	cached, err := LoadFleet(cfg.Cache)
	if err != nil {
		log.Info("bench: no usable credentials cache; creating devices", "cache", cfg.Cache, "reason", err)
		return nil
	}
	if cached.Prefix != cfg.Prefix || cached.KeyType != cfg.KeyType || len(cached.Credentials) == 0 {
		log.Info("bench: credentials cache is for another prefix or key type; creating devices", "cache", cfg.Cache)
		return nil
	}
	for _, c := range []Credentials{cached.Credentials[0], cached.Credentials[len(cached.Credentials)-1]} {
		var out struct {
			CertificateDescription struct {
				Status string `json:"status"`
			} `json:"certificateDescription"`
		}
		if _, err := a.do(ctx, http.MethodGet, "/certificates/"+url.PathEscape(c.CertificateID), nil, nil, &out); err != nil || out.CertificateDescription.Status != "ACTIVE" {
			log.Info("bench: cached certificates are unknown to the emulator or not ACTIVE; creating devices", "cache", cfg.Cache)
			return nil
		}
	}
	return cached
}

// LoadFleet reads a credentials file written by Save (or by Provision's cache).
func LoadFleet(path string) (*Fleet, error) {
	b, err := readFile(path)
	if err != nil {
		return nil, err
	}
	var f Fleet
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("read credentials %s: %w", path, err)
	}
	return &f, nil
}

// Save writes the fleet's credentials (private keys included) to path with mode 0600.
func (f *Fleet) Save(path string) error {
	b, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("encode credentials: %w", err)
	}
	return writeFileAtomic(path, b, 0o600)
}

// apiClient makes the few rest-json calls provisioning needs.
type apiClient struct {
	base string
	http *http.Client
}

// apiError is an error answer of the API: the status and AWS exception name.
type apiError struct {
	Status  int
	Type    string
	Message string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s (HTTP %d): %s", e.Type, e.Status, e.Message)
}

// do sends one request with an optional JSON body and headers and decodes a JSON answer into
// out (when not nil). It returns the raw body.
func (a *apiClient) do(ctx context.Context, method, path string, body any, header map[string]string, out any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Message string `json:"message"`
		}
		json.Unmarshal(raw, &e)
		typ, _, _ := strings.Cut(resp.Header.Get("x-amzn-ErrorType"), ":")
		return raw, fmt.Errorf("%s %s: %w", method, path, &apiError{Status: resp.StatusCode, Type: typ, Message: e.Message})
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return raw, fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return raw, nil
}

// ensurePolicy creates the bench policy, or accepts an existing one with the same document, or
// upgrades one holding a legacy bench document to BenchPolicy (CreatePolicyVersion with
// setAsDefault; certificates refer to the policy by name, so they get the new document at
// their next connection). Any other document is refused: it is not ours to change.
func (a *apiClient) ensurePolicy(ctx context.Context, name string) error {
	path := "/policies/" + url.PathEscape(name)
	_, err := a.do(ctx, http.MethodPost, path, map[string]string{"policyDocument": BenchPolicy}, nil, nil)
	var ae *apiError
	if !errors.As(err, &ae) || ae.Type != "ResourceAlreadyExistsException" {
		return err
	}
	var got struct {
		PolicyDocument string `json:"policyDocument"`
	}
	if _, err := a.do(ctx, http.MethodGet, path, nil, nil, &got); err != nil {
		return err
	}
	if sameJSON(got.PolicyDocument, BenchPolicy) {
		return nil
	}
	for _, old := range legacyBenchPolicies {
		if sameJSON(got.PolicyDocument, old) {
			_, err := a.do(ctx, http.MethodPost, path+"/version?setAsDefault=true", map[string]string{"policyDocument": BenchPolicy}, nil, nil)
			if err != nil {
				return fmt.Errorf("upgrade policy %s to the current bench policy: %w", name, err)
			}
			return nil
		}
	}
	return fmt.Errorf("policy %s exists with another document; delete it or choose another policy name", name)
}

// createDevice creates thing name (or reuses it), a new ACTIVE certificate with its key —
// issued by the emulator, or by issuer and registered when issuer is not nil — and attaches the
// policy and the thing to the certificate.
func (a *apiClient) createDevice(ctx context.Context, name, policy string, issuer *benchCA) (Credentials, error) {
	if _, err := a.do(ctx, http.MethodPost, "/things/"+url.PathEscape(name), struct{}{}, nil, nil); err != nil {
		return Credentials{}, err
	}
	var kc struct {
		CertificateArn string `json:"certificateArn"`
		CertificateID  string `json:"certificateId"`
		CertificatePem string `json:"certificatePem"`
		KeyPair        struct {
			PrivateKey string `json:"PrivateKey"`
		} `json:"keyPair"`
	}
	if issuer == nil {
		if _, err := a.do(ctx, http.MethodPost, "/keys-and-certificate?setAsActive=true", struct{}{}, nil, &kc); err != nil {
			return Credentials{}, err
		}
	} else {
		certPEM, keyPEM, err := issuer.issue(name)
		if err != nil {
			return Credentials{}, err
		}
		body := map[string]string{"certificatePem": certPEM, "status": "ACTIVE"}
		if _, err := a.do(ctx, http.MethodPost, "/certificate/register-no-ca", body, nil, &kc); err != nil {
			return Credentials{}, err
		}
		kc.CertificatePem, kc.KeyPair.PrivateKey = certPEM, keyPEM
	}
	if _, err := a.do(ctx, http.MethodPut, "/target-policies/"+url.PathEscape(policy), map[string]string{"target": kc.CertificateArn}, nil, nil); err != nil {
		return Credentials{}, err
	}
	if _, err := a.do(ctx, http.MethodPut, "/things/"+url.PathEscape(name)+"/principals", struct{}{}, map[string]string{"x-amzn-principal": kc.CertificateArn}, nil); err != nil {
		return Credentials{}, err
	}
	return Credentials{ThingName: name, CertificateID: kc.CertificateID, CertificateARN: kc.CertificateArn,
		CertificatePEM: kc.CertificatePem, PrivateKeyPEM: kc.KeyPair.PrivateKey}, nil
}

// sameJSON says whether two JSON texts hold the same value.
func sameJSON(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return bytes.Equal(xb, yb)
}
