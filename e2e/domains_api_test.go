package e2e

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/smithy-go"
)

// wantAPIError fails unless err is the AWS error code.
func wantAPIError(t *testing.T, what string, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("%s: got %v, want %s", what, err, code)
	}
}

// TestDomainConfigurationsAPI drives every domain configuration operation and its errors with
// the AWS SDK for Go v2.
func TestDomainConfigurationsAPI(t *testing.T) {
	emu := startEmulator(t, "")
	ctx := context.Background()
	client := iotClientAt(awsConfig(awsKey(sigv4Key, sigv4Secret), nil), emu.APIURL())

	// The reserved default configuration exists from the start.
	def, err := client.DescribeDomainConfiguration(ctx, &iot.DescribeDomainConfigurationInput{DomainConfigurationName: aws.String("iot:Data-ATS")})
	if err != nil {
		t.Fatal(err)
	}
	if def.DomainType != types.DomainTypeEndpoint || aws.ToString(def.DomainName) != emu.Endpoint() ||
		aws.ToString(def.TlsConfig.SecurityPolicy) != "IoTSecurityPolicy_TLS13_1_2_2022_10" ||
		aws.ToString(def.DomainConfigurationArn) != "arn:aws:iot:us-east-1:123456789012:domainconfiguration/iot:Data-ATS" {
		t.Fatalf("iot:Data-ATS: %+v", def)
	}

	out, err := client.CreateDomainConfiguration(ctx, &iot.CreateDomainConfigurationInput{
		DomainConfigurationName: aws.String("mqtt-x509"), DomainName: aws.String("x509.devices.test"),
		ApplicationProtocol: types.ApplicationProtocolSecureMqtt, AuthenticationType: types.AuthenticationTypeAwsX509,
		TlsConfig: &types.TlsConfig{SecurityPolicy: aws.String("IoTSecurityPolicy_TLS12_1_2_2022_10")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^arn:aws:iot:us-east-1:123456789012:domainconfiguration/mqtt-x509/[a-z0-9]{5}$`).MatchString(aws.ToString(out.DomainConfigurationArn)) {
		t.Fatalf("arn %s", aws.ToString(out.DomainConfigurationArn))
	}
	d, err := client.DescribeDomainConfiguration(ctx, &iot.DescribeDomainConfigurationInput{DomainConfigurationName: aws.String("mqtt-x509")})
	if err != nil {
		t.Fatal(err)
	}
	if d.DomainConfigurationStatus != types.DomainConfigurationStatusEnabled || d.DomainType != types.DomainTypeCustomerManaged ||
		d.ApplicationProtocol != types.ApplicationProtocolSecureMqtt || d.AuthenticationType != types.AuthenticationTypeAwsX509 ||
		d.ServiceType != types.ServiceTypeData || aws.ToString(d.TlsConfig.SecurityPolicy) != "IoTSecurityPolicy_TLS12_1_2_2022_10" ||
		d.LastStatusChangeDate == nil {
		t.Fatalf("describe: %+v", d)
	}

	// No domainName: an AWS-managed domain with a generated name and the default policy.
	if _, err := client.CreateDomainConfiguration(ctx, &iot.CreateDomainConfigurationInput{DomainConfigurationName: aws.String("managed")}); err != nil {
		t.Fatal(err)
	}
	m, err := client.DescribeDomainConfiguration(ctx, &iot.DescribeDomainConfigurationInput{DomainConfigurationName: aws.String("managed")})
	if err != nil {
		t.Fatal(err)
	}
	if m.DomainType != types.DomainTypeAwsManaged || !strings.HasSuffix(aws.ToString(m.DomainName), "-ats.iot.us-east-1.amazonaws.com") ||
		aws.ToString(m.TlsConfig.SecurityPolicy) != "IoTSecurityPolicy_TLS13_1_2_2022_10" || m.ApplicationProtocol != types.ApplicationProtocolDefault {
		t.Fatalf("managed: %+v", m)
	}

	bad := []struct {
		what string
		in   iot.CreateDomainConfigurationInput
		code string
	}{
		{"same name", iot.CreateDomainConfigurationInput{DomainConfigurationName: aws.String("mqtt-x509"), DomainName: aws.String("other.devices.test")}, "ResourceAlreadyExistsException"},
		{"same domain", iot.CreateDomainConfigurationInput{DomainConfigurationName: aws.String("dup"), DomainName: aws.String("X509.devices.test")}, "ResourceAlreadyExistsException"},
		{"reserved name", iot.CreateDomainConfigurationInput{DomainConfigurationName: aws.String("iot:Mine")}, "InvalidRequestException"},
		{"WSS with X.509", iot.CreateDomainConfigurationInput{DomainConfigurationName: aws.String("c1"), ApplicationProtocol: types.ApplicationProtocolMqttWss, AuthenticationType: types.AuthenticationTypeAwsX509}, "InvalidRequestException"},
		{"MQTT with SigV4", iot.CreateDomainConfigurationInput{DomainConfigurationName: aws.String("c2"), ApplicationProtocol: types.ApplicationProtocolSecureMqtt, AuthenticationType: types.AuthenticationTypeAwsSigv4}, "InvalidRequestException"},
		{"unknown protocol", iot.CreateDomainConfigurationInput{DomainConfigurationName: aws.String("c3"), ApplicationProtocol: "MQTT"}, "InvalidRequestException"},
		{"unknown policy", iot.CreateDomainConfigurationInput{DomainConfigurationName: aws.String("c4"), TlsConfig: &types.TlsConfig{SecurityPolicy: aws.String("TLS10")}}, "InvalidRequestException"},
		{"unknown authorizer", iot.CreateDomainConfigurationInput{DomainConfigurationName: aws.String("c5"), AuthorizerConfig: &types.AuthorizerConfig{DefaultAuthorizerName: aws.String("nope"), AllowAuthorizerOverride: aws.Bool(true)}}, "InvalidRequestException"},
		{"bad domain", iot.CreateDomainConfigurationInput{DomainConfigurationName: aws.String("c6"), DomainName: aws.String("has space.test")}, "InvalidRequestException"},
		{"two certificates", iot.CreateDomainConfigurationInput{DomainConfigurationName: aws.String("c7"), DomainName: aws.String("c7.test"), ServerCertificateArns: []string{
			"arn:aws:acm:us-east-1:123456789012:certificate/a", "arn:aws:acm:us-east-1:123456789012:certificate/b"}}, "InvalidRequestException"},
		{"not an ACM ARN", iot.CreateDomainConfigurationInput{DomainConfigurationName: aws.String("c8"), DomainName: aws.String("c8.test"), ServerCertificateArns: []string{"arn:aws:iam::1:x"}}, "InvalidRequestException"},
		{"jobs service", iot.CreateDomainConfigurationInput{DomainConfigurationName: aws.String("c9"), ServiceType: types.ServiceTypeJobs}, "InvalidRequestException"},
		{"OCSP responder ARN too long", iot.CreateDomainConfigurationInput{DomainConfigurationName: aws.String("c10"), ServerCertificateConfig: &types.ServerCertificateConfig{
			EnableOCSPCheck: aws.Bool(true), OcspLambdaArn: aws.String("arn:aws:lambda:us-east-1:123456789012:function:" + strings.Repeat("x", 100))}}, "InvalidRequestException"},
		{"callback without X.509", iot.CreateDomainConfigurationInput{DomainConfigurationName: aws.String("c11"), ClientCertificateConfig: &types.ClientCertificateConfig{ClientCertificateCallbackArn: aws.String("fn")}}, "InvalidRequestException"},
	}
	for _, b := range bad {
		_, err := client.CreateDomainConfiguration(ctx, &b.in)
		wantAPIError(t, b.what, err, b.code)
	}

	// The default configuration takes only tlsConfig.
	_, err = client.UpdateDomainConfiguration(ctx, &iot.UpdateDomainConfigurationInput{DomainConfigurationName: aws.String("iot:Data-ATS"), ApplicationProtocol: types.ApplicationProtocolHttps})
	wantAPIError(t, "update iot:Data-ATS protocol", err, "InvalidRequestException")
	if _, err := client.UpdateDomainConfiguration(ctx, &iot.UpdateDomainConfigurationInput{DomainConfigurationName: aws.String("iot:Data-ATS"),
		TlsConfig: &types.TlsConfig{SecurityPolicy: aws.String("IoTSecurityPolicy_TLS13_1_2_2022_10")}}); err != nil {
		t.Fatal(err)
	}
	_, err = client.UpdateDomainConfiguration(ctx, &iot.UpdateDomainConfigurationInput{DomainConfigurationName: aws.String("missing")})
	wantAPIError(t, "update missing", err, "ResourceNotFoundException")
	_, err = client.UpdateDomainConfiguration(ctx, &iot.UpdateDomainConfigurationInput{DomainConfigurationName: aws.String("managed"), DomainConfigurationStatus: "PAUSED"})
	wantAPIError(t, "bad status", err, "InvalidRequestException")

	// Delete needs DISABLED first.
	_, err = client.DeleteDomainConfiguration(ctx, &iot.DeleteDomainConfigurationInput{DomainConfigurationName: aws.String("managed")})
	wantAPIError(t, "delete enabled", err, "InvalidRequestException")
	if _, err := client.UpdateDomainConfiguration(ctx, &iot.UpdateDomainConfigurationInput{DomainConfigurationName: aws.String("managed"), DomainConfigurationStatus: types.DomainConfigurationStatusDisabled}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.DeleteDomainConfiguration(ctx, &iot.DeleteDomainConfigurationInput{DomainConfigurationName: aws.String("managed")}); err != nil {
		t.Fatal(err)
	}
	_, err = client.DescribeDomainConfiguration(ctx, &iot.DescribeDomainConfigurationInput{DomainConfigurationName: aws.String("managed")})
	wantAPIError(t, "describe deleted", err, "ResourceNotFoundException")
	_, err = client.DeleteDomainConfiguration(ctx, &iot.DeleteDomainConfigurationInput{DomainConfigurationName: aws.String("managed")})
	wantAPIError(t, "delete deleted", err, "ResourceNotFoundException")

	// The quota: 10 created configurations.
	for i := 0; i < 9; i++ {
		if _, err := client.CreateDomainConfiguration(ctx, &iot.CreateDomainConfigurationInput{DomainConfigurationName: aws.String(fmt.Sprintf("q%d", i))}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = client.CreateDomainConfiguration(ctx, &iot.CreateDomainConfigurationInput{DomainConfigurationName: aws.String("one-too-many")})
	wantAPIError(t, "quota", err, "LimitExceededException")

	// Listing: sorted by name, paged by marker, iot:Data-ATS included.
	var names []string
	p := iot.NewListDomainConfigurationsPaginator(client, &iot.ListDomainConfigurationsInput{PageSize: aws.Int32(4)})
	pages := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, s := range page.DomainConfigurations {
			names = append(names, aws.ToString(s.DomainConfigurationName))
			if s.ServiceType != types.ServiceTypeData {
				t.Fatalf("summary %+v", s)
			}
		}
	}
	want := "iot:Data-ATS mqtt-x509 q0 q1 q2 q3 q4 q5 q6 q7 q8"
	if got := strings.Join(names, " "); got != want || pages != 3 {
		t.Fatalf("list in %d pages: %s, want %s in 3", pages, got, want)
	}
	_, err = client.ListDomainConfigurations(ctx, &iot.ListDomainConfigurationsInput{PageSize: aws.Int32(251)})
	wantAPIError(t, "pageSize 251", err, "InvalidRequestException")

	// DescribeEndpoint answers every endpoint type with the emulator's host.
	for _, typ := range []string{"iot:Data", "iot:Data-ATS", "iot:CredentialProvider", "iot:Jobs"} {
		e, err := client.DescribeEndpoint(ctx, &iot.DescribeEndpointInput{EndpointType: aws.String(typ)})
		if err != nil || aws.ToString(e.EndpointAddress) != emu.Endpoint() {
			t.Fatalf("DescribeEndpoint %s: %v %v", typ, e, err)
		}
	}
}
