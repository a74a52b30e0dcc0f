package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// certSpec describes a test certificate. Subject and issuer are pkix.Names; list attributes in
// ExtraNames to control their order and repeat them (each becomes its own RDN).
type certSpec struct {
	subject pkix.Name
	issuer  pkix.Name // the CA's subject; CN "Test CA" when empty
	serial  *big.Int  // 1 when nil
	san     []generalName
	ian     []generalName
}

// generalName is one entry of an alternative-name extension: tag 1 (rfc822Name), 2 (dNSName),
// 4 (directoryName, from dn), 6 (URI) or 7 (iPAddress, from ip).
type generalName struct {
	tag   int
	value string
	dn    pkix.RDNSequence
	ip    netip.Addr
}

var (
	testKeyOnce sync.Once
	testKey     *ecdsa.PrivateKey
)

// testSigner is one key shared by every test certificate: key generation is the slow part, and
// nothing here depends on distinct keys.
func testSigner(t testing.TB) *ecdsa.PrivateKey {
	testKeyOnce.Do(func() {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		testKey = k
	})
	return testKey
}

// newTestCert makes a CA with spec.issuer as subject and a leaf signed by it, and returns the
// leaf as crypto/x509 parses it, as a connection would see it.
func newTestCert(t testing.TB, spec certSpec) *x509.Certificate {
	t.Helper()
	key := testSigner(t)
	issuer := spec.issuer
	if len(issuer.Names) == 0 && len(issuer.ExtraNames) == 0 && issuer.CommonName == "" {
		issuer = pkix.Name{CommonName: "Test CA"}
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(99), Subject: issuer, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	serial := spec.serial
	if serial == nil {
		serial = big.NewInt(1)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: spec.subject, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if spec.san != nil {
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: oidSubjectAltName, Value: marshalGeneralNames(t, spec.san)})
	}
	if spec.ian != nil {
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: oidIssuerAltName, Value: marshalGeneralNames(t, spec.ian)})
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func marshalGeneralNames(t testing.TB, names []generalName) []byte {
	t.Helper()
	raws := make([]asn1.RawValue, 0, len(names))
	for _, n := range names {
		rv := asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: n.tag}
		switch n.tag {
		case 4:
			der, err := asn1.Marshal(n.dn)
			if err != nil {
				t.Fatal(err)
			}
			rv.IsCompound, rv.Bytes = true, der
		case 7:
			rv.Bytes = n.ip.AsSlice()
		default:
			rv.Bytes = []byte(n.value)
		}
		raws = append(raws, rv)
	}
	der, err := asn1.Marshal(raws)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// X.520 attribute types for building names.
var (
	oidCN       = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidSurname  = asn1.ObjectIdentifier{2, 5, 4, 4}
	oidSerial   = asn1.ObjectIdentifier{2, 5, 4, 5}
	oidC        = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidST       = asn1.ObjectIdentifier{2, 5, 4, 8}
	oidO        = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidOU       = asn1.ObjectIdentifier{2, 5, 4, 11}
	oidTitle    = asn1.ObjectIdentifier{2, 5, 4, 12}
	oidGN       = asn1.ObjectIdentifier{2, 5, 4, 42}
	oidInitials = asn1.ObjectIdentifier{2, 5, 4, 43}
	oidGenQ     = asn1.ObjectIdentifier{2, 5, 4, 44}
	oidDNQ      = asn1.ObjectIdentifier{2, 5, 4, 46}
	oidPseudo   = asn1.ObjectIdentifier{2, 5, 4, 65}
	oidLocality = asn1.ObjectIdentifier{2, 5, 4, 7}
)

// names builds a pkix.Name whose attributes appear in the given order, one RDN each:
// names(oidCN, "a", oidOU, "b", oidOU, "c").
func names(pairs ...any) pkix.Name {
	var n pkix.Name
	for i := 0; i+1 < len(pairs); i += 2 {
		n.ExtraNames = append(n.ExtraNames, pkix.AttributeTypeAndValue{Type: pairs[i].(asn1.ObjectIdentifier), Value: pairs[i+1]})
	}
	return n
}

