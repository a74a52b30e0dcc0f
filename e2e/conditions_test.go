package e2e

import (
	"crypto/x509"
	"encoding/pem"
	"testing"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// TestPolicyConditionsOverMQTT: conditions and certificate variables are resolved from the real
// connection: the client's address, its clean-session flag and its certificate.
func TestPolicyConditionsOverMQTT(t *testing.T) {
	emu := startEmulator(t, "")
	cases := []struct {
		name     string
		policy   string
		clientID func(serial string) string
		clean    bool
		want     bool
	}{
		{"source IP inside the block", `{"Effect":"Allow","Action":"iot:Connect","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"}}}`, nil, true, true},
		{"source IP outside the block", `{"Effect":"Allow","Action":"iot:Connect","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}`, nil, true, false},
		{"persistent session denied", `{"Effect":"Allow","Action":"iot:Connect","Resource":"*"},{"Effect":"Deny","Action":"iot:Connect","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"iot:ConnectAttributes":["PersistentConnect"]}}}`, nil, false, false},
		{"clean session allowed", `{"Effect":"Allow","Action":"iot:Connect","Resource":"*"},{"Effect":"Deny","Action":"iot:Connect","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"iot:ConnectAttributes":["PersistentConnect"]}}}`, nil, true, true},
		{"client id is the certificate serial", `{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:*:*:client/${iot:Certificate.SerialNumber}"}`, func(serial string) string { return serial }, true, true},
		{"client id is not the certificate serial", `{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:*:*:client/${iot:Certificate.SerialNumber}"}`, func(string) string { return "someone" }, true, false},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			thing := "cond-" + string(rune('a'+i))
			d, err := emu.CreateDevice(thing, `{"Version":"2012-10-17","Statement":[`+tc.policy+`]}`)
			if err != nil {
				t.Fatal(err)
			}
			block, _ := pem.Decode([]byte(d.CertificatePEM))
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			clientID := thing
			if tc.clientID != nil {
				clientID = tc.clientID(cert.SerialNumber.String())
			}
			opts := paho.NewClientOptions().AddBroker("ssl://" + emu.MQTTAddr()).SetClientID(clientID).
				SetTLSConfig(tlsConfig(t, d)).SetCleanSession(tc.clean).SetAutoReconnect(false)
			c := paho.NewClient(opts)
			tok := c.Connect()
			tok.Wait()
			connected := tok.Error() == nil
			if connected {
				c.Disconnect(50)
			}
			if connected != tc.want {
				t.Fatalf("connected = %v (%v), want %v", connected, tok.Error(), tc.want)
			}
		})
	}
}
