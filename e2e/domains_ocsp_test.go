package e2e

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"golang.org/x/crypto/ocsp"

	"github.com/iotcore-local/iotcore-local/emulator"
	"github.com/iotcore-local/iotcore-local/listener"
)

// TestOCSPStapling checks serverCertificateConfig.enableOCSPCheck with real TLS clients: a
// handshake whose SNI names such a domain carries an OCSP response for the server certificate
// (from the root CA, or from the configuration's ocspLambdaArn function called through the
// Lambda Invoke API with the base64 DER request), which Go's client and openssl -status read as
// "good"; a domain without it staples nothing; a responder that answers garbage or signs with
// another key leaves the handshake unstapled, and the transcript says why.
func TestOCSPStapling(t *testing.T) {
	dir := t.TempDir()
	var calls atomic.Int32
	var lastSerial atomic.Value
	// responder is an RFC 6960 responder function for the emulator's root CA, as a user would
	// run one for their CA: it reads the root's key from the data folder.
	responder := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		var ev struct {
			TaskID      string `json:"taskId"`
			OCSPRequest string `json:"ocspRequest"`
		}
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &ev); err != nil || ev.TaskID == "" {
			http.Error(w, "bad event", 400)
			return
		}
		der, _ := base64.StdEncoding.DecodeString(ev.OCSPRequest)
		req, err := ocsp.ParseRequest(der)
		if err != nil {
			http.Error(w, "bad request: "+err.Error(), 400)
			return
		}
		lastSerial.Store(req.SerialNumber.Text(16))
		root, key := readRoot(t, dir)
		resp, err := ocsp.CreateResponse(root, root, ocsp.Response{Status: ocsp.Good, SerialNumber: req.SerialNumber,
			ThisUpdate: time.Now().Add(-time.Minute), NextUpdate: time.Now().Add(time.Hour)}, key)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"taskId": ev.TaskID, "ocspResponse": base64.StdEncoding.EncodeToString(resp)})
	}))
	defer responder.Close()
	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"ocspResponse":"bm90IGFuIE9DU1AgcmVzcG9uc2U="}`)
	}))
	defer garbage.Close()

	emu := startEmulator(t, dir, func(c *emulator.Config) {
		c.Demo = false
		c.Functions = map[string]string{"ocsp-responder": responder.URL, "ocsp-garbage": garbage.URL}
	})
	client := iotClientAt(awsConfig(awsKey(sigv4Key, sigv4Secret), nil), emu.APIURL())
	ctx := context.Background()
	for name, sc := range map[string]*types.ServerCertificateConfig{
		"stapled":  {EnableOCSPCheck: aws.Bool(true)},
		"function": {EnableOCSPCheck: aws.Bool(true), OcspLambdaArn: aws.String("ocsp-responder")},
		"broken":   {EnableOCSPCheck: aws.Bool(true), OcspLambdaArn: aws.String("ocsp-garbage")},
		"plain":    nil,
	} {
		if _, err := client.CreateDomainConfiguration(ctx, &iot.CreateDomainConfigurationInput{DomainConfigurationName: aws.String(name),
			DomainName: aws.String(name + ".devices.test"), ServerCertificateConfig: sc}); err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
	}
	out, err := client.DescribeDomainConfiguration(ctx, &iot.DescribeDomainConfigurationInput{DomainConfigurationName: aws.String("function")})
	if err != nil || out.ServerCertificateConfig == nil || !aws.ToBool(out.ServerCertificateConfig.EnableOCSPCheck) ||
		aws.ToString(out.ServerCertificateConfig.OcspLambdaArn) != "ocsp-responder" {
		t.Fatalf("describe: %v %+v", err, out)
	}
	rootPEM, _ := os.ReadFile(emu.RootCAFile())
	root := parsePEMCert(t, rootPEM)

	staple := func(t *testing.T, sni string) ([]byte, *x509.Certificate) {
		t.Helper()
		conn, err := dialTLS(emu, sniConfig(t, emu, sni, nil))
		if err != nil {
			t.Fatalf("handshake with %s: %v", sni, err)
		}
		defer conn.Close()
		st := conn.ConnectionState()
		return st.OCSPResponse, st.PeerCertificates[0]
	}
	good := func(t *testing.T, sni string) {
		t.Helper()
		der, leaf := staple(t, sni)
		if len(der) == 0 {
			t.Fatalf("%s: no OCSP response stapled", sni)
		}
		resp, err := ocsp.ParseResponseForCert(der, leaf, root)
		if err != nil || resp.Status != ocsp.Good {
			t.Fatalf("%s: stapled response %v, status %v", sni, err, resp)
		}
	}

	t.Run("from the root CA", func(t *testing.T) { good(t, "stapled.devices.test") })

	t.Run("from the responder function", func(t *testing.T) {
		good(t, "function.devices.test")
		_, leaf := staple(t, "function.devices.test")
		if calls.Load() != 1 || lastSerial.Load() != leaf.SerialNumber.Text(16) {
			t.Fatalf("function called %d times, about serial %v; want once, about %s (the response is kept)", calls.Load(), lastSerial.Load(), leaf.SerialNumber.Text(16))
		}
	})

	t.Run("no staple without enableOCSPCheck", func(t *testing.T) {
		if der, _ := staple(t, "plain.devices.test"); len(der) != 0 {
			t.Fatalf("a plain domain stapled %d bytes", len(der))
		}
	})

	t.Run("a broken responder leaves the handshake unstapled", func(t *testing.T) {
		if der, _ := staple(t, "broken.devices.test"); len(der) != 0 {
			t.Fatalf("stapled %d bytes of a garbage answer", len(der))
		}
		rec := transcriptFor(t, emu, func(r listener.Record) bool { return r.SNI == "broken.devices.test" && r.Outcome != "" })
		var note string
		for _, s := range rec.Steps {
			if s.Step == listener.StepOCSP {
				note = s.Detail
			}
		}
		if !strings.Contains(note, "no response is stapled") || !strings.Contains(note, "OCSP response") {
			t.Fatalf("transcript's OCSP step: %q", note)
		}
	})

	t.Run("openssl -status", func(t *testing.T) {
		needTools(t, "openssl")
		cmd := exec.Command("openssl", "s_client", "-connect", emu.ALPNAddr(), "-servername", "stapled.devices.test",
			"-status", "-CAfile", emu.RootCAFile(), "-verify_return_error")
		cmd.Stdin = strings.NewReader("")
		b, _ := cmd.CombinedOutput()
		if out := string(b); !strings.Contains(out, "OCSP Response Status: successful") || !strings.Contains(out, "Cert Status: good") ||
			!strings.Contains(out, "Verify return code: 0 (ok)") {
			t.Fatalf("openssl s_client -status:\n%s", out)
		}
	})
}

// readRoot reads the root CA's certificate and key from the emulator's data folder.
func readRoot(t *testing.T, dir string) (*x509.Certificate, crypto.Signer) {
	certPEM, err := os.ReadFile(filepath.Join(dir, "root-ca.pem"))
	if err != nil {
		t.Error(err)
		return nil, nil
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, "root-ca.key"))
	if err != nil {
		t.Error(err)
		return nil, nil
	}
	block, _ := pem.Decode(keyPEM)
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Error(err)
		return nil, nil
	}
	return parsePEMCert(t, certPEM), key.(crypto.Signer)
}

func parsePEMCert(t *testing.T, b []byte) *x509.Certificate {
	block, _ := pem.Decode(b)
	if block == nil {
		t.Error("no PEM certificate")
		return nil
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Error(err)
	}
	return c
}