func rdns(pairs ...any) pkix.RDNSequence {
	var seq pkix.RDNSequence
	for i := 0; i+1 < len(pairs); i += 2 {
		seq = append(seq, pkix.RelativeDistinguishedNameSET{{Type: pairs[i].(asn1.ObjectIdentifier), Value: pairs[i+1]}})
	}
	return seq
}

// longValue is longer than AWS IoT's 1024-character limit.
var longValue = strings.Repeat("x", certMaxLength+1)

// richCert is the certificate of AWS's "Using X.509 certificate policy variables" page, extended
// with repeated and unusable values: six OUs (one with a wildcard, one too long, one beyond the
// five-item cap), two Organizations, two DNS names and two IP addresses.
func richCert(t testing.TB) *x509.Certificate {
	serial, _ := new(big.Int).SetString("921285cbb7a5e086", 16)
	return newTestCert(t, certSpec{
		serial: serial,
		subject: names(
			oidC, "US", oidO, "Example Corp", oidO, "AnyCompany",
			oidOU, "LightBulb", oidOU, "Line*1", oidOU, "Line-2", oidOU, longValue, oidOU, "Line-4", oidOU, "Line-5",
			oidST, "NY", oidCN, "dev1", oidGN, "Bulb", oidInitials, "ZZ", oidDNQ, "Bulb001", oidSurname, "Multi Color",
			oidTitle, "RGB", oidPseudo, "RGB=Device", oidGenQ, "4", oidSerial, "123", oidLocality, "Seattle",
		),
		issuer: names(oidC, "US", oidO, "IoT Devices", oidOU, "SmartHome", oidST, "WA", oidCN, "IoT Devices Primary CA"),
		san: []generalName{
			{tag: 2, value: "example.com"},
			{tag: 7, ip: netip.MustParseAddr("1.2.3.4")},
			{tag: 6, value: "ResourceIdentifier001"},
			{tag: 1, value: "device1@example.com"},
			{tag: 4, dn: rdns(oidC, "US", oidO, "IoT", oidOU, "SmartHome", oidCN, "LightBulbCert")},
			{tag: 2, value: "dev1.example.com"},
			{tag: 7, ip: netip.MustParseAddr("2001:db8::1")},
		},
		ian: []generalName{
			{tag: 2, value: "issuer.com"},
			{tag: 7, ip: netip.MustParseAddr("5.6.7.8")},
			{tag: 6, value: "PrimarySignerCA"},
			{tag: 1, value: "primary@issuer.com"},
			{tag: 4, dn: rdns(oidC, "US", oidO, "Issuer", oidOU, "IoT Devices", oidCN, "Primary Issuer CA")},
		},
	})
}

