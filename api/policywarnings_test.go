package api_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
)

// CreatePolicy and CreatePolicyVersion accept an unknown "iot:" action, as AWS does, and log a
// warning naming the policy, the field and the likely intended action.
func TestPolicyWithUnknownActionIsAcceptedWithAWarning(t *testing.T) {
	e := newEnv(t)
	const typo = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Publsh","Resource":"*"}]}`
	_, err := e.iot.CreatePolicy(e.ctx, &iot.CreatePolicyInput{PolicyName: aws.String("typo"), PolicyDocument: aws.String(typo)})
	must(t, err)
	logs := e.logs.String()
	if !strings.Contains(logs, "policy accepted with a warning") || !strings.Contains(logs, "policy=typo") ||
		!strings.Contains(logs, "Statement[0].Action[0]") || !strings.Contains(logs, `did you mean \"iot:Publish\"`) {
		t.Fatalf("no warning for iot:Publsh in the log:\n%s", logs)
	}
	const typo2 = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iot:Connect","iot:Subscrbe"],"Resource":"*"}]}`
	_, err = e.iot.CreatePolicyVersion(e.ctx, &iot.CreatePolicyVersionInput{PolicyName: aws.String("typo"), PolicyDocument: aws.String(typo2)})
	must(t, err)
	if logs := e.logs.String(); !strings.Contains(logs, "Statement[0].Action[1]") || !strings.Contains(logs, "iot:Subscrbe") {
		t.Fatalf("no warning for iot:Subscrbe in the log:\n%s", logs)
	}
	_, err = e.iot.CreatePolicy(e.ctx, &iot.CreatePolicyInput{PolicyName: aws.String("clean"), PolicyDocument: aws.String(allowAll)})
	must(t, err)
	if n := strings.Count(e.logs.String(), "policy accepted with a warning"); n != 2 {
		t.Fatalf("%d warnings logged, want 2 (none for a clean policy)", n)
	}
}
