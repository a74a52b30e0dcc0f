package auth

import (
	"crypto/x509"
	"net/netip"
	"strings"
)

// Environment is what a connection knows at CONNECT. Compile resolves policy variables and
// evaluates Conditions from it, and checks the ARN prefix of resource patterns (partition, region,
// account) against it. Every field's zero value means "not known": the condition keys and
// variables that read it then have no value.
type Environment struct {
	Partition string // "aws" when empty
	Region    string
	Account   string

	ClientID string // iot:ClientId

	ThingName       string // "" when no thing is bound; the thing keys and variables resolve only then
	ThingTypeName   string
	ThingAttributes map[string]string
	ThingIsAttached bool

	// CertificateID is the connection's certificate (lowercase hex SHA-256 of its DER). No AWS
	// policy variable names it; it is here for logs.
	CertificateID string
	// Certificate is the client certificate the connection presented, the source of the
	// iot:Certificate.* keys and variables. nil: they have no value.
	Certificate *x509.Certificate

	// SourceIP is the client's address (aws:SourceIp). An IPv4 address carried in IPv6
	// (::ffff:a.b.c.d, as a dual-stack listener reports it) is treated as IPv4.
	SourceIP netip.Addr
	// DomainName is the name the client connected to (iot:DomainName): the TLS server name
	// (SNI), or the endpoint when the client sent none.
	DomainName string

	// PersistentConnect is true when the client asked for a persistent session (CleanSession=0 in
	// MQTT 3.1.1; Clean Start=0 in MQTT 5). iot:ConnectAttributes then holds "PersistentConnect".
	PersistentConnect bool
	// HasWill is true when the CONNECT carries a last will, whose topic is WillTopic.
	// iot:ConnectAttributes then holds "LastWill" and iot:LastWillTopic has a value.
	HasWill   bool
	WillTopic string
}

func (e *Environment) partition() string {
	if e.Partition == "" {
		return "aws"
	}
	return e.Partition
}

// tokenKind classifies the pieces of a resource pattern as written.
type tokenKind uint8

const (
	tokText     tokenKind = iota // literal text as written (may contain ':' field separators)
	tokStar                      // a `*` wildcard
	tokOne                       // a `?` wildcard
	tokVariable                  // ${name}
)

type token struct {
	kind tokenKind
	text string // tokText: the text; tokVariable: the name between "${" and "}"
}

// tokenize splits a pattern into text, wildcards and ${...} variables. A "${" with no closing
// "}" is plain text. Characters inside ${...} are never wildcards. Without vars, "${" is plain
// text too (policies of Version 2008-10-17 or none).
func tokenize(pattern string, vars bool) []token {
	var out []token
	start := 0
	text := func(end int) {
		if end > start {
			out = append(out, token{kind: tokText, text: pattern[start:end]})
		}
	}
	for i := 0; i < len(pattern); {
		switch {
		case pattern[i] == '*' || pattern[i] == '?':
			text(i)
			k := tokStar
			if pattern[i] == '?' {
				k = tokOne
			}
			out = append(out, token{kind: k})
			i++
			start = i
		case vars && pattern[i] == '$' && i+1 < len(pattern) && pattern[i+1] == '{':
			end := strings.IndexByte(pattern[i+2:], '}')
			if end < 0 {
				i++ // an unclosed "${" is text; wildcards after it still count
				continue
			}
			text(i)
			out = append(out, token{kind: tokVariable, text: pattern[i+2 : i+2+end]})
			i += 2 + end + 1
			start = i
		default:
			i++
		}
	}
	text(len(pattern))
	return out
}
