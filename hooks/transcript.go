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
// Its text is made when the transcript is read.
func recordConnect(tr *listener.Transcript, cl *mqtt.Client, pk packets.Packet) {
	if !tr.KeepsSteps() {
		return
	}
	f := connectFacts{clientID: cl.ID, version: pk.ProtocolVersion, keepalive: pk.Connect.Keepalive,
		clean: pk.Connect.Clean, will: pk.Connect.WillFlag, userFlag: pk.Connect.UsernameFlag}
	if f.will {
		f.willTopic, f.willQos, f.willRetain = pk.Connect.WillTopic, pk.Connect.WillQos, pk.Connect.WillRetain
	}
	if f.userFlag {
		f.username = string(pk.Connect.Username)
	}
	tr.StepLazy(listener.StepConnect, f.step)
}

// connectFacts is what the CONNECT step tells, copied from the packet.
type connectFacts struct {
	clientID, willTopic, username string
	version, willQos              byte
	keepalive                     uint16
	clean, will, willRetain       bool
	userFlag                      bool
}

func (f connectFacts) step() string {
	will := "no will"
	if f.will {
		will = fmt.Sprintf("will on %q (QoS %d, retain %t)", f.willTopic, f.willQos, f.willRetain)
	}
	user := ""
	if f.userFlag {
		user = fmt.Sprintf("; username %q", f.username)
	}
	return fmt.Sprintf("client id %q; MQTT %s; keep-alive %ds; clean session %t; %s%s",
		f.clientID, protocolName(f.version), f.keepalive, f.clean, will, user)
}

// recordConnectDecision adds the iot:Connect step with the statement that decided.
func recordConnectDecision(tr *listener.Transcript, c *auth.Compiled, clientID, thing string) {
	if tr == nil {
		return
	}
	recordConnectVerdict(tr, c.Explain(auth.ActionConnect, "client", clientID).Reason, thing)
}

// recordConnectVerdict adds the iot:Connect step with its explanation (auth.Compiled.Explain's
// reason).
func recordConnectVerdict(tr *listener.Transcript, reason, thing string) {
	if tr == nil {
		return
	}
	detail := reason
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
