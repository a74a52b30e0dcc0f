package auth

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
)

// AWS IoT's limits on certificate values: arrays keep their first five items, and a value that
// is longer than 1024 characters or holds a wildcard character is never substituted.
const (
	certMaxValues = 5
	certMaxLength = 1024
	certWildcards = "*$+?#"
)

// dnAttributes are the distinguished-name attributes AWS IoT exposes under
// iot:Certificate.Subject.* and iot:Certificate.Issuer.*, with their X.520 object identifiers.
var dnAttributes = [...]struct {
	name string
	oid  asn1.ObjectIdentifier
}{
	{"CommonName", asn1.ObjectIdentifier{2, 5, 4, 3}},
	{"Country", asn1.ObjectIdentifier{2, 5, 4, 6}},
	{"Organization", asn1.ObjectIdentifier{2, 5, 4, 10}},
	{"OrganizationalUnit", asn1.ObjectIdentifier{2, 5, 4, 11}},
	{"State", asn1.ObjectIdentifier{2, 5, 4, 8}},
	{"SerialNumber", asn1.ObjectIdentifier{2, 5, 4, 5}},
	{"Title", asn1.ObjectIdentifier{2, 5, 4, 12}},
	{"Surname", asn1.ObjectIdentifier{2, 5, 4, 4}},
	{"GivenName", asn1.ObjectIdentifier{2, 5, 4, 42}},
	{"Initials", asn1.ObjectIdentifier{2, 5, 4, 43}},
	{"Pseudonym", asn1.ObjectIdentifier{2, 5, 4, 65}},
	{"GenerationQualifier", asn1.ObjectIdentifier{2, 5, 4, 44}},
	{"DistinguishedNameQualifier", asn1.ObjectIdentifier{2, 5, 4, 46}},
}

// altNameTypes are the GeneralName forms AWS IoT exposes under
// iot:Certificate.Subject.AlternativeName.* (the Subject Alternative Name extension) and
// iot:Certificate.Issuer.AlternativeName.* (the Issuer Alternative Name extension), with their
// context-specific tags (RFC 5280 §4.2.1.6).
var altNameTypes = [...]struct {
	name string
	tag  int
}{
	{"RFC822Name", 1},
	{"DNSName", 2},
	{"DirectoryName", 4},
	{"UniformResourceIdentifier", 6},
	{"IPAddress", 7},
}

var (
	oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidIssuerAltName  = asn1.ObjectIdentifier{2, 5, 29, 18}
)

// dnTypeNames are the attribute type names used when rendering a DirectoryName, lowercase as
// AWS IoT prints them ("cn=LightBulbCert,ou=SmartHome,o=IoT,c=US"). Other types print as their
// dotted object identifier.
var dnTypeNames = map[string]string{
	"2.5.4.3":                    "cn",
	"2.5.4.4":                    "sn",
	"2.5.4.5":                    "serialnumber",
	"2.5.4.6":                    "c",
	"2.5.4.7":                    "l",
	"2.5.4.8":                    "st",
	"2.5.4.9":                    "street",
	"2.5.4.10":                   "o",
	"2.5.4.11":                   "ou",
	"2.5.4.12":                   "title",
	"2.5.4.17":                   "postalcode",
	"2.5.4.42":                   "givenname",
	"2.5.4.43":                   "initials",
	"2.5.4.44":                   "generationqualifier",
	"2.5.4.46":                   "dnqualifier",
	"2.5.4.65":                   "pseudonym",
	"0.9.2342.19200300.100.1.1":  "uid",
	"0.9.2342.19200300.100.1.25": "dc",
	"1.2.840.113549.1.9.1":       "emailaddress",
}

const (
	sideSubject = 0
	sideIssuer  = 1
)

var sideNames = [2]string{"Subject", "Issuer"}

// certRef is a parsed iot:Certificate.* key name.
type certRef struct {
	serial, availableKeys bool
	side                  int  // sideSubject or sideIssuer
	alt                   bool // an AlternativeName type rather than a DN attribute
	attr                  int  // index in dnAttributes or altNameTypes
	index                 int  // which value; -1 for .List
}

