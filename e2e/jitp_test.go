package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"
)

// jitpTemplate is AWS's JITP example in spirit: the thing is named from the certificate's
// common name, its attributes come from the subject, a thing-scoped policy is attached.
const jitpTemplate = `{
  "Parameters": {
    "AWS::IoT::Certificate::CommonName": {"Type": "String"},
    "AWS::IoT::Certificate::Country": {"Type": "String"},
    "AWS::IoT::Certificate::Organization": {"Type": "String", "Default": "none"},
    "AWS::IoT::Certificate::SerialNumber": {"Type": "String"},
    "AWS::IoT::Certificate::Id": {"Type": "String"}
  },
  "Resources": {
    "thing": {
      "Type": "AWS::IoT::Thing",
      "Properties": {
        "ThingName": {"Ref": "AWS::IoT::Certificate::CommonName"},
        "AttributePayload": {"country": {"Ref": "AWS::IoT::Certificate::Country"}, "org": {"Ref": "AWS::IoT::Certificate::Organization"}, "serial": {"Ref": "AWS::IoT::Certificate::SerialNumber"}}
      }
    },
    "certificate": {
      "Type": "AWS::IoT::Certificate",
      "Properties": {"CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "ACTIVE"},
      "OverrideSettings": {"Status": "DO_NOTHING"}
    },
    "policy": {
      "Type": "AWS::IoT::Policy",
      "Properties": {"PolicyDocument": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}\"},{\"Effect\":\"Allow\",\"Action\":[\"iot:Publish\",\"iot:Receive\"],\"Resource\":\"arn:aws:iot:us-east-1:123456789012:topic/things/${iot:Connection.Thing.ThingName}/*\"}]}"}
    }
  }
}`

