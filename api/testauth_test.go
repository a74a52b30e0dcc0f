package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iotcore-local/iotcore-local/api"
)

const arnPrefix = "arn:aws:iot:us-east-1:123456789012:"

// The policies of the TestAuthorization tests: a thing-scoped policy as AWS documents it, a
// Deny, and policies only ever added with policyNamesToAdd.
var testAuthPolicies = map[string]string{
	"things": `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}"},
		{"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:us-east-1:123456789012:topic/things/${iot:Connection.Thing.ThingName}/*"},
		{"Effect":"Allow","Action":"iot:Subscribe","Resource":"arn:aws:iot:us-east-1:123456789012:topicfilter/things/${iot:Connection.Thing.ThingName}/#"}]}`,
	"deny-secret": `{"Version":"2012-10-17","Statement":[
		{"Effect":"Deny","Action":"iot:Publish","Resource":"arn:aws:iot:us-east-1:123456789012:topic/things/*/secret"}]}`,
	"extra": `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["iot:Publish","iot:RetainPublish"],"Resource":"arn:aws:iot:*:*:topic/extra"}]}`,
	"by-site": `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:us-east-1:123456789012:topic/site/${iot:Connection.Thing.Attributes[site]}/${iot:Connection.Thing.ThingTypeName}"}]}`,
	"anywhere": `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"iot:Receive","Resource":"*"}]}`,
}

// testAuthEnv is a certificate attached to thing dev-1 (non-exclusively) with the policies
// "things" and "deny-secret", and a second certificate attached exclusively to thing solo.
type testAuthEnv struct {
	*env
	certARN, certID, soloARN string
}

func newTestAuthEnv(t *testing.T) *testAuthEnv {
	t.Helper()
	e := newEnv(t)
	for name, doc := range testAuthPolicies {
		_, err := e.iot.CreatePolicy(e.ctx, &iot.CreatePolicyInput{PolicyName: aws.String(name), PolicyDocument: aws.String(doc)})
		must(t, err)
	}
	_, err := e.iot.CreateThingType(e.ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String("sensor")})
	must(t, err)
	for _, th := range []*iot.CreateThingInput{
		{ThingName: aws.String("dev-1"), ThingTypeName: aws.String("sensor"), AttributePayload: &types.AttributePayload{Attributes: map[string]string{"site": "berlin"}}},
		{ThingName: aws.String("solo")},
	} {
		_, err := e.iot.CreateThing(e.ctx, th)
		must(t, err)
	}
	cert, err := e.iot.CreateKeysAndCertificate(e.ctx, &iot.CreateKeysAndCertificateInput{SetAsActive: true})
	must(t, err)
	for _, p := range []string{"things", "deny-secret"} {
		_, err = e.iot.AttachPolicy(e.ctx, &iot.AttachPolicyInput{PolicyName: aws.String(p), Target: cert.CertificateArn})
		must(t, err)
	}
	_, err = e.iot.AttachThingPrincipal(e.ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String("dev-1"), Principal: cert.CertificateArn})
	must(t, err)

	solo, err := e.iot.CreateKeysAndCertificate(e.ctx, &iot.CreateKeysAndCertificateInput{SetAsActive: true})
	must(t, err)
	_, err = e.iot.AttachPolicy(e.ctx, &iot.AttachPolicyInput{PolicyName: aws.String("things"), Target: solo.CertificateArn})
	must(t, err)
	_, err = e.iot.AttachThingPrincipal(e.ctx, &iot.AttachThingPrincipalInput{
		ThingName: aws.String("solo"), Principal: solo.CertificateArn, ThingPrincipalType: types.ThingPrincipalTypeExclusiveThing})
	must(t, err)
	return &testAuthEnv{env: e, certARN: aws.ToString(cert.CertificateArn), certID: aws.ToString(cert.CertificateId), soloARN: aws.ToString(solo.CertificateArn)}
}

