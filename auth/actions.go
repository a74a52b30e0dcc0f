package auth

import "strings"

// The MQTT data-plane actions. Every MQTT operation is authorized as one of these: Connect on
// client/<clientId>, Publish, Receive and RetainPublish on topic/<topic>, Subscribe on
// topicfilter/<filter>.
const (
	ActionConnect       = "iot:Connect"
	ActionPublish       = "iot:Publish"
	ActionSubscribe     = "iot:Subscribe"
	ActionReceive       = "iot:Receive"
	ActionRetainPublish = "iot:RetainPublish"
)

// ActionAssumeRoleWithCertificate is the credentials provider's action: a certificate may
// exchange itself for temporary credentials of the role alias rolealias/<alias>.
const (
	ActionAssumeRoleWithCertificate = "iot:AssumeRoleWithCertificate"
	ResourceRoleAlias               = "rolealias"
)

// The resource types of the MQTT actions, the part of the ARN before the first "/".
const (
	ResourceClient      = "client"
	ResourceTopic       = "topic"
	ResourceTopicFilter = "topicfilter"
	ResourceThing       = "thing"
)

// knownActions are the actions whose coverage Compile precomputes per statement as a bit mask
// (bit i for knownActions[i]); any other action is matched against the statement's patterns
// when asked.
var knownActions = [...]string{ActionConnect, ActionPublish, ActionSubscribe, ActionReceive, ActionRetainPublish}

const numKnownActions = len(knownActions)

// knownActionIndex returns action's index in knownActions, or -1. Callers normally pass the
// constants, so the exact spelling is tried first; action names are case-insensitive, so any
// other spelling is then compared without case.
func knownActionIndex(action string) int {
	switch action {
	case ActionConnect:
		return 0
	case ActionPublish:
		return 1
	case ActionSubscribe:
		return 2
	case ActionReceive:
		return 3
	case ActionRetainPublish:
		return 4
	}
	for i, k := range knownActions {
		if strings.EqualFold(k, action) {
			return i
		}
	}
	return -1
}

// isResourceType reports whether t is one of the resource types of the MQTT actions.
func isResourceType(t string) bool {
	switch t {
	case ResourceClient, ResourceTopic, ResourceTopicFilter, ResourceThing:
		return true
	}
	return false
}