// TestJITPWithOpenSSL: a device maker's CA and device certificate made with openssl; the CA is
// registered with a JITP template; the device's first connection completes TLS and is dropped
// without CONNACK while the emulator provisions it; the retry connects as the new thing.
func TestJITPWithOpenSSL(t *testing.T) {
	needTools(t, "openssl")
	emu := startEmulator(t, "")
	ctx := context.Background()
	ctl := iotClientAt(awsConfig(awsKey(sigv4Key, sigv4Secret), nil), emu.APIURL())
	dir := t.TempDir()
	ossl := func(args ...string) {
		t.Helper()
		if out, err := run(t, "openssl", args...); err != nil {
			t.Fatalf("openssl %v: %v\n%s", args, err, out)
		}
	}
	p := func(name string) string { return filepath.Join(dir, name) }
	read := func(name string) string {
		data, err := os.ReadFile(p(name))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	code, err := ctl.GetRegistrationCode(ctx, &iot.GetRegistrationCodeInput{})
	if err != nil {
		t.Fatal(err)
	}
	// The CA, the verification certificate (CN = registration code) and the device.
	ossl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", p("ca.key"))
	ossl("req", "-x509", "-new", "-key", p("ca.key"), "-sha256", "-days", "2", "-subj", "/CN=Acme JITP CA/O=Acme", "-out", p("ca.pem"),
		"-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,digitalSignature")
	ossl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", p("verify.key"))
	ossl("req", "-new", "-key", p("verify.key"), "-subj", "/CN="+aws.ToString(code.RegistrationCode), "-out", p("verify.csr"))
	ossl("x509", "-req", "-in", p("verify.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"), "-CAcreateserial", "-days", "2", "-sha256", "-out", p("verify.pem"))
	ossl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", p("device.key"))
	ossl("req", "-new", "-key", p("device.key"), "-subj", "/C=US/O=Acme/CN=sensor-jitp-1/serialNumber=SN-0001", "-out", p("device.csr"))
	ossl("x509", "-req", "-in", p("device.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"), "-CAcreateserial", "-days", "2", "-sha256", "-out", p("device.pem"))

	if _, err := ctl.CreateProvisioningTemplate(ctx, &iot.CreateProvisioningTemplateInput{
		TemplateName: aws.String("jitp"), TemplateBody: aws.String(jitpTemplate), Type: iottypes.TemplateTypeJitp,
		ProvisioningRoleArn: aws.String("arn:aws:iam::123456789012:role/JITP"), Enabled: aws.Bool(true),
	}); err != nil {
		t.Fatalf("CreateProvisioningTemplate: %v", err)
	}
	reg, err := ctl.RegisterCACertificate(ctx, &iot.RegisterCACertificateInput{
		CaCertificate: aws.String(read("ca.pem")), VerificationCertificate: aws.String(read("verify.pem")),
		SetAsActive: true, AllowAutoRegistration: true,
		RegistrationConfig: &iottypes.RegistrationConfig{TemplateName: aws.String("jitp")},
	})
	if err != nil {
		t.Fatalf("RegisterCACertificate: %v", err)
	}
	// The template is in use now.
	_, err = ctl.DeleteProvisioningTemplate(ctx, &iot.DeleteProvisioningTemplateInput{TemplateName: aws.String("jitp")})
	wantAWSError(t, err, "DeleteConflictException", 409)

	devTLS := keyPairTLS(t, emu, read("device.pem"), read("device.key"))
	// First connection: TLS completes, CONNECT is answered by closing the connection.
	if got, err := rawConnect(t, emu.MQTTAddr(), "sensor-jitp-1", devTLS); err != nil || len(got) != 0 {
		t.Fatalf("first connection: CONNACK %x, %v; want TLS then the connection closed without CONNACK", got, err)
	}
	certID := certIDOfPEM(t, read("device.pem"))
	desc, err := ctl.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(certID)})
	if err != nil {
		t.Fatalf("the device certificate was not registered: %v", err)
	}
	if desc.CertificateDescription.Status != iottypes.CertificateStatusActive || aws.ToString(desc.CertificateDescription.CaCertificateId) != aws.ToString(reg.CertificateId) {
		t.Errorf("certificate %s, CA %s", desc.CertificateDescription.Status, aws.ToString(desc.CertificateDescription.CaCertificateId))
	}
	thing, err := ctl.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("sensor-jitp-1")})
	if err != nil {
		t.Fatalf("the thing was not provisioned: %v", err)
	}
	if thing.Attributes["country"] != "US" || thing.Attributes["org"] != "Acme" || thing.Attributes["serial"] != "SN-0001" {
		t.Errorf("attributes from the certificate: %v", thing.Attributes)
	}
	// The retry connects and publishes on its own topic.
	c, err := connectPaho(t, emu.MQTTAddr(), "sensor-jitp-1", devTLS, nil)
	if err != nil {
		t.Fatalf("retry after JITP: %v", err)
	}
	if err := wait(t, c.Publish("things/sensor-jitp-1/up", 1, false, "ok")); err != nil {
		t.Fatal(err)
	}

	// A CA without a registration template keeps just-in-time registration only.
	if _, err := ctl.UpdateCACertificate(ctx, &iot.UpdateCACertificateInput{CertificateId: reg.CertificateId, RemoveAutoRegistration: true}); err != nil {
		t.Fatal(err)
	}
	ossl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", p("d2.key"))
	ossl("req", "-new", "-key", p("d2.key"), "-subj", "/CN=sensor-jitr-2", "-out", p("d2.csr"))
	ossl("x509", "-req", "-in", p("d2.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"), "-CAcreateserial", "-days", "2", "-sha256", "-out", p("d2.pem"))
	if got, err := rawConnect(t, emu.MQTTAddr(), "sensor-jitr-2", keyPairTLS(t, emu, read("d2.pem"), read("d2.key"))); err != nil || len(got) != 0 {
		t.Fatalf("JITR connection: CONNACK %x, %v", got, err)
	}
	d2, err := ctl.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(certIDOfPEM(t, read("d2.pem")))})
	if err != nil || d2.CertificateDescription.Status != iottypes.CertificateStatusPendingActivation {
		t.Fatalf("JITR after the template was removed: %+v %v", d2, err)
	}
	if _, err := ctl.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("sensor-jitr-2")}); err == nil {
		t.Error("a thing was made without a registration template")
	}

	// Registration configs that could never provision are refused.
	noPolicy := `{"Parameters":{"AWS::IoT::Certificate::CommonName":{"Type":"String"}},"Resources":{"thing":{"Type":"AWS::IoT::Thing","Properties":{"ThingName":{"Ref":"AWS::IoT::Certificate::CommonName"}}}}}`
	_, err = ctl.UpdateCACertificate(ctx, &iot.UpdateCACertificateInput{CertificateId: reg.CertificateId, RegistrationConfig: &iottypes.RegistrationConfig{TemplateBody: aws.String(noPolicy)}})
	wantAWSError(t, err, "InvalidRequestException", 400)
	if err != nil && !strings.Contains(err.Error(), "Neither policyName nor policyDocument") {
		t.Errorf("template without a policy: %v", err)
	}
	_, err = ctl.UpdateCACertificate(ctx, &iot.UpdateCACertificateInput{CertificateId: reg.CertificateId, RegistrationConfig: &iottypes.RegistrationConfig{TemplateName: aws.String("no-such-template")}})
	wantAWSError(t, err, "InvalidRequestException", 400)

	// An inline template body (AWS's older form) provisions too.
	if _, err := ctl.UpdateCACertificate(ctx, &iot.UpdateCACertificateInput{CertificateId: reg.CertificateId,
		RegistrationConfig: &iottypes.RegistrationConfig{TemplateBody: aws.String(jitpTemplate), RoleArn: aws.String("arn:aws:iam::123456789012:role/JITP")}}); err != nil {
		t.Fatal(err)
	}
	ossl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", p("d3.key"))
	ossl("req", "-new", "-key", p("d3.key"), "-subj", "/C=FR/CN=sensor-jitp-3/serialNumber=SN-3", "-out", p("d3.csr"))
	ossl("x509", "-req", "-in", p("d3.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"), "-CAcreateserial", "-days", "2", "-sha256", "-out", p("d3.pem"))
	d3TLS := keyPairTLS(t, emu, read("d3.pem"), read("d3.key"))
	if got, err := rawConnect(t, emu.MQTTAddr(), "sensor-jitp-3", d3TLS); err != nil || len(got) != 0 {
		t.Fatalf("first connection (inline template): CONNACK %x, %v", got, err)
	}
	th3, err := ctl.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("sensor-jitp-3")})
	if err != nil || th3.Attributes["org"] != "none" || th3.Attributes["country"] != "FR" {
		t.Fatalf("inline-template thing: %+v %v (org takes its default)", th3, err)
	}
	if _, err := connectPaho(t, emu.MQTTAddr(), "sensor-jitp-3", d3TLS, nil); err != nil {
		t.Fatalf("retry after JITP with an inline template: %v", err)
	}
}
