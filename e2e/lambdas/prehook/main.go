// Command prehook is a pre-provisioning hook for the end-to-end tests, written as a user would
// write one with github.com/aws/aws-lambda-go and run behind the AWS Lambda Runtime Interface
// Emulator. It decides by the RegisterThing request's SerialNumber parameter:
//
//	deny…     allowProvisioning false
//	paris…    allowed, with parameterOverrides {"DeviceLocation": "Paris", "SerialNumber": "p-" + serial}
//	error…    the function raises an error
//	slow…     answers allowed after 7 s (beyond the 5 s AWS gives a hook)
//	anything else: allowed, no overrides
//
// It also checks the event carries what AWS sends (certificate id and PEM, template ARN,
// client id) and raises an error when it does not.
package main

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

type event struct {
	ClaimCertificateID string            `json:"claimCertificateId"`
	CertificateID      string            `json:"certificateId"`
	CertificatePEM     string            `json:"certificatePem"`
	TemplateARN        string            `json:"templateArn"`
	ClientID           string            `json:"clientId"`
	Parameters         map[string]string `json:"parameters"`
}

type answer struct {
	AllowProvisioning  bool              `json:"allowProvisioning"`
	ParameterOverrides map[string]string `json:"parameterOverrides,omitempty"`
}

func handle(_ context.Context, ev event) (answer, error) {
	if len(ev.CertificateID) != 64 || !strings.Contains(ev.CertificatePEM, "BEGIN CERTIFICATE") ||
		!strings.Contains(ev.TemplateARN, ":provisioningtemplate/") || ev.ClientID == "" || len(ev.ClaimCertificateID) != 64 {
		return answer{}, errors.New("incomplete pre-provisioning event")
	}
	serial := ev.Parameters["SerialNumber"]
	switch {
	case strings.HasPrefix(serial, "deny"):
		return answer{AllowProvisioning: false}, nil
	case strings.HasPrefix(serial, "paris"):
		return answer{AllowProvisioning: true, ParameterOverrides: map[string]string{"DeviceLocation": "Paris", "SerialNumber": "p-" + serial}}, nil
	case strings.HasPrefix(serial, "error"):
		return answer{}, errors.New("the hook failed on purpose")
	case strings.HasPrefix(serial, "slow"):
		time.Sleep(7 * time.Second)
	}
	return answer{AllowProvisioning: true}, nil
}

func main() { lambda.Start(handle) }
