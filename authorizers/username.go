package authorizers

import (
	"net/url"
	"strings"
)

// Query keys of custom authentication (matched case-insensitively: the v1 JavaScript SDK sends
// X-Amz-CustomAuthorizer-Name).
const (
	KeyAuthorizerName = "x-amz-customauthorizer-name"
	KeySignature      = "x-amz-customauthorizer-signature"
)

// Params are the custom-authentication parameters of a username's query or an HTTP request.
type Params struct {
	AuthorizerName string
	Signature      string
	values         map[string]string // every other key as sent, first value wins
}

// Token returns the value of the authorizer's token key.
func (p Params) Token(key string) (string, bool) {
	v, ok := p.values[key]
	return v, ok
}

// ParseUsername splits an MQTT username at its first "?" and parses the rest as custom
// authentication parameters, as AWS does: pairs split on "&", each at its first "=", values
// percent-decoded with path semantics ("+" stays "+": raw base64 signatures survive), the
// authorizer name and signature keys matched case-insensitively, unknown keys (SDK=, Version=)
// kept for the token lookup and otherwise ignored. A second "?" ends up inside a value, where it
// makes the signature or token fail, as on AWS.
func ParseUsername(username string) (user string, p Params) {
	user, query, _ := strings.Cut(username, "?")
	return user, ParseQuery(query)
}

// ParseQuery parses a query string (without its "?") as custom authentication parameters.
func ParseQuery(query string) Params {
	p := Params{values: map[string]string{}}
	for pair := range strings.SplitSeq(query, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		if dk, err := url.PathUnescape(k); err == nil {
			k = dk
		}
		if dv, err := url.PathUnescape(v); err == nil {
			v = dv
		}
		switch strings.ToLower(k) {
		case KeyAuthorizerName:
			if p.AuthorizerName == "" {
				p.AuthorizerName = v
			}
		case KeySignature:
			if p.Signature == "" {
				p.Signature = v
			}
		default:
			if _, seen := p.values[k]; !seen {
				p.values[k] = v
			}
		}
	}
	return p
}

// Has reports whether the parameters name an authorizer or carry a signature.
func (p Params) Has() bool { return p.AuthorizerName != "" || p.Signature != "" }
