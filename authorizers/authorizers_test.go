package authorizers

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iotcore-local/iotcore-local/functions"
)

// fakeInvoker answers with answer(payload) and counts calls.
type fakeInvoker struct {
	calls  atomic.Int32
	last   atomic.Pointer[[]byte]
	answer func(payload []byte) ([]byte, error)
}

func (f *fakeInvoker) Invoke(ctx context.Context, arn string, payload []byte) ([]byte, error) {
	f.calls.Add(1)
	f.last.Store(&payload)
	return f.answer(payload)
}
func (f *fakeInvoker) InvokeAsync(context.Context, string, []byte) error { return nil }

var testKey = func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}()

func publicPEM(t *testing.T) string {
	der, err := x509.MarshalPKIXPublicKey(&testKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func sign(token string) string {
	sum := sha256.Sum256([]byte(token))
	sig, _ := rsa.SignPKCS1v15(rand.Reader, testKey, crypto.SHA256, sum[:])
	return base64.StdEncoding.EncodeToString(sig)
}

func openService(t *testing.T, inv functions.Invoker, cache bool) *Service {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "authorizers.db"), Options{Region: "us-east-1", Account: "123456789012", Invoker: inv, Cache: cache, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

const allowAnswer = `{"isAuthenticated":true,"principalId":"dev1","policyDocuments":[{"Version":"2012-10-17","Statement":[]}, "{\"Version\":\"2012-10-17\",\"Statement\":[]}"],"disconnectAfterInSeconds":3600,"refreshAfterInSeconds":300}`

func TestControlPlane(t *testing.T) {
	s := openService(t, &fakeInvoker{}, false)
	pub := publicPEM(t)
	if _, err := s.Create(CreateInput{Name: "a1", FunctionARN: "arn:aws:lambda:us-east-1:1:function:f", TokenKeyName: "tok", TokenSigningPublicKeys: map[string]string{"k1": pub}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		in   CreateInput
		kind error
	}{
		{"duplicate", CreateInput{Name: "a1", FunctionARN: "f", SigningDisabled: true}, ErrAlreadyExists},
		{"bad name", CreateInput{Name: "a b", FunctionARN: "f", SigningDisabled: true}, ErrInvalidRequest},
		{"no function", CreateInput{Name: "a2", SigningDisabled: true}, ErrInvalidRequest},
		{"signing without keys", CreateInput{Name: "a2", FunctionARN: "f", TokenKeyName: "tok"}, ErrInvalidRequest},
		{"bad key", CreateInput{Name: "a2", FunctionARN: "f", TokenKeyName: "tok", TokenSigningPublicKeys: map[string]string{"k": "nope"}}, ErrInvalidRequest},
		{"bad status", CreateInput{Name: "a2", FunctionARN: "f", SigningDisabled: true, Status: "ON"}, ErrInvalidRequest},
	} {
		if _, err := s.Create(tc.in); !errors.Is(err, tc.kind) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.kind)
		}
	}
	if _, err := s.DescribeDefault(); !errors.Is(err, ErrNotFound) {
		t.Errorf("default before set: %v", err)
	}
	if _, err := s.SetDefault("a1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetDefault("a1"); !errors.Is(err, ErrAlreadyExists) {
		t.Errorf("set default twice: %v", err)
	}
	if err := s.Delete("a1"); !errors.Is(err, ErrDeleteConflict) {
		t.Errorf("delete ACTIVE: %v", err)
	}
	inactive := StatusInactive
	if _, err := s.Update(UpdateInput{Name: "a1", Status: &inactive}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("a1"); !errors.Is(err, ErrDeleteConflict) {
		t.Errorf("delete default: %v", err)
	}
	if _, err := s.Create(CreateInput{Name: "a3", FunctionARN: "f", SigningDisabled: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetDefault("a3"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("a1"); err != nil {
		t.Errorf("delete INACTIVE non-default: %v", err)
	}
	page, next, err := s.List("", "", 10, true)
	if err != nil || len(page) != 1 || page[0].Name != "a3" || next != "" {
		t.Errorf("list %v %q %v", page, next, err)
	}
}

func TestAuthenticate(t *testing.T) {
	inv := &fakeInvoker{answer: func(p []byte) ([]byte, error) {
		var ev struct {
			Token *string `json:"token"`
		}
		json.Unmarshal(p, &ev)
		switch *ev.Token {
		case "deny":
			return []byte(`{"isAuthenticated":false}`), nil
		case "raise":
			return nil, &functions.FunctionError{Type: "Unhandled", Payload: []byte(`{"errorMessage":"boom"}`)}
		case "garbage":
			return []byte(`not json`), nil
		case "slow":
			time.Sleep(time.Second)
			return nil, context.DeadlineExceeded
		case "outofbounds":
			return []byte(`{"isAuthenticated":true,"principalId":"p","disconnectAfterInSeconds":10}`), nil
		case "badprincipal":
			return []byte(`{"isAuthenticated":true,"principalId":"a-b"}`), nil
		}
		return []byte(allowAnswer + "\x00\n"), nil
	}}
	s := openService(t, inv, true)
	if _, err := s.Create(CreateInput{Name: "signed", FunctionARN: "f", TokenKeyName: "tok", TokenSigningPublicKeys: map[string]string{"k": publicPEM(t)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(CreateInput{Name: "open", FunctionARN: "f", SigningDisabled: true}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	mqtt := &MQTTContext{Username: "u?x=1", Password: []byte("pw"), HasPassword: true, ClientID: "c1"}

	ans, err := s.Authenticate(ctx, Request{AuthorizerName: "signed", Token: "allow", TokenSet: true, Signature: sign("allow"), MQTT: mqtt, ServerName: "localhost"})
	if err != nil || !ans.IsAuthenticated || ans.PrincipalID != "dev1" || len(ans.PolicyDocuments) != 2 || ans.DisconnectAfter != 3600 || ans.RefreshAfter != 300 {
		t.Fatalf("allow: %+v %v", ans, err)
	}
	var ev map[string]any
	json.Unmarshal(*inv.last.Load(), &ev)
	pd := ev["protocolData"].(map[string]any)
	if ev["signatureVerified"] != true || pd["mqtt"].(map[string]any)["password"] != base64.StdEncoding.EncodeToString([]byte("pw")) ||
		pd["tls"].(map[string]any)["serverName"] != "localhost" {
		t.Fatalf("event %v", ev)
	}
	before := inv.calls.Load()
	if ans, err := s.Authenticate(ctx, Request{AuthorizerName: "signed", Token: "allow", TokenSet: true, Signature: sign("allow"), MQTT: mqtt, ServerName: "localhost"}); err != nil || !ans.Cached {
		t.Fatalf("second call not cached: %+v %v", ans, err)
	}
	if inv.calls.Load() != before {
		t.Fatal("the cached answer called the function")
	}

	for _, tc := range []struct {
		name  string
		req   Request
		cause error
		text  string
	}{
		{"bad signature", Request{AuthorizerName: "signed", Token: "allow", TokenSet: true, Signature: sign("other")}, ErrSignature, "does not verify"},
		{"no signature", Request{AuthorizerName: "signed", Token: "allow", TokenSet: true}, ErrSignature, "no signature"},
		{"no token", Request{AuthorizerName: "signed", Signature: sign("x")}, ErrSignature, "no token"},
		{"unknown authorizer", Request{AuthorizerName: "nope"}, ErrNoAuthorizer, "no such authorizer"},
		{"no default", Request{}, ErrNoAuthorizer, "no default"},
		{"deny", Request{AuthorizerName: "open", Token: "deny", TokenSet: true}, ErrNotAuthenticated, "isAuthenticated: false"},
		{"function error", Request{AuthorizerName: "open", Token: "raise", TokenSet: true}, ErrFunction, "raised an error"},
		{"garbage", Request{AuthorizerName: "open", Token: "garbage", TokenSet: true}, ErrFunction, "malformed JSON"},
		{"timeout", Request{AuthorizerName: "open", Token: "slow", TokenSet: true}, ErrFunction, "timed out"},
		{"out of bounds", Request{AuthorizerName: "open", Token: "outofbounds", TokenSet: true}, ErrFunction, "disconnectAfterInSeconds"},
		{"bad principal", Request{AuthorizerName: "open", Token: "badprincipal", TokenSet: true}, ErrFunction, "principalId"},
	} {
		_, err := s.Authenticate(ctx, tc.req)
		if !errors.Is(err, tc.cause) || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("%s: %v, want %v with %q", tc.name, err, tc.cause, tc.text)
		}
	}
	// The token found by the authorizer's key name in the parameters.
	_, p := ParseUsername("user?x-amz-customauthorizer-name=signed&tok=allow&X-Amz-CustomAuthorizer-Signature=" + sign("allow") + "&SDK=Go")
	if _, err := s.Authenticate(ctx, Request{AuthorizerName: p.AuthorizerName, Signature: p.Signature, TokenFrom: p.Token}); err != nil {
		t.Fatalf("parameters from the username: %v", err)
	}
	// TestInvoke returns policy documents as strings and InvalidResponse for bad answers.
	ans, err = s.TestInvoke(ctx, "open", TestInput{Token: "allow"})
	if err != nil || len(ans.PolicyDocuments) != 2 || !json.Valid([]byte(ans.PolicyDocuments[0])) {
		t.Fatalf("TestInvoke: %+v %v", ans, err)
	}
	if _, err := s.TestInvoke(ctx, "open", TestInput{Token: "garbage"}); !errors.Is(err, ErrInvalidResponse) {
		t.Fatalf("TestInvoke garbage: %v", err)
	}
}

func TestParseUsername(t *testing.T) {
	user, p := ParseUsername("dev?x-amz-customauthorizer-name=my%2Dauth&x-amz-customauthorizer-signature=ab+c/d%3D%3D&tok=t%20k&SDK=PythonV2?x=1")
	if user != "dev" || p.AuthorizerName != "my-auth" || p.Signature != "ab+c/d==" {
		t.Fatalf("%q %+v", user, p)
	}
	if tok, ok := p.Token("tok"); !ok || tok != "t k" {
		t.Fatalf("token %q", tok)
	}
	if v, _ := p.Token("SDK"); v != "PythonV2?x=1" {
		t.Fatalf("a second ? stays in the value: %q", v)
	}
	if user, p := ParseUsername("plain"); user != "plain" || p.Has() {
		t.Fatalf("plain username: %q %+v", user, p)
	}
}
