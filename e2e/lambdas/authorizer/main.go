// Command authorizer is a custom-authorizer function for the end-to-end tests, written as a user
// would write one with github.com/aws/aws-lambda-go and run behind the AWS Lambda Runtime
// Interface Emulator. It decides by the token it is given:
//
//	allow…       authenticated; principal "dev" + the rest of the token (letters and digits); a
//	             policy that allows connecting and publish/subscribe/receive under custom/<principal>/
//	             and custom/all/
//	strings…     as allow, with the policy documents as JSON strings
//	ttl…         as allow, with disconnectAfterInSeconds 300 and refreshAfterInSeconds 300
//	deny         not authenticated
//	garbage      an answer that is not JSON
//	error        the function raises an error
//	slow         answers after 7 s (beyond the 5 s AWS allows an authorizer)
//	x509…        CUSTOM_AUTH_X509: authenticated only when protocolData.tls carries a PEM
//	             certificate whose SHA-256 is protocolData.tls.principalId, and the server name
//	             is set; principal = that certificate id (as AWS requires); a policy that
//	             allows connecting and publish/subscribe/receive under fn/<thing name>/ (the
//	             thing policy variable of the certificate's thing), and publish under fnhttp/
//	x509wrong    as x509, but answers principal "someoneelse" (AWS refuses that)
//
// Without a token, the MQTT password decides: "letmein" (base64 in the event) is allow.
// Every answer echoes the event it saw under "event" (AWS ignores unknown keys), so tests can
// check what the emulator sent.
package main

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

type event struct {
	Token             string   `json:"token"`
	SignatureVerified bool     `json:"signatureVerified"`
	Protocols         []string `json:"protocols"`
	ProtocolData      struct {
		TLS *struct {
			ServerName         string `json:"serverName"`
			X509CertificatePEM string `json:"x509CertificatePem"`
			PrincipalID        string `json:"principalId"`
		} `json:"tls"`
		HTTP *struct {
			Headers     map[string]string `json:"headers"`
			QueryString string            `json:"queryString"`
		} `json:"http"`
		MQTT *struct {
			Username string `json:"username"`
			Password string `json:"password"`
			ClientID string `json:"clientId"`
		} `json:"mqtt"`
	} `json:"protocolData"`
}

func policy(principal string) map[string]any {
	return map[string]any{
		"Version": "2012-10-17",
		"Statement": []map[string]any{
			{"Effect": "Allow", "Action": "iot:Connect", "Resource": "arn:aws:iot:*:*:client/*"},
			{"Effect": "Allow", "Action": []string{"iot:Publish", "iot:Receive"}, "Resource": []string{
				"arn:aws:iot:*:*:topic/custom/" + principal + "/*", "arn:aws:iot:*:*:topic/custom/all/*"}},
			{"Effect": "Allow", "Action": "iot:Subscribe", "Resource": []string{
				"arn:aws:iot:*:*:topicfilter/custom/" + principal + "/*", "arn:aws:iot:*:*:topicfilter/custom/all/*"}},
		},
	}
}

func handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var ev event
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, err
	}
	token := ev.Token
	if token == "" && ev.ProtocolData.MQTT != nil {
		if pw, err := base64.StdEncoding.DecodeString(ev.ProtocolData.MQTT.Password); err == nil && string(pw) == "letmein" {
			token = "allowpw"
		}
	}
	answer := map[string]any{"event": raw}
	switch {
	case token == "garbage":
		return strings.NewReader("this is {not json"), nil
	case token == "error":
		return nil, errors.New("authorizer exploded")
	case token == "slow":
		select {
		case <-time.After(7 * time.Second):
		case <-ctx.Done():
		}
		answer["isAuthenticated"] = true
		return answer, nil
	case strings.HasPrefix(token, "x509"):
		tls := ev.ProtocolData.TLS
		if tls == nil || tls.ServerName == "" || certificateID(tls.X509CertificatePEM) != tls.PrincipalID || tls.PrincipalID == "" {
			answer["isAuthenticated"] = false
			return answer, nil
		}
		answer["isAuthenticated"] = true
		answer["principalId"] = tls.PrincipalID
		if token == "x509wrong" {
			answer["principalId"] = "someoneelse"
		}
		thingTopic := "fn/${iot:Connection.Thing.ThingName}/*"
		answer["policyDocuments"] = []any{map[string]any{
			"Version": "2012-10-17",
			"Statement": []map[string]any{
				{"Effect": "Allow", "Action": "iot:Connect", "Resource": "arn:aws:iot:*:*:client/*"},
				{"Effect": "Allow", "Action": []string{"iot:Publish", "iot:Receive"}, "Resource": []string{
					"arn:aws:iot:*:*:topic/" + thingTopic, "arn:aws:iot:*:*:topic/fnhttp/*"}},
				{"Effect": "Allow", "Action": "iot:Subscribe", "Resource": "arn:aws:iot:*:*:topicfilter/" + thingTopic},
			},
		}}
		return answer, nil
	case strings.HasPrefix(token, "allow"), strings.HasPrefix(token, "strings"), strings.HasPrefix(token, "ttl"):
		rest := strings.TrimLeft(token, "abcdefghijklmnopqrstuvwxyz")
		principal := "dev" + strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, rest)
		doc := policy(principal)
		answer["isAuthenticated"] = true
		answer["principalId"] = principal
		answer["disconnectAfterInSeconds"] = 86400
		answer["refreshAfterInSeconds"] = 3600
		if strings.HasPrefix(token, "strings") {
			b, _ := json.Marshal(doc)
			answer["policyDocuments"] = []string{string(b)}
		} else {
			answer["policyDocuments"] = []any{doc}
		}
		if strings.HasPrefix(token, "ttl") {
			answer["disconnectAfterInSeconds"] = 300
			answer["refreshAfterInSeconds"] = 300
		}
		return answer, nil
	default:
		answer["isAuthenticated"] = false
		return answer, nil
	}
}

// certificateID is AWS IoT's certificate id of a PEM certificate: the hex SHA-256 of its DER;
// "" when pemText holds no certificate.
func certificateID(pemText string) string {
	block, _ := pem.Decode([]byte(pemText))
	if block == nil || block.Type != "CERTIFICATE" {
		return ""
	}
	if _, err := x509.ParseCertificate(block.Bytes); err != nil {
		return ""
	}
	sum := sha256.Sum256(block.Bytes)
	return hex.EncodeToString(sum[:])
}

func main() { lambda.Start(handle) }
