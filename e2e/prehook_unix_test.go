//go:build unix

package e2e

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iotcore-local/iotcore-local/emulator"
)

// startPrehookRIE runs the pre-provisioning hook function (e2e/lambdas/prehook) behind the AWS
// Lambda Runtime Interface Emulator and returns its Invoke URL; both stop when the test ends.
func startPrehookRIE(t *testing.T) string {
	t.Helper()
	needTools(t, "go")
	return runFunction(t, buildFunction(t, "prehook"), "prehook")
}

// TestPreProvisioningHookThroughRIE: a template's pre-provisioning hook is an aws-lambda-go
// function behind the real Runtime Interface Emulator, routed with --function ARN=URL. It allows,
// refuses (the device gets 403 AccessDenied and nothing is registered), overrides parameters, and
// fails or answers too late (refused as AWS refuses).
func TestPreProvisioningHookThroughRIE(t *testing.T) {
	const hookARN = "arn:aws:lambda:us-east-1:123456789012:function:prehook"
	url := startPrehookRIE(t)
	emu, client, claimCert, claimKey := provisioningSetup(t, func(c *emulator.Config) {
		c.Functions = map[string]string{hookARN: url}
	})
	ctx := context.Background()
	if _, err := client.UpdateProvisioningTemplate(ctx, &iot.UpdateProvisioningTemplateInput{
		TemplateName:        aws.String("fleet"),
		PreProvisioningHook: &iottypes.ProvisioningHook{TargetArn: aws.String(hookARN), PayloadVersion: aws.String("2020-04-01")},
	}); err != nil {
		t.Fatal(err)
	}
	dev := newProvClient(t, emu, "hook-claim", claimCert, claimKey)
	register := func(serial string) gotMessage {
		t.Helper()
		var created createAnswer
		mustJSON(t, dev.request("$aws/certificates/create-from-csr/json", csrRequest(t)), "/accepted", &created)
		return dev.request("$aws/provisioning-templates/fleet/provision/json",
			[]byte(`{"certificateOwnershipToken":"`+created.Token+`","parameters":{"SerialNumber":"`+serial+`"}}`))
	}

	var reg registerAnswer
	mustJSON(t, register("ok1"), "/accepted", &reg)
	if reg.ThingName != "ThingPrefix_ok1" {
		t.Errorf("allowed: %+v", reg)
	}
	mustJSON(t, register("paris1"), "/accepted", &reg)
	if reg.ThingName != "ThingPrefix_p-paris1" || reg.DeviceConfiguration["LocationUrl"] != "https://example.fr" {
		t.Errorf("overrides: %+v", reg)
	}
	// Last, as the RIE runs one invocation at a time: a hook slower than AWS's 5 seconds.
	for _, serial := range []string{"deny1", "error1", "slow1"} {
		var rej rejection
		mustJSON(t, register(serial), "/rejected", &rej)
		if rej.StatusCode != 403 || rej.ErrorCode != "AccessDenied" {
			t.Errorf("%s: %+v", serial, rej)
		}
		if _, err := client.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("ThingPrefix_" + serial)}); err == nil {
			t.Errorf("%s: the hook refused, yet the thing exists", serial)
		}
	}
}

// csrRequest is a JSON CreateCertificateFromCsr request for a new ECDSA key.
func csrRequest(t *testing.T) []byte {
	csrPEM, _ := newCSR(t)
	return []byte(`{"certificateSigningRequest":` + strconvQuote(csrPEM) + `}`)
}
