package pki

import (
	"crypto"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// TestOCSPRoundTrip checks the root CA's OCSP responder for the server certificate: the request
// it makes is answered "good" for OCSPValidity, and the answer verifies for that certificate.
func TestOCSPRoundTrip(t *testing.T) {
	a := mustLoad(t, t.TempDir(), "localhost")
	leaf, err := x509.ParseCertificate(a.ServerCertificate().Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	req, err := a.OCSPRequest(leaf)
	if err != nil {
		t.Fatal(err)
	}
	der, err := a.RespondOCSP(req)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := a.VerifyOCSPResponse(der, leaf)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != ocsp.Good || resp.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
		t.Fatalf("status %d serial %x, want good for %x", resp.Status, resp.SerialNumber, leaf.SerialNumber)
	}
	if got := resp.NextUpdate.Sub(resp.ThisUpdate); got < OCSPValidity || got > OCSPValidity+2*time.Minute {
		t.Fatalf("validity %s, want about %s", got, OCSPValidity)
	}
}

// TestOCSPRefusals checks what the responder and the verifier refuse.
func TestOCSPRefusals(t *testing.T) {
	a := mustLoad(t, t.TempDir(), "localhost")
	other := mustLoad(t, t.TempDir(), "localhost") // another root CA
	leaf, _ := x509.ParseCertificate(a.ServerCertificate().Certificate[0])
	otherLeaf, _ := x509.ParseCertificate(other.ServerCertificate().Certificate[0])

	t.Run("a request about another issuer's certificate", func(t *testing.T) {
		req, err := other.OCSPRequest(otherLeaf)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.RespondOCSP(req); err == nil || !strings.Contains(err.Error(), "did not issue") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("garbage request", func(t *testing.T) {
		if _, err := a.RespondOCSP([]byte("not DER")); err == nil {
			t.Fatal("answered garbage")
		}
	})
	for _, c := range []struct {
		name   string
		signer *Authority
		serial *x509.Certificate
	}{
		{"a response signed by another CA", other, leaf},
		{"a response about another serial", a, otherLeaf},
	} {
		t.Run(c.name, func(t *testing.T) {
			der, err := ocsp.CreateResponse(c.signer.root.cert, c.signer.root.cert, ocsp.Response{Status: ocsp.Good,
				SerialNumber: c.serial.SerialNumber, ThisUpdate: time.Now(), NextUpdate: time.Now().Add(time.Hour)}, c.signer.root.key)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := a.VerifyOCSPResponse(der, leaf); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	t.Run("an expired response", func(t *testing.T) {
		der, err := ocsp.CreateResponse(a.root.cert, a.root.cert, ocsp.Response{Status: ocsp.Good, IssuerHash: crypto.SHA1,
			SerialNumber: leaf.SerialNumber, ThisUpdate: time.Now().Add(-3 * time.Hour), NextUpdate: time.Now().Add(-time.Hour)}, a.root.key)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.VerifyOCSPResponse(der, leaf); err == nil || !strings.Contains(err.Error(), "expired") {
			t.Fatalf("err %v", err)
		}
	})
}
