package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// TestJobsWithLocalS3: with AWS_ENDPOINT_URL_S3 pointing at a local S3 (gofakes3), CreateJob
// reads documentSource from it, and the ${aws:iot:s3-presigned-url:...} placeholder a device
// receives is a presigned URL that fetches the object from it.
func TestJobsWithLocalS3(t *testing.T) {
	backend := s3mem.New()
	s3 := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(s3.Close)
	if err := backend.CreateBucket("fw-bucket"); err != nil {
		t.Fatal(err)
	}
	firmware := []byte("\x7fELF firmware 2.0")
	doc := `{"operation":"install","url":"${aws:iot:s3-presigned-url:https://s3.us-east-1.amazonaws.com/fw-bucket/fw-2.0.bin}"}`
	for key, data := range map[string][]byte{"fw-2.0.bin": firmware, "job.json": []byte(doc)} {
		if _, err := backend.PutObject("fw-bucket", key, map[string]string{}, bytes.NewReader(data), int64(len(data)), nil); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("AWS_ENDPOINT_URL_S3", s3.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")

	emu := startEmulator(t, "")
	dev := jobsDevice(t, emu, "s3-dev")
	ctl := iotClientAt(awsConfig(awsKey(sigv4Key, sigv4Secret), nil), emu.APIURL())
	_, err := ctl.CreateJob(t.Context(), &iot.CreateJobInput{JobId: aws.String("ota"), Targets: []string{thingARN("s3-dev")},
		DocumentSource:     aws.String("https://fw-bucket.s3.amazonaws.com/job.json"),
		PresignedUrlConfig: &types.PresignedUrlConfig{RoleArn: aws.String("arn:aws:iam::123456789012:role/ota"), ExpiresInSec: aws.Int64(600)}})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := ctl.GetJobDocument(t.Context(), &iot.GetJobDocumentInput{JobId: aws.String("ota")})
	if err != nil || aws.ToString(raw.Document) != doc {
		t.Fatalf("document read from documentSource: %v %v", raw, err)
	}

	// The device asks for its next job over MQTT: the URL in the document is presigned.
	box := newInbox()
	c := connectJobsClient(t, emu, dev, box)
	if err := wait(t, c.Publish("$aws/things/s3-dev/jobs/$next/get", 1, false, `{}`)); err != nil {
		t.Fatal(err)
	}
	acc := box.next(t, "$aws/things/s3-dev/jobs/$next/get/accepted")
	url, _ := acc["execution"].(map[string]any)["jobDocument"].(map[string]any)["url"].(string)
	if !strings.HasPrefix(url, s3.URL+"/fw-bucket/fw-2.0.bin?") || !strings.Contains(url, "X-Amz-Signature=") || !strings.Contains(url, "X-Amz-Expires=600") {
		t.Fatalf("presigned URL: %q", url)
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !bytes.Equal(got, firmware) {
		t.Fatalf("GET presigned URL: %d %q", resp.StatusCode, got)
	}
	// Over HTTPS the document is a string holding the same kind of URL.
	st, _, m := jobsDataCall(t, httpsClientFor(t, tlsConfig(t, dev)), http.MethodGet, "https://"+emu.HTTPSAddr()+"/things/s3-dev/jobs/ota", "", false)
	var inner map[string]string
	if st != 200 || json.Unmarshal([]byte(m["execution"].(map[string]any)["jobDocument"].(string)), &inner) != nil || !strings.HasPrefix(inner["url"], s3.URL) {
		t.Fatalf("iot-jobs-data document: %d %v", st, m)
	}
}
