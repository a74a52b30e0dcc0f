package hooks

import (
	"fmt"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/iotcore-local/iotcore-local/auth"
	"github.com/iotcore-local/iotcore-local/listener"
)

// This file writes the MQTT side of a connection's transcript: the CONNECT, the iot:Connect
// decision, refusals and the disconnect. It runs at connection events and refusals only, never
// for an allowed message.

// transcriptOf is the transcript of a client's connection, or nil (inline client, a connection
// from elsewhere); listener.Transcript's methods accept nil.
func transcriptOf(cl *mqtt.Client) *listener.Transcript {
	if cl == nil || cl.Net.Conn == nil {
		return nil
	}
	return listener.TranscriptOf(cl.Net.Conn)
}

// recordConnect adds the CONNECT step: client id, protocol, keep-alive, clean session, will.
func recordConnect(tr *listener.Transcript, cl *mqtt.Client, pk packets.Packet) {
	if tr == nil {
		return
	}
	will := "no will"
	if pk.Connect.WillFlag {
		will = fmt.Sprintf("will on %q (QoS %d, retain %t)", pk.Connect.WillTopic, pk.Connect.WillQos, pk.Connect.WillRetain)
	}
	user := ""
	if pk.Connect.UsernameFlag {
		user = fmt.Sprintf("; username %q", pk.Connect.Username)
	}
	tr.Step(listener.StepConnect, fmt.Sprintf("client id %q; MQTT %s; keep-alive %ds; clean session %t; %s%s",
		cl.ID, protocolName(pk.ProtocolVersion), pk.Connect.Keepalive, pk.Connect.Clean, will, user))
}

// recordConnectDecision adds the iot:Connect step with the statement that decided.
func recordConnectDecision(tr *listener.Transcript, c *auth.Compiled, clientID, thing string) {
	if tr == nil {
		return
	}
	d := c.Explain(auth.ActionConnect, "client", clientID)
	detail := d.Reason
	if thing != "" {
		detail += "; thing " + thing
	}
	tr.Step(listener.StepConnectDecision, detail)
}

// recordRefusal adds a refused operation (publish, subscribe, will, CONNECT) to the transcript.
func recordRefusal(cl *mqtt.Client, reason string) {
	transcriptOf(cl).Step(listener.StepRefused, reason)
}

// recordDisconnect ends the transcript of an accepted connection with its lifecycle reason.
func recordDisconnect(cl *mqtt.Client, err error) {
	tr := transcriptOf(cl)
	if tr == nil {
		return
	}
	reason := DisconnectReason(cl, err)
	cause := cl.StopCause()
	if cause == nil {
		cause = err
	}
	var detail string
	switch reason {
	case "CLIENT_INITIATED_DISCONNECT":
		detail = "the client sent DISCONNECT"
	case "DUPLICATE_CLIENTID":
		detail = "a new connection with the same client id took over this one (repeated, this is a takeover loop: two devices share a client id)"
	default:
		if cause != nil {
			detail = cause.Error()
		}
	}
	tr.Disconnected(reason, detail)
}

func protocolName(v byte) string {
	switch v {
	case 3:
		return "3.1"
	case 4:
		return "3.1.1"
	case 5:
		return "5"
	}
	return fmt.Sprintf("version %d", v)
}