func TestCertificateVariables(t *testing.T) {
	env := testEnv()
	env.Certificate = richCert(t)
	sc := newScope(&env)
	const p = "iot:Certificate."
	tests := []struct {
		name string
		want string // "" when the variable has no value
		miss miss
	}{
		// Subject attributes, plain name = first value.
		{p + "Subject.CommonName", "dev1", present},
		{"IOT:certificate.subject.commonname", "dev1", present}, // names are case-insensitive
		{p + "Subject.Country", "US", present},
		{p + "Subject.Organization", "Example Corp", present},
		{p + "Subject.OrganizationalUnit", "LightBulb", present},
		{p + "Subject.State", "NY", present},
		{p + "Subject.SerialNumber", "123", present},
		{p + "Subject.Title", "RGB", present},
		{p + "Subject.Surname", "Multi Color", present},
		{p + "Subject.GivenName", "Bulb", present},
		{p + "Subject.Initials", "ZZ", present},
		{p + "Subject.Pseudonym", `RGB\=Device`, present}, // special characters are escaped
		{p + "Subject.GenerationQualifier", "4", present},
		{p + "Subject.DistinguishedNameQualifier", "Bulb001", present},
		{p + "Subject.Locality", "", missCertSyntax}, // not an attribute AWS IoT exposes
		// .N is zero-based; values are capped at five; unusable values stay literal.
		{p + "Subject.Organization.0", "Example Corp", present},
		{p + "Subject.Organization.1", "AnyCompany", present},
		{p + "Subject.Organization.2", "", missCertIndex},
		{p + "Subject.OrganizationalUnit.1", "", missCertWildcard},
		{p + "Subject.OrganizationalUnit.2", "Line-2", present},
		{p + "Subject.OrganizationalUnit.3", "", missCertTooLong},
		{p + "Subject.OrganizationalUnit.4", "Line-4", present},
		{p + "Subject.OrganizationalUnit.5", "", missCertIndex}, // the sixth value is ignored
		{p + "Subject.OrganizationalUnit.99999999999999999999", "", missCertIndex},
		{p + "Subject.CommonName.x", "", missCertSyntax},
		{p + "Subject.Organization.List", "", present}, // multi-valued: never substituted
		// Issuer attributes.
		{p + "Issuer.CommonName", "IoT Devices Primary CA", present},
		{p + "Issuer.Organization", "IoT Devices", present},
		{p + "Issuer.OrganizationalUnit", "SmartHome", present},
		{p + "Issuer.State", "WA", present},
		{p + "Issuer.Country", "US", present},
		{p + "Issuer.Title", "", missCertNoValue},
		// Alternative names.
		{p + "Subject.AlternativeName.DNSName", "example.com", present},
		{p + "Subject.AlternativeName.DNSName.1", "dev1.example.com", present},
		{p + "Subject.AlternativeName.IPAddress", "1.2.3.4", present},
		{p + "Subject.AlternativeName.IPAddress.1", "2001:db8::1", present},
		{p + "Subject.AlternativeName.UniformResourceIdentifier", "ResourceIdentifier001", present},
		{p + "Subject.AlternativeName.RFC822Name", "device1@example.com", present},
		{p + "Subject.AlternativeName.DirectoryName", "cn=LightBulbCert,ou=SmartHome,o=IoT,c=US", present},
		{p + "Issuer.AlternativeName.DNSName", "issuer.com", present},
		{p + "Issuer.AlternativeName.IPAddress", "5.6.7.8", present},
		{p + "Issuer.AlternativeName.UniformResourceIdentifier", "PrimarySignerCA", present},
		{p + "Issuer.AlternativeName.RFC822Name", "primary@issuer.com", present},
		{p + "Issuer.AlternativeName.DirectoryName", "cn=Primary Issuer CA,ou=IoT Devices,o=Issuer,c=US", present},
		{p + "Issuer.AlternativeName.DNSName.1", "", missCertIndex},
		{p + "Subject.AlternativeName.OtherName", "", missCertSyntax},
		// Other attributes.
		{p + "SerialNumber", "10525622389124227206", present}, // decimal, as AWS IoT renders it
		{p + "AvailableKeys", "", present},                    // multi-valued
		{p + "Fingerprint", "", missCertSyntax},
		{p + "Subject", "", missCertSyntax},
	}
	for _, tt := range tests {
		got, ok := sc.variable(tt.name)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("variable(%s) = %q, %v; want %q", tt.name, got, ok, tt.want)
		}
		if _, m := sc.lookup(tt.name); m != tt.miss {
			t.Errorf("lookup(%s) miss = %d, want %d", tt.name, m, tt.miss)
		}
		if !ok && sc.whyUnresolved(tt.name) == "" {
			t.Errorf("whyUnresolved(%s) is empty", tt.name)
		}
	}

	lists := []struct {
		name string
		want []string
	}{
		{p + "Subject.Organization.List", []string{"Example Corp", "AnyCompany"}},
		{p + "subject.organizationalunit.list", []string{"LightBulb", "Line-2", "Line-4"}}, // usable values among the first five
		{p + "Subject.AlternativeName.DNSName.List", []string{"example.com", "dev1.example.com"}},
		{p + "Subject.AlternativeName.IPAddress.List", []string{"1.2.3.4", "2001:db8::1"}},
		{p + "AvailableKeys", []string{
			p + "Subject.CommonName", p + "Subject.Country", p + "Subject.Organization", p + "Subject.OrganizationalUnit",
			p + "Subject.State", p + "Subject.SerialNumber", p + "Subject.Title", p + "Subject.Surname", p + "Subject.GivenName",
			p + "Subject.Initials", p + "Subject.Pseudonym", p + "Subject.GenerationQualifier", p + "Subject.DistinguishedNameQualifier",
			p + "Subject.AlternativeName.RFC822Name", p + "Subject.AlternativeName.DNSName", p + "Subject.AlternativeName.DirectoryName",
			p + "Subject.AlternativeName.UniformResourceIdentifier", p + "Subject.AlternativeName.IPAddress",
			p + "Issuer.CommonName", p + "Issuer.Country", p + "Issuer.Organization", p + "Issuer.OrganizationalUnit", p + "Issuer.State",
			p + "Issuer.AlternativeName.RFC822Name", p + "Issuer.AlternativeName.DNSName", p + "Issuer.AlternativeName.DirectoryName",
			p + "Issuer.AlternativeName.UniformResourceIdentifier", p + "Issuer.AlternativeName.IPAddress",
			p + "SerialNumber",
		}},
	}
	for _, tt := range lists {
		v, m := sc.lookup(tt.name)
		if m != present || !v.multi || strings.Join(v.list, "|") != strings.Join(tt.want, "|") {
			t.Errorf("lookup(%s) = %v (miss %d), want %q", tt.name, v.list, m, tt.want)
		}
	}
}