// summary shows an AuthResult as "DECISION allowed=[..] implicit=[..] explicit=[..]".
func summary(t *testing.T, r types.AuthResult) string {
	t.Helper()
	names := func(ps []types.Policy) string {
		var out []string
		for _, p := range ps {
			if aws.ToString(p.PolicyArn) != arnPrefix+"policy/"+aws.ToString(p.PolicyName) {
				t.Errorf("policy %s has ARN %s", aws.ToString(p.PolicyName), aws.ToString(p.PolicyArn))
			}
			out = append(out, aws.ToString(p.PolicyName))
		}
		return "[" + strings.Join(out, " ") + "]"
	}
	if r.Allowed == nil || r.Denied == nil || r.Denied.ImplicitDeny == nil || r.Denied.ExplicitDeny == nil || r.MissingContextValues == nil {
		t.Fatalf("incomplete AuthResult %+v", r)
	}
	return fmt.Sprintf("%s allowed=%s implicit=%s explicit=%s", r.AuthDecision,
		names(r.Allowed.Policies), names(r.Denied.ImplicitDeny.Policies), names(r.Denied.ExplicitDeny.Policies))
}

func TestTestAuthorization(t *testing.T) {
	e := newTestAuthEnv(t)
	publish := func(resources ...string) types.AuthInfo {
		return types.AuthInfo{ActionType: types.ActionTypePublish, Resources: resources}
	}
	tests := []struct {
		name      string
		principal string // "" means e.certARN
		clientID  string
		add, skip []string
		infos     []types.AuthInfo
		want      []string
	}{
		{"allowed by a thing variable", "", "dev-1", nil, nil,
			[]types.AuthInfo{publish(arnPrefix + "topic/things/dev-1/telemetry")},
			[]string{"ALLOWED allowed=[things] implicit=[deny-secret] explicit=[]"}},
		{"explicit deny wins", "", "dev-1", nil, nil,
			[]types.AuthInfo{publish(arnPrefix + "topic/things/dev-1/secret")},
			[]string{"EXPLICIT_DENY allowed=[things] implicit=[] explicit=[deny-secret]"}},
		{"implicit deny: another thing's topic", "", "dev-1", nil, nil,
			[]types.AuthInfo{publish(arnPrefix + "topic/things/dev-2/telemetry")},
			[]string{"IMPLICIT_DENY allowed=[] implicit=[deny-secret things] explicit=[]"}},
		{"client ID is not the thing name: thing variables stay unresolved", "", "other", nil, nil,
			[]types.AuthInfo{publish(arnPrefix + "topic/things/dev-1/telemetry"),
				{ActionType: types.ActionTypeConnect, Resources: []string{arnPrefix + "client/other"}}},
			[]string{"IMPLICIT_DENY allowed=[] implicit=[deny-secret things] explicit=[]",
				"IMPLICIT_DENY allowed=[] implicit=[deny-secret things] explicit=[]"}},
		{"connect, subscribe and publish in one call", "", "dev-1", nil, nil,
			[]types.AuthInfo{
				{ActionType: types.ActionTypeConnect, Resources: []string{arnPrefix + "client/dev-1"}},
				{ActionType: types.ActionTypeSubscribe, Resources: []string{arnPrefix + "topicfilter/things/dev-1/#"}},
				{ActionType: types.ActionTypeSubscribe, Resources: []string{arnPrefix + "topicfilter/things/+/#"}},
				{ActionType: types.ActionTypeReceive, Resources: []string{arnPrefix + "topic/things/dev-1/x"}},
			},
			[]string{"ALLOWED allowed=[things] implicit=[deny-secret] explicit=[]",
				"ALLOWED allowed=[things] implicit=[deny-secret] explicit=[]",
				"IMPLICIT_DENY allowed=[] implicit=[deny-secret things] explicit=[]",
				"IMPLICIT_DENY allowed=[] implicit=[deny-secret things] explicit=[]"}},
		{"several resources: the least favourable decides", "", "dev-1", nil, nil,
			[]types.AuthInfo{publish(arnPrefix+"topic/things/dev-1/a", arnPrefix+"topic/things/dev-1/secret")},
			[]string{"EXPLICIT_DENY allowed=[things] implicit=[] explicit=[deny-secret]"}},
		{"several resources, one not allowed", "", "dev-1", nil, nil,
			[]types.AuthInfo{publish(arnPrefix+"topic/things/dev-1/a", arnPrefix+"topic/elsewhere")},
			[]string{"IMPLICIT_DENY allowed=[] implicit=[deny-secret things] explicit=[]"}},
		{"policyNamesToAdd", "", "dev-1", []string{"extra"}, nil,
			[]types.AuthInfo{publish(arnPrefix + "topic/extra")},
			[]string{"ALLOWED allowed=[extra] implicit=[deny-secret things] explicit=[]"}},
		{"policyNamesToSkip", "", "dev-1", nil, []string{"deny-secret"},
			[]types.AuthInfo{publish(arnPrefix + "topic/things/dev-1/secret")},
			[]string{"ALLOWED allowed=[things] implicit=[] explicit=[]"}},
		{"added and skipped is skipped", "", "dev-1", []string{"extra", "things"}, []string{"extra", "things"},
			[]types.AuthInfo{publish(arnPrefix + "topic/extra")},
			[]string{"IMPLICIT_DENY allowed=[] implicit=[deny-secret] explicit=[]"}},
		{"thing attribute and type variables", "", "dev-1", []string{"by-site"}, nil,
			[]types.AuthInfo{publish(arnPrefix + "topic/site/berlin/sensor"), publish(arnPrefix + "topic/site/paris/sensor")},
			[]string{"ALLOWED allowed=[by-site] implicit=[deny-secret things] explicit=[]",
				"IMPLICIT_DENY allowed=[] implicit=[deny-secret things by-site] explicit=[]"}},
		{"exclusive thing binds whatever the client ID", "solo", "any-client", nil, nil,
			[]types.AuthInfo{publish(arnPrefix + "topic/things/solo/a"),
				{ActionType: types.ActionTypeConnect, Resources: []string{arnPrefix + "client/solo"}}},
			[]string{"ALLOWED allowed=[things] implicit=[] explicit=[]", "ALLOWED allowed=[things] implicit=[] explicit=[]"}},
		{"principal as a bare certificate ID", "id", "dev-1", nil, nil,
			[]types.AuthInfo{publish(arnPrefix + "topic/things/dev-1/a")},
			[]string{"ALLOWED allowed=[things] implicit=[deny-secret] explicit=[]"}},
		{"resource of another account", "", "dev-1", []string{"extra"}, nil,
			[]types.AuthInfo{publish("arn:aws:iot:us-east-1:999999999999:topic/things/dev-1/a"), publish("arn:aws:iot:eu-west-1:999999999999:topic/extra")},
			[]string{"IMPLICIT_DENY allowed=[] implicit=[deny-secret things extra] explicit=[]",
				"ALLOWED allowed=[extra] implicit=[deny-secret things] explicit=[]"}},
		{"wildcard resource allows any account", "", "dev-1", []string{"anywhere"}, nil,
			[]types.AuthInfo{{ActionType: types.ActionTypeReceive, Resources: []string{"arn:aws:iot:eu-west-1:999999999999:topic/x"}}},
			[]string{"ALLOWED allowed=[anywhere] implicit=[deny-secret things] explicit=[]"}},
		{"RETAIN tests iot:RetainPublish", "", "dev-1", []string{"extra"}, nil,
			[]types.AuthInfo{{ActionType: "RETAIN", Resources: []string{arnPrefix + "topic/extra"}},
				{ActionType: "RETAIN", Resources: []string{arnPrefix + "topic/things/dev-1/a"}}},
			[]string{"ALLOWED allowed=[extra] implicit=[deny-secret things] explicit=[]",
				"IMPLICIT_DENY allowed=[] implicit=[deny-secret things extra] explicit=[]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			principal := e.certARN
			switch tc.principal {
			case "solo":
				principal = e.soloARN
			case "id":
				principal = e.certID
			}
			out, err := e.iot.TestAuthorization(e.ctx, &iot.TestAuthorizationInput{
				Principal: aws.String(principal), ClientId: aws.String(tc.clientID), AuthInfos: tc.infos,
				PolicyNamesToAdd: tc.add, PolicyNamesToSkip: tc.skip,
			})
			must(t, err)
			if len(out.AuthResults) != len(tc.want) {
				t.Fatalf("%d results, want %d", len(out.AuthResults), len(tc.want))
			}
			for i, r := range out.AuthResults {
				if got := summary(t, r); got != tc.want[i] {
					t.Errorf("result %d:\n got %s\nwant %s", i, got, tc.want[i])
				}
				if r.AuthInfo == nil || r.AuthInfo.ActionType != tc.infos[i].ActionType || strings.Join(r.AuthInfo.Resources, ",") != strings.Join(tc.infos[i].Resources, ",") {
					t.Errorf("result %d echoes authInfo %+v, want %+v", i, r.AuthInfo, tc.infos[i])
				}
			}
		})
	}
}

