package api_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iotcore-local/iotcore-local/api"
	"github.com/iotcore-local/iotcore-local/registry"
)

func TestRegistrationCode(t *testing.T) {
	e := newEnv(t)
	first, err := e.iot.GetRegistrationCode(e.ctx, &iot.GetRegistrationCodeInput{})
	must(t, err)
	code := aws.ToString(first.RegistrationCode)
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(code) {
		t.Fatalf("registration code %q", code)
	}
	again, err := e.iot.GetRegistrationCode(e.ctx, &iot.GetRegistrationCodeInput{})
	must(t, err)
	if aws.ToString(again.RegistrationCode) != code {
		t.Fatal("the registration code changed between calls")
	}
	_, err = e.iot.DeleteRegistrationCode(e.ctx, &iot.DeleteRegistrationCodeInput{})
	must(t, err)
	fresh, err := e.iot.GetRegistrationCode(e.ctx, &iot.GetRegistrationCodeInput{})
	must(t, err)
	if aws.ToString(fresh.RegistrationCode) == code {
		t.Fatal("DeleteRegistrationCode kept the code")
	}
}

// TestCACertificateRoundTrip registers a CA the way the developer guide shows (registration
// code, verification certificate signed by the CA), registers a device certificate with it,
// and walks the CA through its other operations and errors.
func TestCACertificateRoundTrip(t *testing.T) {
	e := newEnv(t)
	ca := newTestCA(t, "Device Maker Root", true)
	codeOut, err := e.iot.GetRegistrationCode(e.ctx, &iot.GetRegistrationCodeInput{})
	must(t, err)
	code := aws.ToString(codeOut.RegistrationCode)
	_, verification := ca.issue(t, code)

	// The errors first, so that nothing is registered by them.
	_, wrongCN := ca.issue(t, "someone-else")
	_, wrongSigner := newTestCA(t, "Other", true).issue(t, code)
	notCA := newTestCA(t, "Not a CA", false)
	_, err = e.iot.RegisterCACertificate(e.ctx, &iot.RegisterCACertificateInput{CaCertificate: aws.String(ca.pem), VerificationCertificate: aws.String(wrongCN)})
	wantErr[*types.RegistrationCodeValidationException](t, err, http.StatusBadRequest)
	_, err = e.iot.RegisterCACertificate(e.ctx, &iot.RegisterCACertificateInput{CaCertificate: aws.String(ca.pem), VerificationCertificate: aws.String(wrongSigner)})
	wantErr[*types.RegistrationCodeValidationException](t, err, http.StatusBadRequest)
	_, err = e.iot.RegisterCACertificate(e.ctx, &iot.RegisterCACertificateInput{CaCertificate: aws.String(notCA.pem), VerificationCertificate: aws.String(verification)})
	wantErr[*types.CertificateValidationException](t, err, http.StatusBadRequest)
	_, err = e.iot.RegisterCACertificate(e.ctx, &iot.RegisterCACertificateInput{CaCertificate: aws.String(ca.pem)})
	wantErr[*types.InvalidRequestException](t, err, http.StatusBadRequest)

	reg, err := e.iot.RegisterCACertificate(e.ctx, &iot.RegisterCACertificateInput{
		CaCertificate:           aws.String(ca.pem),
		VerificationCertificate: aws.String(verification),
		RegistrationConfig:      &types.RegistrationConfig{TemplateBody: aws.String(`{"Resources":{}}`), RoleArn: aws.String("arn:aws:iam::123456789012:role/jitp")},
		Tags:                    []types.Tag{{Key: aws.String("maker"), Value: aws.String("acme")}},
	})
	must(t, err)
	caID := aws.ToString(reg.CertificateId)
	if caID != registry.CertificateID(ca.cert.Raw) || aws.ToString(reg.CertificateArn) != "arn:aws:iot:us-east-1:123456789012:cacert/"+caID {
		t.Fatalf("registered %s %s", caID, aws.ToString(reg.CertificateArn))
	}
	_, err = e.iot.RegisterCACertificate(e.ctx, &iot.RegisterCACertificateInput{CaCertificate: aws.String(ca.pem), VerificationCertificate: aws.String(verification)})
	rae := wantErr[*types.ResourceAlreadyExistsException](t, err, http.StatusConflict)
	if aws.ToString(rae.ResourceId) != caID {
		t.Errorf("resourceId %q", aws.ToString(rae.ResourceId))
	}

	desc, err := e.iot.DescribeCACertificate(e.ctx, &iot.DescribeCACertificateInput{CertificateId: aws.String(caID)})
	must(t, err)
	d := desc.CertificateDescription
	if d.Status != types.CACertificateStatusInactive || d.AutoRegistrationStatus != types.AutoRegistrationStatusDisable ||
		d.CertificateMode != types.CertificateModeDefault || aws.ToString(d.OwnedBy) != testAccount || aws.ToInt32(d.CustomerVersion) != 1 ||
		aws.ToString(d.CertificatePem) != ca.pem || d.CreationDate == nil || d.Validity == nil || !d.Validity.NotAfter.Equal(ca.cert.NotAfter) {
		t.Fatalf("description %+v", d)
	}
	if desc.RegistrationConfig == nil || aws.ToString(desc.RegistrationConfig.RoleArn) != "arn:aws:iam::123456789012:role/jitp" {
		t.Fatalf("registrationConfig %+v", desc.RegistrationConfig)
	}
	_, err = e.iot.DescribeCACertificate(e.ctx, &iot.DescribeCACertificateInput{CertificateId: aws.String(strings.Repeat("0", 64))})
	wantErr[*types.ResourceNotFoundException](t, err, http.StatusNotFound)

	// A device certificate: ACTIVE needs an ACTIVE CA.
	_, device := ca.issue(t, "device-1")
	_, err = e.iot.RegisterCertificate(e.ctx, &iot.RegisterCertificateInput{CertificatePem: aws.String(device), Status: types.CertificateStatusActive})
	wantErr[*types.CertificateStateException](t, err, http.StatusNotAcceptable)
	_, err = e.iot.UpdateCACertificate(e.ctx, &iot.UpdateCACertificateInput{
		CertificateId: aws.String(caID), NewStatus: types.CACertificateStatusActive, NewAutoRegistrationStatus: types.AutoRegistrationStatusEnable,
	})
	must(t, err)
	cert, err := e.iot.RegisterCertificate(e.ctx, &iot.RegisterCertificateInput{CertificatePem: aws.String(device), CaCertificatePem: aws.String(ca.pem), SetAsActive: aws.Bool(true)})
	must(t, err)
	dc, err := e.iot.DescribeCertificate(e.ctx, &iot.DescribeCertificateInput{CertificateId: cert.CertificateId})
	must(t, err)
	if aws.ToString(dc.CertificateDescription.CaCertificateId) != caID || dc.CertificateDescription.Status != types.CertificateStatusActive {
		t.Fatalf("device certificate %+v", dc.CertificateDescription)
	}
	_, unsigned := newTestCA(t, "Unregistered", true).issue(t, "device-2")
	_, err = e.iot.RegisterCertificate(e.ctx, &iot.RegisterCertificateInput{CertificatePem: aws.String(unsigned)})
	wantErr[*types.CertificateValidationException](t, err, http.StatusBadRequest)
	_, err = e.iot.RegisterCertificate(e.ctx, &iot.RegisterCertificateInput{CertificatePem: aws.String(device)})
	wantErr[*types.ResourceAlreadyExistsException](t, err, http.StatusConflict)

	// Just-in-time registration (the MQTT hook's call), seen through the API.
	jitr, _ := ca.issue(t, "device-3")
	if _, created, err := e.reg.AutoRegisterCertificate(jitr); err != nil || !created {
		t.Fatalf("AutoRegisterCertificate: %t, %v", created, err)
	}
	byCA, err := e.iot.ListCertificatesByCA(e.ctx, &iot.ListCertificatesByCAInput{CaCertificateId: aws.String(caID), AscendingOrder: true})
	must(t, err)
	if len(byCA.Certificates) != 2 || byCA.Certificates[1].Status != types.CertificateStatusPendingActivation ||
		aws.ToString(byCA.Certificates[1].CertificateId) != registry.CertificateID(jitr.Raw) || byCA.NextMarker != nil {
		t.Fatalf("certificates by CA %+v", byCA.Certificates)
	}
	_, err = e.iot.UpdateCertificate(e.ctx, &iot.UpdateCertificateInput{CertificateId: byCA.Certificates[1].CertificateId, NewStatus: types.CertificateStatusActive})
	must(t, err)

	list, err := e.iot.ListCACertificates(e.ctx, &iot.ListCACertificatesInput{})
	must(t, err)
	if len(list.Certificates) != 1 || aws.ToString(list.Certificates[0].CertificateId) != caID || list.Certificates[0].Status != types.CACertificateStatusActive ||
		list.Certificates[0].CreationDate == nil {
		t.Fatalf("CA list %+v", list.Certificates)
	}
	tags, err := e.iot.ListTagsForResource(e.ctx, &iot.ListTagsForResourceInput{ResourceArn: reg.CertificateArn})
	must(t, err)
	if len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].Key) != "maker" {
		t.Fatalf("CA tags %+v", tags.Tags)
	}

	// Deleting needs an inactive CA.
	_, err = e.iot.DeleteCACertificate(e.ctx, &iot.DeleteCACertificateInput{CertificateId: aws.String(caID)})
	wantErr[*types.CertificateStateException](t, err, http.StatusNotAcceptable)
	_, err = e.iot.UpdateCACertificate(e.ctx, &iot.UpdateCACertificateInput{CertificateId: aws.String(caID), NewStatus: types.CACertificateStatusInactive, RemoveAutoRegistration: true})
	must(t, err)
	_, err = e.iot.UpdateCACertificate(e.ctx, &iot.UpdateCACertificateInput{CertificateId: aws.String(caID), NewStatus: "REVOKED"})
	wantErr[*types.InvalidRequestException](t, err, http.StatusBadRequest)
	_, err = e.iot.DeleteCACertificate(e.ctx, &iot.DeleteCACertificateInput{CertificateId: aws.String(caID)})
	must(t, err)
	_, err = e.iot.DeleteCACertificate(e.ctx, &iot.DeleteCACertificateInput{CertificateId: aws.String(caID)})
	wantErr[*types.ResourceNotFoundException](t, err, http.StatusNotFound)
	_, err = e.iot.UpdateCACertificate(e.ctx, &iot.UpdateCACertificateInput{CertificateId: aws.String(caID), NewStatus: types.CACertificateStatusActive})
	wantErr[*types.ResourceNotFoundException](t, err, http.StatusNotFound)
}

