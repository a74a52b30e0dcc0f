package registry

import "regexp"

// Policies attached to Amazon Cognito identities. An authenticated Cognito identity that connects
// over MQTT-over-WebSocket is held to the IoT policies attached to its identity id (AttachPolicy
// with the identity id as target, e.g. us-east-1:1b2c…), as well as to its IAM policy. AWS IoT
// does not check that the identity exists, so neither does the registry.

// cognitoTargetPrefix starts the key of a Cognito identity in the policy attachment buckets.
// Certificate ids are hexadecimal and group keys start with "thinggroup/", so keys cannot collide.
const cognitoTargetPrefix = "cognito/"

// cognitoIdentityPattern is an identity id: REGION:UUID.
var cognitoIdentityPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// IsCognitoIdentityID reports whether s has the form of a Cognito identity id (REGION:UUID).
func IsCognitoIdentityID(s string) bool { return cognitoIdentityPattern.MatchString(s) }

// CognitoIdentityPolicies returns the policies attached to a Cognito identity id, by name.
func (r *Registry) CognitoIdentityPolicies(identityID string) ([]Policy, error) {
	return r.ListAttachedPolicies(identityID, false)
}