// parseCertKey parses the part of a certificate key after "iot:Certificate.": SerialNumber,
// AvailableKeys, or (Subject|Issuer).[AlternativeName.]<attribute>[.N|.List]. Names compare
// case-insensitively, as all condition keys do.
func parseCertKey(rest string) (certRef, bool) {
	ref := certRef{}
	seg, rest := cutDot(rest)
	if rest == "" {
		switch {
		case strings.EqualFold(seg, "SerialNumber"):
			ref.serial = true
			return ref, true
		case strings.EqualFold(seg, "AvailableKeys"):
			ref.availableKeys = true
			return ref, true
		}
		return ref, false
	}
	switch {
	case strings.EqualFold(seg, sideNames[sideSubject]):
		ref.side = sideSubject
	case strings.EqualFold(seg, sideNames[sideIssuer]):
		ref.side = sideIssuer
	default:
		return ref, false
	}
	seg, rest = cutDot(rest)
	found := false
	if strings.EqualFold(seg, "AlternativeName") {
		ref.alt = true
		seg, rest = cutDot(rest)
		for i := range altNameTypes {
			if strings.EqualFold(seg, altNameTypes[i].name) {
				ref.attr, found = i, true
			}
		}
	} else {
		for i := range dnAttributes {
			if strings.EqualFold(seg, dnAttributes[i].name) {
				ref.attr, found = i, true
			}
		}
	}
	if !found {
		return ref, false
	}
	switch {
	case rest == "":
		ref.index = 0
	case strings.EqualFold(rest, "List"):
		ref.index = -1
	case isDigits(rest):
		n, err := strconv.Atoi(rest)
		if err != nil {
			n = math.MaxInt // too many digits: certainly out of range
		}
		ref.index = n
	default:
		return ref, false
	}
	return ref, true
}

func cutDot(s string) (before, after string) {
	before, after, _ = strings.Cut(s, ".")
	return before, after
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// certAttrs is what a certificate offers to policies, read once per connection (by one
// goroutine: it is not safe for concurrent use). Values are kept as found, all of them and
// unescaped; lookup applies AWS's limits.
type certAttrs struct {
	cert    *x509.Certificate
	dn      [2][len(dnAttributes)][]string
	alt     [2][len(altNameTypes)][]string // once altDone
	altDone bool
	serial  string

	available     []string // iot:Certificate.AvailableKeys, once availableDone
	availableDone bool
}

// parseCertAttrs reads the subject and issuer attributes in the order the certificate lists
// them (so "the first value" is the first in the DER encoding) and the serial number in
// decimal, as AWS IoT renders it. The alternative names are read when first asked for.
func parseCertAttrs(c *x509.Certificate) *certAttrs {
	a := &certAttrs{}
	for side, name := range [2]*pkix.Name{&c.Subject, &c.Issuer} {
		for _, atv := range name.Names {
			s, ok := atv.Value.(string)
			if !ok {
				continue
			}
			for i := range dnAttributes {
				if atv.Type.Equal(dnAttributes[i].oid) {
					a.dn[side][i] = append(a.dn[side][i], s)
				}
			}
		}
	}
	a.cert = c
	if c.SerialNumber != nil {
		a.serial = c.SerialNumber.String()
	}
	return a
}

// availableKeys returns iot:Certificate.AvailableKeys, computing it on first use (few policies
// ask for it).
func (a *certAttrs) availableKeys() []string {
	if a.availableDone {
		return a.available
	}
	a.availableDone = true
	for side := range sideNames {
		for i := range dnAttributes {
			ref := certRef{side: side, attr: i}
			if _, m := a.single(ref); m == present {
				a.available = append(a.available, keyCertPrefix+sideNames[side]+"."+dnAttributes[i].name)
			}
		}
		for i := range altNameTypes {
			ref := certRef{side: side, alt: true, attr: i}
			if _, m := a.single(ref); m == present {
				a.available = append(a.available, keyCertPrefix+sideNames[side]+".AlternativeName."+altNameTypes[i].name)
			}
		}
	}
	if a.serial != "" {
		a.available = append(a.available, keyCertPrefix+"SerialNumber")
	}
	return a.available
}

// parseGeneralNames decodes a GeneralNames sequence (RFC 5280) into the five types AWS IoT
// exposes, each in the order the extension lists them. Other types are skipped; a malformed
// extension yields what could be read (crypto/x509 has already refused a malformed SAN).
func parseGeneralNames(der []byte) [len(altNameTypes)][]string {
	var out [len(altNameTypes)][]string
	var seq asn1.RawValue
	if _, err := asn1.Unmarshal(der, &seq); err != nil || seq.Class != asn1.ClassUniversal || seq.Tag != asn1.TagSequence {
		return out
	}
	rest := seq.Bytes
	for len(rest) > 0 {
		var gn asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &gn); err != nil {
			return out
		}
		if gn.Class != asn1.ClassContextSpecific {
			continue
		}
		for i := range altNameTypes {
			if altNameTypes[i].tag != gn.Tag {
				continue
			}
			var v string
			switch gn.Tag {
			case 4: // directoryName: an explicitly tagged Name
				var rdns pkix.RDNSequence
				if _, err := asn1.Unmarshal(gn.Bytes, &rdns); err != nil {
					continue
				}
				v = formatDirectoryName(rdns)
			case 7: // iPAddress: 4 or 16 octets
				addr, ok := netip.AddrFromSlice(gn.Bytes)
				if !ok {
					continue
				}
				v = addr.String()
			default: // rfc822Name, dNSName, uniformResourceIdentifier: IA5String
				v = string(gn.Bytes)
			}
			out[i] = append(out[i], v)
		}
	}
	return out
}