func TestTestAuthorizationErrors(t *testing.T) {
	e := newTestAuthEnv(t)
	ok := []types.AuthInfo{{ActionType: types.ActionTypePublish, Resources: []string{arnPrefix + "topic/a"}}}
	missingCert := arnPrefix + "cert/" + strings.Repeat("ab", 32)
	tests := []struct {
		name string
		in   iot.TestAuthorizationInput
		want func(t *testing.T, err error)
	}{
		{"no principal", iot.TestAuthorizationInput{AuthInfos: ok}, invalid},
		{"unknown certificate", iot.TestAuthorizationInput{Principal: aws.String(missingCert), AuthInfos: ok}, notFound},
		{"certificate ARN of another account", iot.TestAuthorizationInput{
			Principal: aws.String(strings.Replace(e.certARN, "123456789012", "999999999999", 1)), AuthInfos: ok}, notFound},
		{"malformed certificate ID", iot.TestAuthorizationInput{Principal: aws.String("abc"), AuthInfos: ok}, invalid},
		{"thing group principal", iot.TestAuthorizationInput{Principal: aws.String(arnPrefix + "thinggroup/g"), AuthInfos: ok}, invalid},
		{"Cognito pool", iot.TestAuthorizationInput{Principal: aws.String(e.certARN), CognitoIdentityPoolId: aws.String("us-east-1:x"), AuthInfos: ok}, invalid},
		{"no authInfos", iot.TestAuthorizationInput{Principal: aws.String(e.certARN), AuthInfos: []types.AuthInfo{}}, invalid},
		{"eleven authInfos", iot.TestAuthorizationInput{Principal: aws.String(e.certARN), AuthInfos: repeatInfo(ok[0], 11)}, invalid},
		{"no actionType", iot.TestAuthorizationInput{Principal: aws.String(e.certARN),
			AuthInfos: []types.AuthInfo{{Resources: []string{arnPrefix + "topic/a"}}}}, invalid},
		{"unknown actionType", iot.TestAuthorizationInput{Principal: aws.String(e.certARN),
			AuthInfos: []types.AuthInfo{{ActionType: "FLY", Resources: []string{arnPrefix + "topic/a"}}}}, invalid},
		{"no resources", iot.TestAuthorizationInput{Principal: aws.String(e.certARN),
			AuthInfos: []types.AuthInfo{{ActionType: types.ActionTypePublish, Resources: []string{}}}}, invalid},
		{"short resource", iot.TestAuthorizationInput{Principal: aws.String(e.certARN),
			AuthInfos: []types.AuthInfo{{ActionType: types.ActionTypePublish, Resources: []string{"topic/a"}}}}, invalid},
		{"resource of another service", iot.TestAuthorizationInput{Principal: aws.String(e.certARN),
			AuthInfos: []types.AuthInfo{{ActionType: types.ActionTypePublish, Resources: []string{"arn:aws:s3:::bucket/key"}}}}, invalid},
		{"resource without a type", iot.TestAuthorizationInput{Principal: aws.String(e.certARN),
			AuthInfos: []types.AuthInfo{{ActionType: types.ActionTypePublish, Resources: []string{arnPrefix + "topic"}}}}, invalid},
		{"policy to add does not exist", iot.TestAuthorizationInput{Principal: aws.String(e.certARN), AuthInfos: ok,
			PolicyNamesToAdd: []string{"missing"}}, notFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.iot.TestAuthorization(e.ctx, &tc.in)
			tc.want(t, err)
		})
	}
}

