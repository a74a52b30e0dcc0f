// Package authorizers is AWS IoT Core's custom authentication: authorizer definitions (the
// control plane's CreateAuthorizer and friends, and the account's default authorizer), token
// signatures checked with the authorizer's tokenSigningPublicKeys, the authorizer function called
// through a functions.Invoker with AWS's event and its answer checked against AWS's bounds, and a
// cache of answers. It knows nothing of Mochi or HTTP serving: hooks (MQTT) and api (HTTP) adapt
// it.
package authorizers
