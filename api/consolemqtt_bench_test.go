package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/iotcore-local/iotcore-local/api"
)

// BenchmarkWebSocketVerify compares verifying a /mqtt upgrade presigned with a --credentials key
// (by the AWS SDK's presigner) and one presigned by the console route with the console
// credential: the same SigV4 check, the console key looked up only after Credentials.
func BenchmarkWebSocketVerify(b *testing.B) {
	cred := api.NewConsoleCredential(testRegion, nil)
	consoleURL, _ := cred.PresignMQTT("ws", "127.0.0.1:4580")
	req, err := http.NewRequest(http.MethodGet, "ws://127.0.0.1:4580/mqtt", nil)
	if err != nil {
		b.Fatal(err)
	}
	sdkURL, _, err := v4.NewSigner().PresignHTTP(b.Context(), aws.Credentials{AccessKeyID: knownKey, SecretAccessKey: knownSecret},
		req, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "iotdevicegateway", testRegion, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	v := api.WebSocketVerifier{Region: testRegion, Console: cred, Credentials: map[string]string{knownKey: knownSecret}}
	for _, bc := range []struct{ name, url string }{{"credentials_key", sdkURL}, {"console_key", consoleURL}} {
		b.Run(bc.name, func(b *testing.B) {
			r := upgradeRequest(b, bc.url)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
