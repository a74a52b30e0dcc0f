package api_test

import (
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

// certID is AWS's certificate ID: the hex SHA-256 of the DER.
func certID(t *testing.T, pemText string) string {
	t.Helper()
	block, _ := pem.Decode([]byte(pemText))
	if block == nil {
		t.Fatalf("no PEM block in %q", pemText)
	}
	sum := sha256.Sum256(block.Bytes)
	return hex.EncodeToString(sum[:])
}

func TestCreateKeysAndCertificate(t *testing.T) {
	e := newEnv(t)
	out, err := e.iot.CreateKeysAndCertificate(e.ctx, &iot.CreateKeysAndCertificateInput{SetAsActive: true})
	must(t, err)
	id := aws.ToString(out.CertificateId)
	if id != certID(t, aws.ToString(out.CertificatePem)) {
		t.Errorf("certificateId %s is not the SHA-256 of the DER", id)
	}
	if want := "arn:aws:iot:us-east-1:123456789012:cert/" + id; aws.ToString(out.CertificateArn) != want {
		t.Errorf("certificateArn = %q, want %q", aws.ToString(out.CertificateArn), want)
	}
	if out.KeyPair == nil || aws.ToString(out.KeyPair.PrivateKey) == "" || aws.ToString(out.KeyPair.PublicKey) == "" {
		t.Fatalf("keyPair = %+v", out.KeyPair)
	}
	// The private key belongs to the certificate.
	kb, _ := pem.Decode([]byte(aws.ToString(out.KeyPair.PrivateKey)))
	if kb == nil || kb.Type != "RSA PRIVATE KEY" {
		t.Fatalf("private key PEM = %q", aws.ToString(out.KeyPair.PrivateKey))
	}
	key, err := x509.ParsePKCS1PrivateKey(kb.Bytes)
	must(t, err)
	cb, _ := pem.Decode([]byte(aws.ToString(out.CertificatePem)))
	cert, err := x509.ParseCertificate(cb.Bytes)
	must(t, err)
	if pub, ok := cert.PublicKey.(*rsa.PublicKey); !ok || !pub.Equal(&key.PublicKey) {
		t.Error("certificate's public key is not the returned key pair's")
	}

	desc, err := e.iot.DescribeCertificate(e.ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(id)})
	must(t, err)
	d := desc.CertificateDescription
	if d == nil {
		t.Fatal("no certificateDescription")
	}
	if d.Status != types.CertificateStatusActive || aws.ToString(d.CertificateId) != id ||
		aws.ToString(d.CertificatePem) != aws.ToString(out.CertificatePem) || aws.ToString(d.OwnedBy) != testAccount ||
		d.CertificateMode != types.CertificateModeDefault || aws.ToString(d.GenerationId) == "" {
		t.Errorf("DescribeCertificate = %+v", d)
	}
	if d.CreationDate == nil || time.Since(*d.CreationDate) > time.Minute || d.LastModifiedDate == nil {
		t.Errorf("creationDate = %v, lastModifiedDate = %v", d.CreationDate, d.LastModifiedDate)
	}
	if d.Validity == nil || d.Validity.NotBefore == nil || !d.Validity.NotBefore.Equal(cert.NotBefore) ||
		d.Validity.NotAfter == nil || !d.Validity.NotAfter.Equal(cert.NotAfter) {
		t.Errorf("validity = %+v, want %v..%v", d.Validity, cert.NotBefore, cert.NotAfter)
	}

	inactive, err := e.iot.CreateKeysAndCertificate(e.ctx, &iot.CreateKeysAndCertificateInput{})
	must(t, err)
	desc, err = e.iot.DescribeCertificate(e.ctx, &iot.DescribeCertificateInput{CertificateId: inactive.CertificateId})
	must(t, err)
	if desc.CertificateDescription.Status != types.CertificateStatusInactive {
		t.Errorf("setAsActive=false gave status %s, want INACTIVE", desc.CertificateDescription.Status)
	}
}

