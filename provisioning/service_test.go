package provisioning

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iotcore-local/iotcore-local/pki"
	"github.com/iotcore-local/iotcore-local/registry"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fakeInvoker answers hook invocations with a function of the event.
type fakeInvoker struct {
	answer func(event hookEvent) ([]byte, error)
	events []hookEvent
}

func (f *fakeInvoker) Invoke(ctx context.Context, arn string, payload []byte) ([]byte, error) {
	var ev hookEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, err
	}
	f.events = append(f.events, ev)
	return f.answer(ev)
}

const testTemplate = `{"Parameters":{"Serial":{"Type":"String"}},"Resources":{
 "thing":{"Type":"AWS::IoT::Thing","Properties":{"ThingName":{"Fn::Join":["",["dev-",{"Ref":"Serial"}]]}}},
 "cert":{"Type":"AWS::IoT::Certificate","Properties":{"CertificateId":{"Ref":"AWS::IoT::Certificate::Id"}}}}}`

func newTestService(t *testing.T, inv Invoker) (*Service, *registry.Registry, *clock) {
	t.Helper()
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	clk := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	reg, err := registry.Open(filepath.Join(dir, "registry.db"), registry.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	ca, err := pki.Load(pki.Options{Dir: dir, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(Options{Path: filepath.Join(dir, "provisioning.db"), Registry: reg, Issuer: ca, Invoker: inv, Now: clk.now, Logger: log, HookTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, reg, clk
}

func wantDeviceError(t *testing.T, err error, status int, code string) {
	t.Helper()
	var de *DeviceError
	if !errors.As(err, &de) || de.StatusCode != status || de.ErrorCode != code {
		t.Fatalf("error %v, want %d %s", err, status, code)
	}
}

// TestOwnershipTokens: a token expires after an hour (and its unclaimed certificate is deleted);
// a token is spent by a successful RegisterThing.
func TestOwnershipTokens(t *testing.T) {
	s, reg, clk := newTestService(t, nil)
	if _, err := s.CreateTemplate(CreateTemplateInput{Name: "t", Body: testTemplate, RoleARN: "arn:aws:iam::123456789012:role/R", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	old, err := s.CreateKeysAndCertificate()
	if err != nil {
		t.Fatal(err)
	}
	if len(old.Token) > maxTokenBytes {
		t.Fatalf("token of %d bytes", len(old.Token))
	}
	clk.add(time.Hour + time.Second)
	_, err = s.RegisterThing(context.Background(), RegisterRequest{TemplateName: "t", Token: old.Token, Parameters: map[string]string{"Serial": "1"}})
	wantDeviceError(t, err, 400, CodeInvalidToken)
	if _, err := reg.DescribeThing("dev-1"); err == nil {
		t.Fatal("an expired token provisioned a thing")
	}
	// The next create sweeps: the expired token's certificate is gone.
	fresh, err := s.CreateKeysAndCertificate()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.DescribeCertificate(old.CertificateID); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("the certificate of an expired token is still registered: %v", err)
	}
	res, err := s.RegisterThing(context.Background(), RegisterRequest{TemplateName: "t", Token: fresh.Token, Parameters: map[string]string{"Serial": "2"}})
	if err != nil || res.ThingName != "dev-2" {
		t.Fatalf("RegisterThing: %+v %v", res, err)
	}
	_, err = s.RegisterThing(context.Background(), RegisterRequest{TemplateName: "t", Token: fresh.Token, Parameters: map[string]string{"Serial": "3"}})
	wantDeviceError(t, err, 400, CodeInvalidToken)
	_, err = s.RegisterThing(context.Background(), RegisterRequest{TemplateName: "t", Token: strings.Repeat("x", 600)})
	wantDeviceError(t, err, 400, CodeInvalidToken)
	_, err = s.RegisterThing(context.Background(), RegisterRequest{TemplateName: "nope", Token: fresh.Token})
	wantDeviceError(t, err, 404, CodeNotFound)
}

// TestPreProvisioningHook: the event AWS sends, allow (boolean or "true"), overrides, refusals,
// function errors and the timeout.
func TestPreProvisioningHook(t *testing.T) {
	inv := &fakeInvoker{}
	s, reg, _ := newTestService(t, inv)
	_, err := s.CreateTemplate(CreateTemplateInput{Name: "t", Body: testTemplate, RoleARN: "arn:aws:iam::123456789012:role/R", Enabled: true,
		Hook: &Hook{TargetARN: "arn:aws:lambda:us-east-1:123456789012:function:hook", PayloadVersion: "2020-04-01"}})
	if err != nil {
		t.Fatal(err)
	}
	register := func(serial string) (RegisterResult, error) {
		nc, err := s.CreateKeysAndCertificate()
		if err != nil {
			t.Fatal(err)
		}
		return s.RegisterThing(context.Background(), RegisterRequest{TemplateName: "t", Token: nc.Token, Parameters: map[string]string{"Serial": serial}, ClientID: "c1", ClaimCertificateID: "claim"})
	}
	for _, tc := range []struct {
		name   string
		answer func(hookEvent) ([]byte, error)
		thing  string // "" when refused
	}{
		{"allowed", func(hookEvent) ([]byte, error) { return []byte(`{"allowProvisioning":true}`), nil }, "dev-a"},
		{"string true with overrides", func(hookEvent) ([]byte, error) {
			return []byte(`{"allowProvisioning":"true","parameterOverrides":{"Serial":"override"}}`), nil
		}, "dev-override"},
		{"refused", func(hookEvent) ([]byte, error) { return []byte(`{"allowProvisioning":false}`), nil }, ""},
		{"missing answer", func(hookEvent) ([]byte, error) { return []byte(`{}`), nil }, ""},
		{"function error", func(hookEvent) ([]byte, error) {
			return []byte(`{"errorMessage":"boom","errorType":"Runtime.Error"}`), nil
		}, ""},
		{"invoke fails", func(hookEvent) ([]byte, error) { return nil, errors.New("connection refused") }, ""},
		{"not JSON", func(hookEvent) ([]byte, error) { return []byte(`Task timed out after 3.00 seconds`), nil }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inv.answer = tc.answer
			serial := strings.ReplaceAll(tc.name, " ", "")
			if tc.thing == "dev-a" {
				serial = "a"
			}
			res, err := register(serial)
			if tc.thing == "" {
				wantDeviceError(t, err, 403, CodeAccessDenied)
				if _, err := reg.DescribeThing("dev-" + serial); err == nil {
					t.Error("a refused hook left a thing")
				}
				return
			}
			if err != nil || res.ThingName != tc.thing {
				t.Fatalf("RegisterThing: %+v %v, want thing %s", res, err, tc.thing)
			}
		})
	}
	ev := inv.events[0]
	if ev.ClaimCertificateID != "claim" || ev.ClientID != "c1" || len(ev.CertificateID) != 64 || !strings.Contains(ev.CertificatePEM, "BEGIN CERTIFICATE") ||
		ev.TemplateARN != "arn:aws:iot:us-east-1:123456789012:provisioningtemplate/t" || ev.Parameters["Serial"] != "a" {
		t.Errorf("hook event %+v", ev)
	}
	// A hook slower than the timeout refuses.
	inv.answer = func(hookEvent) ([]byte, error) { return nil, context.DeadlineExceeded }
	_, err = register("slow")
	wantDeviceError(t, err, 403, CodeAccessDenied)
}

// TestProvisionOverrides: a second device provisioned to an existing thing follows the
// template's override settings; FAIL refuses with nothing changed.
func TestProvisionOverrides(t *testing.T) {
	s, reg, _ := newTestService(t, nil)
	body := func(attrOverride string) string {
		return `{"Parameters":{"V":{"Type":"String"}},"Resources":{
		 "thing":{"Type":"AWS::IoT::Thing","Properties":{"ThingName":"shared","AttributePayload":{"v":{"Ref":"V"}}},"OverrideSettings":{"AttributePayload":"` + attrOverride + `"}},
		 "cert":{"Type":"AWS::IoT::Certificate","Properties":{"CertificateId":{"Ref":"AWS::IoT::Certificate::Id"}}}}}`
	}
	for _, name := range []string{"merge", "fail", "nothing", "replace"} {
		o := map[string]string{"merge": "MERGE", "fail": "FAIL", "nothing": "DO_NOTHING", "replace": "REPLACE"}[name]
		if _, err := s.CreateTemplate(CreateTemplateInput{Name: name, Body: body(o), RoleARN: "arn:aws:iam::123456789012:role/R", Enabled: true}); err != nil {
			t.Fatal(err)
		}
	}
	run := func(tmpl, v string) error {
		nc, err := s.CreateKeysAndCertificate()
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.RegisterThing(context.Background(), RegisterRequest{TemplateName: tmpl, Token: nc.Token, Parameters: map[string]string{"V": v}})
		return err
	}
	attr := func() string {
		th, err := reg.DescribeThing("shared")
		if err != nil {
			t.Fatal(err)
		}
		return th.Attributes["v"]
	}
	if err := run("merge", "1"); err != nil || attr() != "1" {
		t.Fatalf("create: %v %s", err, attr())
	}
	if err := run("nothing", "2"); err != nil || attr() != "1" {
		t.Fatalf("DO_NOTHING: %v %s", err, attr())
	}
	wantDeviceError(t, run("fail", "3"), 409, CodeConflict)
	if attr() != "1" {
		t.Fatalf("FAIL changed the thing: %s", attr())
	}
	if err := run("replace", "4"); err != nil || attr() != "4" {
		t.Fatalf("REPLACE: %v %s", err, attr())
	}
	if err := run("merge", "5"); err != nil || attr() != "5" {
		t.Fatalf("MERGE: %v %s", err, attr())
	}
	principals, _, err := reg.ListThingPrincipals("shared", "", 0)
	if err != nil || len(principals) != 4 {
		t.Errorf("principals of the shared thing: %v %v (the refused one must not be attached)", principals, err)
	}
}

// TestTokenConcurrentUse: of many simultaneous RegisterThing requests with one token, exactly
// one succeeds.
func TestTokenConcurrentUse(t *testing.T) {
	s, _, _ := newTestService(t, nil)
	if _, err := s.CreateTemplate(CreateTemplateInput{Name: "t", Body: testTemplate, RoleARN: "arn:aws:iam::123456789012:role/R", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	nc, err := s.CreateKeysAndCertificate()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.RegisterThing(context.Background(), RegisterRequest{TemplateName: "t", Token: nc.Token, Parameters: map[string]string{"Serial": "x"}})
			if err == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if ok != 1 {
		t.Fatalf("%d requests succeeded with one token, want 1", ok)
	}
}

// TestTemplateLimit: creating past the account's template limit is LimitExceeded, and nothing
// is stored.
func TestTemplateLimit(t *testing.T) {
	defer func(n int) { maxTemplates = n }(maxTemplates)
	maxTemplates = 2
	s, _, _ := newTestService(t, nil)
	for i, name := range []string{"a", "b", "c"} {
		_, err := s.CreateTemplate(CreateTemplateInput{Name: name, Body: testTemplate, RoleARN: "arn:aws:iam::123456789012:role/R"})
		if i < 2 && err != nil {
			t.Fatal(err)
		}
		if i == 2 && !errors.Is(err, ErrLimitExceeded) {
			t.Fatalf("third template: %v, want LimitExceeded", err)
		}
	}
	if ts, _, _ := s.ListTemplates(0, ""); len(ts) != 2 {
		t.Errorf("%d templates stored", len(ts))
	}
}
