package auth

import (
	"fmt"
	"github.com/iotcore-local/iotcore-local/internal/spelling"
	"strings"
)

// policyActions are the actions AWS IoT Core defines for its own policies (the developer
// guide's "AWS IoT Core policy actions"): MQTT, Device Shadow, Jobs data plane and the
// credentials provider. An "iot:" action outside this list is accepted by AWS as written, but no
// request a device makes is ever authorised as it, so a statement naming it grants nothing.
var policyActions = []string{
	ActionConnect, "iot:DeleteConnection", "iot:GetRetainedMessage", "iot:ListRetainedMessages",
	ActionPublish, ActionReceive, ActionRetainPublish, ActionSubscribe,
	"iot:DeleteThingShadow", "iot:GetThingShadow", "iot:ListNamedShadowsForThing", "iot:UpdateThingShadow",
	"iot:DescribeJobExecution", "iot:GetPendingJobExecutions", "iot:StartNextPendingJobExecution", "iot:UpdateJobExecution",
	"iot:AssumeRoleWithCertificate",
}

// Warning is something a valid policy document most likely gets wrong: AWS accepts it, so the
// emulator does too, but says so. Field names the element as ParseError does.
type Warning struct {
	Field   string
	Message string
}

func (w Warning) String() string { return w.Field + ": " + w.Message }

// Warnings lists what a parsed document most likely gets wrong: today, "iot:" actions that AWS
// IoT Core does not define (a misspelt "iot:Publsh" silently grants nothing). Wildcard actions
// and other services' actions are not checked.
func Warnings(doc *Document) []Warning {
	var out []Warning
	for i, st := range doc.Statements {
		for _, list := range []struct {
			key     string
			actions []string
		}{{"Action", st.Actions}, {"NotAction", st.NotActions}} {
			for j, a := range list.actions {
				if msg := unknownAction(a); msg != "" {
					out = append(out, Warning{Field: fmt.Sprintf("Statement[%d].%s[%d]", i, list.key, j), Message: msg})
				}
			}
		}
	}
	return out
}

// DocumentWarnings parses document and returns its warnings; a document that does not parse
// has none (ParseDocument's error is the caller's business).
func DocumentWarnings(document string) []Warning {
	doc, err := ParseDocument(document)
	if err != nil {
		return nil
	}
	return Warnings(doc)
}

// unknownAction explains why action is not an AWS IoT Core policy action, or returns "".
func unknownAction(action string) string {
	service, name, ok := strings.Cut(action, ":")
	if !ok || !strings.EqualFold(service, "iot") || strings.ContainsAny(name, "*?") {
		return ""
	}
	best, bestDist := "", len(name)
	for _, known := range policyActions {
		if strings.EqualFold(known, action) {
			return ""
		}
		if d := spelling.Distance(strings.ToLower(name), strings.ToLower(strings.TrimPrefix(known, "iot:"))); d < bestDist {
			best, bestDist = known, d
		}
	}
	msg := fmt.Sprintf("%q is not an AWS IoT Core policy action; AWS accepts the policy, but this statement grants or denies nothing for it", action)
	if best != "" && bestDist <= max(2, len(name)/4) {
		msg += fmt.Sprintf(" (did you mean %q?)", best)
	}
	return msg
}