func TestRegisterCACertificateSNIOnly(t *testing.T) {
	e := newEnv(t)
	ca := newTestCA(t, "Multi-account CA", true)
	out, err := e.iot.RegisterCACertificate(e.ctx, &iot.RegisterCACertificateInput{
		CaCertificate: aws.String(ca.pem), CertificateMode: types.CertificateModeSniOnly, SetAsActive: true, AllowAutoRegistration: true,
	})
	must(t, err)
	desc, err := e.iot.DescribeCACertificate(e.ctx, &iot.DescribeCACertificateInput{CertificateId: out.CertificateId})
	must(t, err)
	d := desc.CertificateDescription
	if d.CertificateMode != types.CertificateModeSniOnly || d.Status != types.CACertificateStatusActive || d.AutoRegistrationStatus != types.AutoRegistrationStatusEnable {
		t.Fatalf("description %+v", d)
	}
	if desc.RegistrationConfig != nil {
		t.Fatalf("registrationConfig %+v for a CA without one", desc.RegistrationConfig)
	}
	_, device := ca.issue(t, "d")
	cert, err := e.iot.RegisterCertificate(e.ctx, &iot.RegisterCertificateInput{CertificatePem: aws.String(device), Status: types.CertificateStatusInactive})
	must(t, err)
	dc, err := e.iot.DescribeCertificate(e.ctx, &iot.DescribeCertificateInput{CertificateId: cert.CertificateId})
	must(t, err)
	if dc.CertificateDescription.CertificateMode != types.CertificateModeSniOnly {
		t.Fatalf("device certificate mode %q, want the CA's", dc.CertificateDescription.CertificateMode)
	}
	list, err := e.iot.ListCertificates(e.ctx, &iot.ListCertificatesInput{})
	must(t, err)
	if len(list.Certificates) != 1 || list.Certificates[0].CertificateMode != types.CertificateModeSniOnly {
		t.Fatalf("list %+v", list.Certificates)
	}
	_, err = e.iot.RegisterCACertificate(e.ctx, &iot.RegisterCACertificateInput{
		CaCertificate: aws.String(newTestCA(t, "x", true).pem), CertificateMode: types.CertificateModeSniOnly, VerificationCertificate: aws.String(device),
	})
	wantErr[*types.InvalidRequestException](t, err, http.StatusBadRequest)
}