// formatDirectoryName renders a Name the way AWS IoT's documentation shows a DirectoryName: in
// RFC 4514 order (last RDN first), comma-separated, with lowercase attribute types and escaped
// values, e.g. "cn=LightBulbCert,ou=SmartHome,o=IoT,c=US".
func formatDirectoryName(rdns pkix.RDNSequence) string {
	var b strings.Builder
	for i := len(rdns) - 1; i >= 0; i-- {
		if i != len(rdns)-1 {
			b.WriteByte(',')
		}
		for j, atv := range rdns[i] {
			if j > 0 {
				b.WriteByte('+')
			}
			t, ok := dnTypeNames[atv.Type.String()]
			if !ok {
				t = atv.Type.String()
			}
			b.WriteString(t)
			b.WriteByte('=')
			if s, ok := atv.Value.(string); ok {
				b.WriteString(escapeDNValue(s))
			} else {
				b.WriteString(escapeDNValue(fmt.Sprint(atv.Value)))
			}
		}
	}
	return b.String()
}

// escapeDNValue prefixes the characters AWS IoT escapes in certificate values (, " \ + = < > ;)
// with a backslash. It returns s itself when nothing needs escaping.
func escapeDNValue(s string) string {
	if !strings.ContainsAny(s, `,"\+=<>;`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(`,"\+=<>;`, s[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// parseAltNames reads both alternative-name extensions on first use: decoding them is most of
// the cost of reading a certificate, and few policies use them.
func (a *certAttrs) parseAltNames() {
	if a.altDone {
		return
	}
	a.altDone = true
	for _, ext := range a.cert.Extensions {
		switch {
		case ext.Id.Equal(oidSubjectAltName):
			a.alt[sideSubject] = parseGeneralNames(ext.Value)
		case ext.Id.Equal(oidIssuerAltName):
			a.alt[sideIssuer] = parseGeneralNames(ext.Value)
		}
	}
}

// values returns every value of the attribute ref names, as read (the five-item cap is applied
// by lookup).
func (a *certAttrs) values(ref certRef) []string {
	if ref.alt {
		a.parseAltNames()
		return a.alt[ref.side][ref.attr]
	}
	return a.dn[ref.side][ref.attr]
}

// capped returns the values AWS IoT considers: the first five.
func (a *certAttrs) capped(ref certRef) []string {
	v := a.values(ref)
	return v[:min(len(v), certMaxValues)]
}

// lookup resolves the certificate key whose name follows "iot:Certificate.".
func (a *certAttrs) lookup(rest string) (keyValue, miss) {
	ref, ok := parseCertKey(rest)
	switch {
	case !ok:
		return keyValue{}, missCertSyntax
	case ref.serial:
		if a.serial == "" {
			return keyValue{}, missCertNoValue
		}
		return keyValue{one: a.serial}, present
	case ref.availableKeys:
		keys := a.availableKeys()
		if len(keys) == 0 {
			return keyValue{}, missCertNoValue
		}
		return keyValue{list: keys, multi: true}, present
	case ref.index < 0:
		return a.list(ref)
	}
	v, m := a.single(ref)
	return keyValue{one: v}, m
}

// single resolves one value of an attribute (the plain name or .N).
func (a *certAttrs) single(ref certRef) (string, miss) {
	vals := a.capped(ref)
	switch {
	case len(vals) == 0:
		return "", missCertNoValue
	case ref.index >= len(vals):
		return "", missCertIndex
	}
	return a.usable(vals[ref.index], ref)
}

// list resolves .List: the values among the first five that resolve on their own, in order.
// With none, the key is missing, for the reason its first value has none.
func (a *certAttrs) list(ref certRef) (keyValue, miss) {
	vals := a.capped(ref)
	if len(vals) == 0 {
		return keyValue{}, missCertNoValue
	}
	out := make([]string, 0, len(vals))
	first := present
	for _, v := range vals {
		r, m := a.usable(v, ref)
		if m != present {
			if first == present {
				first = m
			}
			continue
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return keyValue{}, first
	}
	return keyValue{list: out, multi: true}, present
}

// usable applies AWS IoT's rules to one value: longer than 1024 characters, or holding one of
// * $ + ? #, it has no value; a distinguished-name attribute value is escaped.
func (a *certAttrs) usable(v string, ref certRef) (string, miss) {
	switch {
	case runeCount(v) > certMaxLength:
		return "", missCertTooLong
	case strings.ContainsAny(v, certWildcards):
		return "", missCertWildcard
	case !ref.alt:
		return escapeDNValue(v), present
	}
	return v, present
}