func TestRegisterCertificateWithoutCA(t *testing.T) {
	e := newEnv(t)
	pemText := selfSignedPEM(t, "brought")
	out, err := e.iot.RegisterCertificateWithoutCA(e.ctx, &iot.RegisterCertificateWithoutCAInput{CertificatePem: aws.String(pemText)})
	must(t, err)
	id := certID(t, pemText)
	if aws.ToString(out.CertificateId) != id || aws.ToString(out.CertificateArn) != "arn:aws:iot:us-east-1:123456789012:cert/"+id {
		t.Errorf("RegisterCertificateWithoutCA = %+v, want id %s", out, id)
	}
	desc, err := e.iot.DescribeCertificate(e.ctx, &iot.DescribeCertificateInput{CertificateId: out.CertificateId})
	must(t, err)
	if desc.CertificateDescription.Status != types.CertificateStatusInactive {
		t.Errorf("default status = %s, want INACTIVE", desc.CertificateDescription.Status)
	}

	_, err = e.iot.RegisterCertificateWithoutCA(e.ctx, &iot.RegisterCertificateWithoutCAInput{CertificatePem: aws.String(pemText)})
	rae := wantErr[*types.ResourceAlreadyExistsException](t, err, http.StatusConflict)
	if aws.ToString(rae.ResourceId) != id {
		t.Errorf("resourceId = %q, want %s", aws.ToString(rae.ResourceId), id)
	}

	active, err := e.iot.RegisterCertificateWithoutCA(e.ctx, &iot.RegisterCertificateWithoutCAInput{
		CertificatePem: aws.String(selfSignedPEM(t, "active")), Status: types.CertificateStatusActive,
	})
	must(t, err)
	desc, err = e.iot.DescribeCertificate(e.ctx, &iot.DescribeCertificateInput{CertificateId: active.CertificateId})
	must(t, err)
	if desc.CertificateDescription.Status != types.CertificateStatusActive {
		t.Errorf("status = %s, want ACTIVE", desc.CertificateDescription.Status)
	}

	_, err = e.iot.RegisterCertificateWithoutCA(e.ctx, &iot.RegisterCertificateWithoutCAInput{CertificatePem: aws.String("not a certificate")})
	wantErr[*types.CertificateValidationException](t, err, http.StatusBadRequest)
	_, err = e.iot.RegisterCertificateWithoutCA(e.ctx, &iot.RegisterCertificateWithoutCAInput{
		CertificatePem: aws.String(selfSignedPEM(t, "x")), Status: types.CertificateStatus("BOGUS"),
	})
	wantErr[*types.InvalidRequestException](t, err, http.StatusBadRequest)
}

