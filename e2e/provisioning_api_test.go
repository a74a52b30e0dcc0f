package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"
)

// TestProvisioningTemplateAPI drives every provisioning template operation through the AWS SDK
// for Go v2, with AWS's errors: create, describe, list (paged), update, versions (create with
// and without setAsDefault, describe, list, delete, the default refused, the limit), claim,
// delete; and templates refused at create with the field named.
func TestProvisioningTemplateAPI(t *testing.T) {
	emu := startEmulator(t, "")
	ctx := context.Background()
	c := iotClientAt(awsConfig(awsKey(sigv4Key, sigv4Secret), nil), emu.APIURL())
	role := aws.String("arn:aws:iam::123456789012:role/Provisioning")

	out, err := c.CreateProvisioningTemplate(ctx, &iot.CreateProvisioningTemplateInput{
		TemplateName: aws.String("tpl"), TemplateBody: aws.String(fleetTemplate), ProvisioningRoleArn: role,
		Description:         aws.String("first"),
		PreProvisioningHook: &iottypes.ProvisioningHook{TargetArn: aws.String("arn:aws:lambda:us-east-1:123456789012:function:hook"), PayloadVersion: aws.String("2020-04-01")},
		Tags:                []iottypes.Tag{{Key: aws.String("team"), Value: aws.String("fleet")}},
	})
	if err != nil {
		t.Fatalf("CreateProvisioningTemplate: %v", err)
	}
	if *out.TemplateArn != "arn:aws:iot:us-east-1:123456789012:provisioningtemplate/tpl" || *out.DefaultVersionId != 1 {
		t.Errorf("create: %s %d", *out.TemplateArn, *out.DefaultVersionId)
	}
	_, err = c.CreateProvisioningTemplate(ctx, &iot.CreateProvisioningTemplateInput{TemplateName: aws.String("tpl"), TemplateBody: aws.String(fleetTemplate), ProvisioningRoleArn: role})
	wantAWSError(t, err, "ResourceAlreadyExistsException", 409)

	d, err := c.DescribeProvisioningTemplate(ctx, &iot.DescribeProvisioningTemplateInput{TemplateName: aws.String("tpl")})
	if err != nil {
		t.Fatal(err)
	}
	if *d.TemplateBody != fleetTemplate || *d.Enabled || d.Type != iottypes.TemplateTypeFleetProvisioning || *d.Description != "first" ||
		*d.PreProvisioningHook.TargetArn != "arn:aws:lambda:us-east-1:123456789012:function:hook" || d.CreationDate == nil || *d.ProvisioningRoleArn != *role {
		t.Errorf("describe: %+v", d)
	}
	_, err = c.DescribeProvisioningTemplate(ctx, &iot.DescribeProvisioningTemplateInput{TemplateName: aws.String("nope")})
	wantAWSError(t, err, "ResourceNotFoundException", 404)

	// Update: enable, remove the hook; a JITP template refuses a hook.
	if _, err := c.UpdateProvisioningTemplate(ctx, &iot.UpdateProvisioningTemplateInput{TemplateName: aws.String("tpl"), Enabled: aws.Bool(true), RemovePreProvisioningHook: aws.Bool(true), Description: aws.String("second")}); err != nil {
		t.Fatal(err)
	}
	d, _ = c.DescribeProvisioningTemplate(ctx, &iot.DescribeProvisioningTemplateInput{TemplateName: aws.String("tpl")})
	if !*d.Enabled || d.PreProvisioningHook != nil || *d.Description != "second" {
		t.Errorf("after update: %+v", d)
	}
	_, err = c.UpdateProvisioningTemplate(ctx, &iot.UpdateProvisioningTemplateInput{TemplateName: aws.String("nope"), Enabled: aws.Bool(true)})
	wantAWSError(t, err, "ResourceNotFoundException", 404)
	_, err = c.UpdateProvisioningTemplate(ctx, &iot.UpdateProvisioningTemplateInput{TemplateName: aws.String("tpl"), DefaultVersionId: aws.Int32(9)})
	wantAWSError(t, err, "ResourceNotFoundException", 404)
	_, err = c.UpdateProvisioningTemplate(ctx, &iot.UpdateProvisioningTemplateInput{TemplateName: aws.String("tpl"), RemovePreProvisioningHook: aws.Bool(true),
		PreProvisioningHook: &iottypes.ProvisioningHook{TargetArn: aws.String("arn:aws:lambda:us-east-1:123456789012:function:hook")}})
	wantAWSError(t, err, "InvalidRequestException", 400)

	jitp := `{"Parameters":{"AWS::IoT::Certificate::CommonName":{"Type":"String"}},"Resources":{"thing":{"Type":"AWS::IoT::Thing","Properties":{"ThingName":{"Ref":"AWS::IoT::Certificate::CommonName"}}}}}`
	_, err = c.CreateProvisioningTemplate(ctx, &iot.CreateProvisioningTemplateInput{
		TemplateName: aws.String("jitp"), TemplateBody: aws.String(jitp), ProvisioningRoleArn: role, Type: iottypes.TemplateTypeJitp,
		PreProvisioningHook: &iottypes.ProvisioningHook{TargetArn: aws.String("arn:aws:lambda:us-east-1:123456789012:function:hook")},
	})
	wantAWSError(t, err, "InvalidRequestException", 400)
	if _, err := c.CreateProvisioningTemplate(ctx, &iot.CreateProvisioningTemplateInput{TemplateName: aws.String("jitp"), TemplateBody: aws.String(jitp), ProvisioningRoleArn: role, Type: iottypes.TemplateTypeJitp}); err != nil {
		t.Fatal(err)
	}

	// Listing, paged.
	l, err := c.ListProvisioningTemplates(ctx, &iot.ListProvisioningTemplatesInput{MaxResults: aws.Int32(1)})
	if err != nil || len(l.Templates) != 1 || *l.Templates[0].TemplateName != "jitp" || l.NextToken == nil {
		t.Fatalf("list page 1: %+v %v", l, err)
	}
	l, err = c.ListProvisioningTemplates(ctx, &iot.ListProvisioningTemplatesInput{MaxResults: aws.Int32(1), NextToken: l.NextToken})
	if err != nil || len(l.Templates) != 1 || *l.Templates[0].TemplateName != "tpl" || l.Templates[0].Type != iottypes.TemplateTypeFleetProvisioning || !*l.Templates[0].Enabled {
		t.Fatalf("list page 2: %+v %v", l, err)
	}
	_, err = c.ListProvisioningTemplates(ctx, &iot.ListProvisioningTemplatesInput{NextToken: aws.String("garbage!")})
	wantAWSError(t, err, "InvalidRequestException", 400)

	// Versions.
	v2, err := c.CreateProvisioningTemplateVersion(ctx, &iot.CreateProvisioningTemplateVersionInput{TemplateName: aws.String("tpl"), TemplateBody: aws.String(fleetTemplate)})
	if err != nil || *v2.VersionId != 2 || v2.IsDefaultVersion {
		t.Fatalf("version 2: %+v %v", v2, err)
	}
	v3, err := c.CreateProvisioningTemplateVersion(ctx, &iot.CreateProvisioningTemplateVersionInput{TemplateName: aws.String("tpl"), TemplateBody: aws.String(fleetTemplate), SetAsDefault: true})
	if err != nil || *v3.VersionId != 3 || !v3.IsDefaultVersion {
		t.Fatalf("version 3: %+v %v", v3, err)
	}
	dv, err := c.DescribeProvisioningTemplateVersion(ctx, &iot.DescribeProvisioningTemplateVersionInput{TemplateName: aws.String("tpl"), VersionId: aws.Int32(1)})
	if err != nil || dv.IsDefaultVersion || *dv.TemplateBody != fleetTemplate || *dv.VersionId != 1 {
		t.Fatalf("describe version 1: %+v %v", dv, err)
	}
	_, err = c.DescribeProvisioningTemplateVersion(ctx, &iot.DescribeProvisioningTemplateVersionInput{TemplateName: aws.String("tpl"), VersionId: aws.Int32(42)})
	wantAWSError(t, err, "ResourceNotFoundException", 404)
	lv, err := c.ListProvisioningTemplateVersions(ctx, &iot.ListProvisioningTemplateVersionsInput{TemplateName: aws.String("tpl")})
	if err != nil || len(lv.Versions) != 3 || !lv.Versions[2].IsDefaultVersion || lv.Versions[0].IsDefaultVersion {
		t.Fatalf("list versions: %+v %v", lv, err)
	}
	_, err = c.DeleteProvisioningTemplateVersion(ctx, &iot.DeleteProvisioningTemplateVersionInput{TemplateName: aws.String("tpl"), VersionId: aws.Int32(3)})
	wantAWSError(t, err, "DeleteConflictException", 409)
	_, err = c.DeleteProvisioningTemplateVersion(ctx, &iot.DeleteProvisioningTemplateVersionInput{TemplateName: aws.String("tpl"), VersionId: aws.Int32(42)})
	wantAWSError(t, err, "ResourceNotFoundException", 404)
	_, err = c.ListProvisioningTemplateVersions(ctx, &iot.ListProvisioningTemplateVersionsInput{TemplateName: aws.String("nope")})
	wantAWSError(t, err, "ResourceNotFoundException", 404)
	lv1, err := c.ListProvisioningTemplateVersions(ctx, &iot.ListProvisioningTemplateVersionsInput{TemplateName: aws.String("tpl"), MaxResults: aws.Int32(2)})
	if err != nil || len(lv1.Versions) != 2 || lv1.NextToken == nil {
		t.Fatalf("versions page 1: %+v %v", lv1, err)
	}
	lv2, err := c.ListProvisioningTemplateVersions(ctx, &iot.ListProvisioningTemplateVersionsInput{TemplateName: aws.String("tpl"), MaxResults: aws.Int32(2), NextToken: lv1.NextToken})
	if err != nil || len(lv2.Versions) != 1 || *lv2.Versions[0].VersionId != 3 || lv2.NextToken != nil {
		t.Fatalf("versions page 2: %+v %v", lv2, err)
	}
	if _, err := c.DeleteProvisioningTemplateVersion(ctx, &iot.DeleteProvisioningTemplateVersionInput{TemplateName: aws.String("tpl"), VersionId: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ { // 2, 3 and three more: five versions
		if _, err := c.CreateProvisioningTemplateVersion(ctx, &iot.CreateProvisioningTemplateVersionInput{TemplateName: aws.String("tpl"), TemplateBody: aws.String(fleetTemplate)}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = c.CreateProvisioningTemplateVersion(ctx, &iot.CreateProvisioningTemplateVersionInput{TemplateName: aws.String("tpl"), TemplateBody: aws.String(fleetTemplate)})
	wantAWSError(t, err, "VersionsLimitExceededException", 409)
	_, err = c.CreateProvisioningTemplateVersion(ctx, &iot.CreateProvisioningTemplateVersionInput{TemplateName: aws.String("nope"), TemplateBody: aws.String(fleetTemplate)})
	wantAWSError(t, err, "ResourceNotFoundException", 404)

	// Claims.
	claim, err := c.CreateProvisioningClaim(ctx, &iot.CreateProvisioningClaimInput{TemplateName: aws.String("tpl")})
	if err != nil || len(*claim.CertificateId) != 64 || !strings.Contains(*claim.CertificatePem, "BEGIN CERTIFICATE") || claim.KeyPair == nil || claim.Expiration == nil {
		t.Fatalf("claim: %+v %v", claim, err)
	}
	_, err = c.CreateProvisioningClaim(ctx, &iot.CreateProvisioningClaimInput{TemplateName: aws.String("nope")})
	wantAWSError(t, err, "ResourceNotFoundException", 404)

	// Delete; a template a CA names is in use.
	if _, err := c.DeleteProvisioningTemplate(ctx, &iot.DeleteProvisioningTemplateInput{TemplateName: aws.String("tpl")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteProvisioningTemplate(ctx, &iot.DeleteProvisioningTemplateInput{TemplateName: aws.String("tpl")})
	wantAWSError(t, err, "ResourceNotFoundException", 404)

	// Bad templates, each refused with the field named and nothing stored.
	for _, tc := range []struct{ body, field string }{
		{`{"Resources":`, "not a JSON object"},
		{`{"Resources":{}}`, "Resources"},
		{`{"Resources":{"t":{"Type":"AWS::S3::Bucket"}}}`, "Resources.t.Type"},
		{`{"Resources":{"t":{"Type":"AWS::IoT::Thing","Properties":{"ThingName":"a","Colour":"red"}}}}`, "Resources.t.Properties.Colour"},
		{`{"Resources":{"t":{"Type":"AWS::IoT::Thing","Properties":{"ThingName":{"Fn::If":["c","a","b"]}}}}}`, "Resources.t.Properties.ThingName.Fn::If"},
		{`{"Resources":{"t":{"Type":"AWS::IoT::Thing","Properties":{"ThingName":{"Fn::Join":["-"]}}}}}`, "Resources.t.Properties.ThingName.Fn::Join"},
		{`{"Resources":{"t":{"Type":"AWS::IoT::Thing","Properties":{"ThingName":"a"},"OverrideSettings":{"ThingTypeName":"MERGE"}}}}`, "Resources.t.OverrideSettings.ThingTypeName"},
		{`{"Resources":{"p":{"Type":"AWS::IoT::Policy","Properties":{}}}}`, "Resources.p.Properties"},
		{`{"Resources":{"c":{"Type":"AWS::IoT::Certificate","Properties":{"CertificatePem":"x"}}}}`, "Resources.c.Properties.CertificatePem"},
		{`{"Parameters":{"P":{"Type":"Map"}},"Resources":{"t":{"Type":"AWS::IoT::Thing","Properties":{"ThingName":"a"}}}}`, "Parameters.P.Type"},
		{`{"Outputs":{},"Resources":{"t":{"Type":"AWS::IoT::Thing","Properties":{"ThingName":"a"}}}}`, "Outputs"},
	} {
		_, err := c.CreateProvisioningTemplate(ctx, &iot.CreateProvisioningTemplateInput{TemplateName: aws.String("bad"), TemplateBody: aws.String(tc.body), ProvisioningRoleArn: role})
		wantAWSError(t, err, "InvalidRequestException", 400)
		if err != nil && !strings.Contains(err.Error(), tc.field) {
			t.Errorf("template %s: error %v does not name %q", tc.body, err, tc.field)
		}
	}
	for _, in := range []*iot.CreateProvisioningTemplateInput{
		{TemplateName: aws.String("bad name!"), TemplateBody: aws.String(fleetTemplate), ProvisioningRoleArn: role},
		{TemplateName: aws.String(strings.Repeat("x", 37)), TemplateBody: aws.String(fleetTemplate), ProvisioningRoleArn: role},
		{TemplateName: aws.String("bad"), TemplateBody: aws.String(fleetTemplate), ProvisioningRoleArn: aws.String("short")},
		{TemplateName: aws.String("bad"), TemplateBody: aws.String(fleetTemplate), ProvisioningRoleArn: role, Type: "OTHER"},
		{TemplateName: aws.String("bad"), TemplateBody: aws.String(strings.Repeat(" ", 10241)), ProvisioningRoleArn: role},
	} {
		_, err := c.CreateProvisioningTemplate(ctx, in)
		wantAWSError(t, err, "InvalidRequestException", 400)
	}
	l, _ = c.ListProvisioningTemplates(ctx, &iot.ListProvisioningTemplatesInput{})
	if len(l.Templates) != 1 {
		t.Errorf("%d templates after refusals, want 1 (jitp)", len(l.Templates))
	}

}

// TestRegisterThingAPI is single-thing provisioning through the AWS SDK's RegisterThing: a
// template with a CSR, then one naming an existing certificate; the resources' ARNs come back
// under their logical names; a template whose group does not exist fails with nothing made.
func TestRegisterThingAPI(t *testing.T) {
	emu := startEmulator(t, "")
	ctx := context.Background()
	c := iotClientAt(awsConfig(awsKey(sigv4Key, sigv4Secret), nil), emu.APIURL())
	csrPEM, key := newCSR(t)
	body := `{"Parameters":{"ThingName":{"Type":"String"},"CSR":{"Type":"String"}},"Resources":{
	  "thing":{"Type":"AWS::IoT::Thing","Properties":{"ThingName":{"Ref":"ThingName"},"AttributePayload":{"line":"7"}}},
	  "certificate":{"Type":"AWS::IoT::Certificate","Properties":{"CertificateSigningRequest":{"Ref":"CSR"},"Status":"ACTIVE"}},
	  "PolicyLogicalName":{"Type":"AWS::IoT::Policy","Properties":{"PolicyDocument":"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\"}]}"}}}}`
	out, err := c.RegisterThing(ctx, &iot.RegisterThingInput{TemplateBody: aws.String(body), Parameters: map[string]string{"ThingName": "single-1", "CSR": csrPEM}})
	if err != nil {
		t.Fatalf("RegisterThing: %v", err)
	}
	if out.ResourceArns["thing"] != "arn:aws:iot:us-east-1:123456789012:thing/single-1" ||
		!strings.HasPrefix(out.ResourceArns["certificate"], "arn:aws:iot:us-east-1:123456789012:cert/") ||
		!strings.HasPrefix(out.ResourceArns["PolicyLogicalName"], "arn:aws:iot:us-east-1:123456789012:policy/") {
		t.Errorf("resourceArns %v", out.ResourceArns)
	}
	// The certificate signed from the CSR connects as the thing.
	if _, err := connectPaho(t, emu.MQTTAddr(), "single-1", keyPairTLS(t, emu, aws.ToString(out.CertificatePem), ecKeyPEM(t, key)), nil); err != nil {
		t.Fatalf("connect with RegisterThing's certificate: %v", err)
	}

	// An existing certificate by id.
	kc, err := c.CreateKeysAndCertificate(ctx, &iot.CreateKeysAndCertificateInput{})
	if err != nil {
		t.Fatal(err)
	}
	byID := `{"Parameters":{"Id":{"Type":"String"}},"Resources":{"thing":{"Type":"AWS::IoT::Thing","Properties":{"ThingName":"single-2"}},
	  "certificate":{"Type":"AWS::IoT::Certificate","Properties":{"CertificateId":{"Ref":"Id"},"Status":"ACTIVE"},"OverrideSettings":{"Status":"REPLACE"}}}}`
	if _, err := c.RegisterThing(ctx, &iot.RegisterThingInput{TemplateBody: aws.String(byID), Parameters: map[string]string{"Id": aws.ToString(kc.CertificateId)}}); err != nil {
		t.Fatalf("RegisterThing by certificate id: %v", err)
	}
	d, _ := c.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: kc.CertificateId})
	if d.CertificateDescription.Status != iottypes.CertificateStatusActive {
		t.Errorf("certificate %s, want ACTIVE (OverrideSettings REPLACE)", d.CertificateDescription.Status)
	}

	// Failures: a missing group (nothing made), a missing parameter, a bad template.
	missing := `{"Resources":{"thing":{"Type":"AWS::IoT::Thing","Properties":{"ThingName":"single-3","ThingGroups":["nope"]}}}}`
	_, err = c.RegisterThing(ctx, &iot.RegisterThingInput{TemplateBody: aws.String(missing)})
	wantAWSError(t, err, "ResourceRegistrationFailureException", 400)
	if _, err := c.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("single-3")}); err == nil {
		t.Error("a failed RegisterThing left its thing")
	}
	_, err = c.RegisterThing(ctx, &iot.RegisterThingInput{TemplateBody: aws.String(body), Parameters: map[string]string{"ThingName": "x"}})
	wantAWSError(t, err, "InvalidRequestException", 400)
	_, err = c.RegisterThing(ctx, &iot.RegisterThingInput{TemplateBody: aws.String(`{"Resources":{"x":{"Type":"AWS::EC2::Instance"}}}`)})
	wantAWSError(t, err, "InvalidRequestException", 400)
}
