// Package auth holds identity and the AWS IoT policy language.
//
// The policy half works in three steps, each done as rarely as possible:
//
//   - ParseDocument validates a policy document once, when it is stored, and reports the first
//     problem by field name ("Statement[1].Effect: ...") the way AWS refuses a malformed policy.
//   - Compile turns the policies attached to one connection into matchers once, at CONNECT:
//     policy variables (${iot:ClientId}, ${iot:Connection.Thing.*}) are substituted with what the
//     connection knows, the ARN prefix of every resource pattern is checked against the
//     connection's partition, region and account, and each statement records which of the MQTT
//     actions it covers as a bit mask.
//   - Decide answers one authorization question (iot:Publish on topic/a/b, ...) with no
//     allocation, because it runs for every publish, subscription filter and delivery. Explain
//     answers the same question with a human-readable reason, for logs and transcripts.
//
// Evaluation follows AWS IoT (IAM) semantics: default deny, an explicit Deny in any policy wins
// over every Allow, actions match case-insensitively, resources match case-sensitively over the
// whole ARN with `*` (any run, crossing `/`) and `?` (one character), and MQTT's `+` and `#` are
// ordinary characters in resources.
package auth