func TestUpdateAndDeleteCertificate(t *testing.T) {
	e := newEnv(t)
	out, err := e.iot.CreateKeysAndCertificate(e.ctx, &iot.CreateKeysAndCertificateInput{SetAsActive: true})
	must(t, err)
	id := out.CertificateId

	// ACTIVE certificates cannot be deleted.
	_, err = e.iot.DeleteCertificate(e.ctx, &iot.DeleteCertificateInput{CertificateId: id})
	wantErr[*types.CertificateStateException](t, err, http.StatusNotAcceptable)

	_, err = e.iot.UpdateCertificate(e.ctx, &iot.UpdateCertificateInput{CertificateId: id, NewStatus: types.CertificateStatusInactive})
	must(t, err)
	// Idempotent.
	_, err = e.iot.UpdateCertificate(e.ctx, &iot.UpdateCertificateInput{CertificateId: id, NewStatus: types.CertificateStatusInactive})
	must(t, err)
	desc, err := e.iot.DescribeCertificate(e.ctx, &iot.DescribeCertificateInput{CertificateId: id})
	must(t, err)
	if desc.CertificateDescription.Status != types.CertificateStatusInactive {
		t.Errorf("status = %s, want INACTIVE", desc.CertificateDescription.Status)
	}
	_, err = e.iot.UpdateCertificate(e.ctx, &iot.UpdateCertificateInput{CertificateId: id, NewStatus: types.CertificateStatus("SIDEWAYS")})
	wantErr[*types.InvalidRequestException](t, err, http.StatusBadRequest)

	// A thing still attached blocks deletion, even forced.
	_, err = e.iot.CreateThing(e.ctx, &iot.CreateThingInput{ThingName: aws.String("dev")})
	must(t, err)
	_, err = e.iot.AttachThingPrincipal(e.ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String("dev"), Principal: out.CertificateArn})
	must(t, err)
	_, err = e.iot.DeleteCertificate(e.ctx, &iot.DeleteCertificateInput{CertificateId: id, ForceDelete: true})
	wantErr[*types.DeleteConflictException](t, err, http.StatusConflict)
	_, err = e.iot.DetachThingPrincipal(e.ctx, &iot.DetachThingPrincipalInput{ThingName: aws.String("dev"), Principal: out.CertificateArn})
	must(t, err)

	// An attached policy blocks deletion unless forced.
	_, err = e.iot.CreatePolicy(e.ctx, &iot.CreatePolicyInput{PolicyName: aws.String("p"), PolicyDocument: aws.String(allowAll)})
	must(t, err)
	_, err = e.iot.AttachPolicy(e.ctx, &iot.AttachPolicyInput{PolicyName: aws.String("p"), Target: out.CertificateArn})
	must(t, err)
	_, err = e.iot.DeleteCertificate(e.ctx, &iot.DeleteCertificateInput{CertificateId: id})
	wantErr[*types.DeleteConflictException](t, err, http.StatusConflict)
	_, err = e.iot.DeleteCertificate(e.ctx, &iot.DeleteCertificateInput{CertificateId: id, ForceDelete: true})
	must(t, err)

	_, err = e.iot.DescribeCertificate(e.ctx, &iot.DescribeCertificateInput{CertificateId: id})
	wantErr[*types.ResourceNotFoundException](t, err, http.StatusNotFound)
	_, err = e.iot.UpdateCertificate(e.ctx, &iot.UpdateCertificateInput{CertificateId: id, NewStatus: types.CertificateStatusActive})
	wantErr[*types.ResourceNotFoundException](t, err, http.StatusNotFound)
	_, err = e.iot.DeleteCertificate(e.ctx, &iot.DeleteCertificateInput{CertificateId: id})
	wantErr[*types.ResourceNotFoundException](t, err, http.StatusNotFound)
	_, err = e.iot.DescribeCertificate(e.ctx, &iot.DescribeCertificateInput{CertificateId: aws.String("not-an-id")})
	wantErr[*types.InvalidRequestException](t, err, http.StatusBadRequest)
}

func TestListCertificatesPaging(t *testing.T) {
	e := newEnv(t)
	const n = 5
	want := map[string]bool{}
	for i := range n {
		out, err := e.iot.RegisterCertificateWithoutCA(e.ctx, &iot.RegisterCertificateWithoutCAInput{
			CertificatePem: aws.String(selfSignedPEM(t, fmt.Sprintf("dev-%d", i))), Status: types.CertificateStatusActive,
		})
		must(t, err)
		want[aws.ToString(out.CertificateId)] = true
	}
	for _, asc := range []bool{true, false} {
		seen := map[string]bool{}
		pages := 0
		var marker *string
		for {
			out, err := e.iot.ListCertificates(e.ctx, &iot.ListCertificatesInput{PageSize: aws.Int32(2), Marker: marker, AscendingOrder: asc})
			must(t, err)
			pages++
			for _, c := range out.Certificates {
				id := aws.ToString(c.CertificateId)
				if !want[id] || seen[id] {
					t.Errorf("unexpected or repeated certificate %s", id)
				}
				seen[id] = true
				if c.Status != types.CertificateStatusActive || c.CertificateMode != types.CertificateModeDefault ||
					c.CreationDate == nil || aws.ToString(c.CertificateArn) == "" {
					t.Errorf("certificate summary %+v lacks fields", c)
				}
			}
			if out.NextMarker == nil {
				break
			}
			marker = out.NextMarker
			if pages > n {
				t.Fatal("paging does not end")
			}
		}
		if pages != 3 || len(seen) != n {
			t.Errorf("ascending=%v: %d certificates in %d pages, want %d in 3", asc, len(seen), pages, n)
		}
	}
}