func TestCertificateVariablesEdgeCases(t *testing.T) {
	tests := []struct {
		name string
		spec certSpec
		key  string
		want string
		miss miss
	}{
		{"no subject attributes", certSpec{}, "iot:Certificate.Subject.CommonName", "", missCertNoValue},
		{"exactly 1024 characters", certSpec{subject: names(oidCN, strings.Repeat("y", certMaxLength))}, "iot:Certificate.Subject.CommonName", strings.Repeat("y", certMaxLength), present},
		{"1024 characters of multi-byte text", certSpec{subject: names(oidCN, strings.Repeat("é", certMaxLength))}, "iot:Certificate.Subject.CommonName", strings.Repeat("é", certMaxLength), present},
		{"every wildcard character", certSpec{subject: names(oidCN, "a$b")}, "iot:Certificate.Subject.CommonName", "", missCertWildcard},
		{"plus", certSpec{subject: names(oidCN, "a+b")}, "iot:Certificate.Subject.CommonName", "", missCertWildcard},
		{"hash", certSpec{subject: names(oidCN, "a#b")}, "iot:Certificate.Subject.CommonName", "", missCertWildcard},
		{"question mark", certSpec{subject: names(oidCN, "a?b")}, "iot:Certificate.Subject.CommonName", "", missCertWildcard},
		{"comma and quote escaped", certSpec{subject: names(oidO, `Amazon.com, Inc. "AWS"; <x>`)}, "iot:Certificate.Subject.Organization", `Amazon.com\, Inc. \"AWS\"\; \<x\>`, present},
		{"list of unusable values only", certSpec{subject: names(oidOU, "a*", oidOU, "b?")}, "iot:Certificate.Subject.OrganizationalUnit.List", "", missCertWildcard},
		{"multi-valued RDN in a directory name", certSpec{san: []generalName{{tag: 4, dn: pkix.RDNSequence{{{Type: oidCN, Value: "a"}, {Type: oidOU, Value: "b"}}}}}},
			"iot:Certificate.Subject.AlternativeName.DirectoryName", "", missCertWildcard},
		{"escaped directory name", certSpec{san: []generalName{{tag: 4, dn: rdns(oidO, "A, B", oidLocality, "Seattle")}}},
			"iot:Certificate.Subject.AlternativeName.DirectoryName", `l=Seattle,o=A\, B`, present},
		{"serial number", certSpec{serial: big.NewInt(4096)}, "iot:Certificate.SerialNumber", "4096", present},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := testEnv()
			env.Certificate = newTestCert(t, tt.spec)
			sc := newScope(&env)
			v, m := sc.lookup(tt.key)
			if m != tt.miss || v.one != tt.want {
				t.Errorf("lookup(%s) = %q miss %d, want %q miss %d", tt.key, v.one, m, tt.want, tt.miss)
			}
		})
	}

	env := testEnv()
	sc := newScope(&env)
	if _, m := sc.lookup("iot:Certificate.Subject.CommonName"); m != missNoCertificate {
		t.Errorf("without a certificate: miss %d", m)
	}
	if got := sc.whyUnresolved("iot:Certificate.Subject.CommonName"); got != "the connection has no client certificate" {
		t.Errorf("whyUnresolved = %q", got)
	}
}

