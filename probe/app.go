package probe

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// connackMeanings are the MQTT 3.1.1 CONNACK return codes.
var connackMeanings = map[int]string{
	0: "accepted", 1: "unacceptable protocol version", 2: "identifier rejected", 3: "server unavailable",
	4: "bad user name or password", 5: "not authorized",
}

// connectPacket is an MQTT 3.1.1 CONNECT: clean session, keep-alive 30 s, the client id.
func connectPacket(clientID string) []byte {
	var body []byte
	body = append(body, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 30)
	body = append(body, byte(len(clientID)>>8), byte(len(clientID)))
	body = append(body, clientID...)
	pkt := []byte{0x10}
	n := len(body)
	for {
		b := byte(n % 128)
		n /= 128
		if n > 0 {
			b |= 0x80
		}
		pkt = append(pkt, b)
		if n == 0 {
			break
		}
	}
	return append(pkt, body...)
}

// speakMQTT sends CONNECT and reads the CONNACK; a client certificate refused under TLS 1.3
// shows up here as an alert on the first read.
func speakMQTT(tc *tls.Conn, clientID string, a *Attempt) string {
	a.MQTT = &MQTTResult{}
	if _, err := tc.Write(connectPacket(clientID)); err != nil {
		return readFailure("sending the MQTT CONNECT", err, a)
	}
	var ack [4]byte
	if _, err := io.ReadFull(tc, ack[:]); err != nil {
		if errors.Is(err, io.EOF) && remoteAlert(err) == nil {
			return fmt.Sprintf("The MQTT CONNECT (client id %q) got no CONNACK: the server closed the connection, which is how AWS IoT Core refuses a CONNECT (certificate not registered or not ACTIVE, or iot:Connect denied).", clientID)
		}
		return readFailure("waiting for the CONNACK", err, a)
	}
	if ack[0] != 0x20 || ack[1] != 2 {
		return fmt.Sprintf("The answer to the MQTT CONNECT is not a CONNACK (first bytes % x).", ack[:])
	}
	code := int(ack[3])
	a.MQTT.Connack = &code
	_, _ = tc.Write([]byte{0xe0, 0}) // DISCONNECT
	return fmt.Sprintf("The MQTT CONNECT (client id %q) got CONNACK %d (%s).", clientID, code, connackMeanings[code])
}

// speakHTTP sends GET /health and reads the status line.
func speakHTTP(tc *tls.Conn, host, addr string, a *Attempt) string {
	if host == "" {
		host = addr
	}
	req := "GET /health HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: iotcore-local-probe\r\nConnection: close\r\n\r\n"
	if _, err := io.WriteString(tc, req); err != nil {
		return readFailure("sending the HTTP request", err, a)
	}
	resp, err := http.ReadResponse(bufio.NewReader(tc), nil)
	if err != nil {
		return readFailure("waiting for the HTTP response", err, a)
	}
	resp.Body.Close()
	a.HTTP = &HTTPResult{Status: resp.StatusCode}
	return fmt.Sprintf("GET /health answered HTTP %d %s.", resp.StatusCode, strings.TrimSpace(strings.TrimPrefix(resp.Status, fmt.Sprint(resp.StatusCode))))
}

// readFailure explains an error after the handshake: an alert (TLS 1.3 reports a refused
// client certificate after the handshake), the connection closed, or a timeout.
func readFailure(doing string, err error, a *Attempt) string {
	if al := remoteAlert(err); al != nil {
		a.Alert = al
		msg := fmt.Sprintf("While %s the server sent fatal alert %d %s", doing, al.Code, al.Name)
		if m := alertMeanings[al.Code]; m != "" {
			msg += ": " + m
		}
		if al.Code == 116 {
			msg += " (TLS 1.3 servers report a missing client certificate after the handshake, so the client sees it on its first read)"
		}
		return msg + "."
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "While " + doing + " the server closed the connection."
	}
	a.Error = err.Error()
	return fmt.Sprintf("While %s: %v.", doing, err)
}