func invalid(t *testing.T, err error) {
	t.Helper()
	wantErr[*types.InvalidRequestException](t, err, http.StatusBadRequest)
}

func repeatInfo(info types.AuthInfo, n int) []types.AuthInfo {
	out := make([]types.AuthInfo, n)
	for i := range out {
		out[i] = info
	}
	return out
}

// TestTestAuthorizationExplains checks the emulator's explanation header and the raw wire shape.
func TestTestAuthorizationExplains(t *testing.T) {
	e := newTestAuthEnv(t)
	must(t, e.reg.UpdateCertificateStatus(e.certID, "INACTIVE"))
	body := fmt.Sprintf(`{"principal":%q,"authInfos":[{"actionType":"PUBLISH","resources":[%q,%q]}]}`,
		e.certARN, arnPrefix+"topic/things/dev-1/secret", arnPrefix+"topic/things/dev-1/a")
	resp, data := e.do(t, http.MethodPost, "/test-authorization?clientId=other", body, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, data)
	}
	var lines []string
	for _, v := range resp.Header.Values(api.ExplanationHeader) {
		line, err := strconv.Unquote(v)
		if err != nil {
			t.Fatalf("header value %s is not quoted: %v", v, err)
		}
		lines = append(lines, line)
	}
	want := []string{
		"is INACTIVE: a device presenting it cannot connect at all",
		`no thing is bound, so ${iot:Connection.Thing.*} stays unresolved: the certificate is attached non-exclusively to dev-1 and none is named like client ID "other"`,
		`authInfos[0].resources[0]: denied: policy "deny-secret" statement 0 explicitly denies iot:Publish on ` + arnPrefix + "topic/things/dev-1/secret",
		`authInfos[0].resources[1]: denied: no statement allows iot:Publish on ` + arnPrefix + "topic/things/dev-1/a",
	}
	if len(lines) != len(want) {
		t.Fatalf("explanations:\n%s", strings.Join(lines, "\n"))
	}
	for i := range want {
		if !strings.Contains(lines[i], want[i]) {
			t.Errorf("explanation %d = %q\nwant it to contain %q", i, lines[i], want[i])
		}
	}
	if !strings.Contains(lines[3], "${iot:Connection.Thing.ThingName}") {
		t.Errorf("the default deny does not name the unresolved variable: %q", lines[3])
	}

	// The answer as it goes on the wire: every list present, even when empty.
	var raw struct {
		AuthResults []map[string]json.RawMessage `json:"authResults"`
	}
	must(t, json.Unmarshal(data, &raw))
	if len(raw.AuthResults) != 1 {
		t.Fatalf("answer %s", data)
	}
	r := raw.AuthResults[0]
	wantRaw := map[string]string{
		"authDecision":         `"EXPLICIT_DENY"`,
		"allowed":              `{"policies":[]}`,
		"missingContextValues": `[]`,
		"denied": `{"implicitDeny":{"policies":[{"policyName":"things","policyArn":"` + arnPrefix + `policy/things"}]},` +
			`"explicitDeny":{"policies":[{"policyName":"deny-secret","policyArn":"` + arnPrefix + `policy/deny-secret"}]}}`,
	}
	for k, v := range wantRaw {
		if string(r[k]) != v {
			t.Errorf("%s = %s\nwant %s", k, r[k], v)
		}
	}
}