// TestCertificateVariablesInPolicies uses certificate variables in resources and conditions,
// end to end through ParseDocument, Compile and Decide.
func TestCertificateVariablesInPolicies(t *testing.T) {
	env := testEnv()
	env.Certificate = richCert(t)
	doc := mustParse(t, doc(
		allow(`"iot:Connect"`, `"`+arnPrefix+`client/${iot:Certificate.Subject.CommonName}"`),
		allow(`"iot:Publish"`, `["`+arnPrefix+`topic/ou/${iot:Certificate.Subject.OrganizationalUnit.2}/*",`+
			`"`+arnPrefix+`topic/wild/${iot:Certificate.Subject.OrganizationalUnit.1}",`+
			`"`+arnPrefix+`topic/list/${iot:Certificate.Subject.Organization.List}",`+
			`"`+arnPrefix+`topic/serial/${iot:Certificate.SerialNumber}",`+
			`"`+arnPrefix+`topic/dns/${iot:Certificate.Subject.AlternativeName.DNSName.1}"]`),
	))
	c := Compile([]NamedDocument{{Name: "p", Document: doc}}, env)
	for _, ck := range []check{
		{ActionConnect, "client", "dev1", true, "p", 0},
		{ActionConnect, "client", "dev2", false, "", -1},
		{ActionPublish, "topic", "ou/Line-2/x", true, "p", 1},
		{ActionPublish, "topic", "wild/Line*1", false, "", -1},
		{ActionPublish, "topic", "wild/${iot:Certificate.Subject.OrganizationalUnit.1}", true, "p", 1}, // stays literal
		{ActionPublish, "topic", "list/Example Corp", false, "", -1},
		{ActionPublish, "topic", "list/${iot:Certificate.Subject.Organization.List}", true, "p", 1},
		{ActionPublish, "topic", "serial/10525622389124227206", true, "p", 1},
		{ActionPublish, "topic", "dns/dev1.example.com", true, "p", 1},
	} {
		want := Decision{Allowed: ck.allowed, Policy: ck.policy, Statement: ck.statement}
		if got := c.Decide(ck.action, ck.typ, ck.name); got != want {
			t.Errorf("Decide(%s, %s/%s) = %+v, want %+v", ck.action, ck.typ, ck.name, got, want)
		}
	}
	ex := c.Explain(ActionPublish, "topic", "list/Example Corp").Reason
	if !strings.Contains(ex, "${iot:Certificate.Subject.Organization.List} has no value: it is multi-valued") {
		t.Errorf("Explain = %s", ex)
	}
}