// TestRegisterCertificateConflict registers two CA certificates with one subject and key; a
// device certificate they both verify needs its CA named.
func TestRegisterCertificateConflict(t *testing.T) {
	e := newEnv(t)
	a := newTestCA(t, "Twin", true)
	tmpl := *a.cert
	tmpl.SerialNumber = tmpl.SerialNumber.Add(tmpl.SerialNumber, tmpl.SerialNumber)
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, &tmpl, &a.key.PublicKey, a.key)
	must(t, err)
	bCert, err := x509.ParseCertificate(der)
	must(t, err)
	b := testCA{cert: bCert, key: a.key, pem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}
	e.registerCA(t, a, true, false)
	e.registerCA(t, b, true, false)
	_, device := a.issue(t, "d")
	_, err = e.iot.RegisterCertificate(e.ctx, &iot.RegisterCertificateInput{CertificatePem: aws.String(device)})
	wantErr[*types.CertificateConflictException](t, err, http.StatusConflict)
	_, err = e.iot.RegisterCertificate(e.ctx, &iot.RegisterCertificateInput{CertificatePem: aws.String(device), CaCertificatePem: aws.String(b.pem)})
	must(t, err)
}

func TestCreateCertificateFromCsr(t *testing.T) {
	e := newEnv(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "ignored"}}, key)
	must(t, err)
	csr := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))

	out, err := e.iot.CreateCertificateFromCsr(e.ctx, &iot.CreateCertificateFromCsrInput{CertificateSigningRequest: aws.String(csr), SetAsActive: true})
	must(t, err)
	block, _ := pem.Decode([]byte(aws.ToString(out.CertificatePem)))
	if block == nil {
		t.Fatalf("certificatePem %q", aws.ToString(out.CertificatePem))
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	must(t, err)
	if !cert.PublicKey.(*ecdsa.PublicKey).Equal(&key.PublicKey) {
		t.Fatal("the certificate is not for the CSR's key")
	}
	if aws.ToString(out.CertificateId) != registry.CertificateID(block.Bytes) || aws.ToString(out.CertificateArn) != "arn:aws:iot:us-east-1:123456789012:cert/"+registry.CertificateID(block.Bytes) {
		t.Fatalf("id %s arn %s", aws.ToString(out.CertificateId), aws.ToString(out.CertificateArn))
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(e.ca.DeviceCAPEM())
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("not signed by the device CA: %v", err)
	}
	desc, err := e.iot.DescribeCertificate(e.ctx, &iot.DescribeCertificateInput{CertificateId: out.CertificateId})
	must(t, err)
	if desc.CertificateDescription.Status != types.CertificateStatusActive {
		t.Fatalf("status %s", desc.CertificateDescription.Status)
	}
	// The same CSR again gives another certificate, INACTIVE by default.
	again, err := e.iot.CreateCertificateFromCsr(e.ctx, &iot.CreateCertificateFromCsrInput{CertificateSigningRequest: aws.String(csr)})
	must(t, err)
	if aws.ToString(again.CertificateId) == aws.ToString(out.CertificateId) {
		t.Fatal("the same CSR gave the same certificate")
	}
	desc, err = e.iot.DescribeCertificate(e.ctx, &iot.DescribeCertificateInput{CertificateId: again.CertificateId})
	must(t, err)
	if desc.CertificateDescription.Status != types.CertificateStatusInactive {
		t.Fatalf("status %s", desc.CertificateDescription.Status)
	}

	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	must(t, err)
	weakDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, weak)
	must(t, err)
	tampered := append([]byte(nil), der...)
	tampered[len(tampered)-3] ^= 0xff
	for name, body := range map[string]string{
		"not PEM":       "junk",
		"RSA-1024":      string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: weakDER})),
		"bad signature": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: tampered})),
		"a certificate": aws.ToString(out.CertificatePem),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := e.iot.CreateCertificateFromCsr(e.ctx, &iot.CreateCertificateFromCsrInput{CertificateSigningRequest: aws.String(body)})
			wantErr[*types.InvalidRequestException](t, err, http.StatusBadRequest)
		})
	}
	// The SDK refuses a missing CSR itself; the server does too.
	resp, body := e.do(t, http.MethodPost, "/certificates?setAsActive=false", `{}`, nil)
	errorShape(t, resp, body, http.StatusBadRequest, "InvalidRequestException", "certificateSigningRequest: required")

	// Without a signer the operation is an internal failure, not a panic.
	bare := newEnv(t, func(c *api.Config) { c.Issuer, c.CSRSigner = nil, nil })
	_, err = bare.iot.CreateCertificateFromCsr(bare.ctx, &iot.CreateCertificateFromCsrInput{CertificateSigningRequest: aws.String(csr)})
	wantErr[*types.InternalFailureException](t, err, http.StatusInternalServerError)
}

// TestCACertificateWire checks DescribeCACertificate's raw JSON: numbers for dates, and the
// members AWS sends.
func TestCACertificateWire(t *testing.T) {
	e := newEnv(t)
	id := e.registerCA(t, newTestCA(t, "Wire", true), true, true)
	resp, body := e.do(t, http.MethodGet, "/cacertificate/"+id, "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var m struct {
		CertificateDescription map[string]any `json:"certificateDescription"`
	}
	must(t, json.Unmarshal(body, &m))
	for _, k := range []string{"certificateArn", "certificateId", "status", "certificatePem", "ownedBy", "creationDate",
		"autoRegistrationStatus", "lastModifiedDate", "customerVersion", "generationId", "validity", "certificateMode"} {
		if _, ok := m.CertificateDescription[k]; !ok {
			t.Errorf("certificateDescription lacks %s: %s", k, body)
		}
	}
	if _, ok := m.CertificateDescription["creationDate"].(float64); !ok {
		t.Errorf("creationDate is not a number: %s", body)
	}
}
