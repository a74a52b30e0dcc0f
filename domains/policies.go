package domains

import "crypto/tls"

// SecurityPolicy is one of AWS IoT's named TLS security policies, as Go's crypto/tls can serve
// it: the TLS versions and the TLS 1.2 cipher suites. Go cannot restrict the TLS 1.3 suites (all
// three of AWS's are always on) and has no CBC-SHA256 (but ECDHE-*-AES128-SHA256), AES256-SHA256,
// ECDHE-ECDSA-AES256-SHA384 or DHE suites, so those members of AWS's lists are left out.
type SecurityPolicy struct {
	Name       string
	MinVersion uint16
	MaxVersion uint16
	// CipherSuites are the TLS 1.2 suites; nil for a TLS 1.3-only policy.
	CipherSuites []uint16
}

// DefaultSecurityPolicy is what a configuration gets when tlsConfig names none.
const DefaultSecurityPolicy = "IoTSecurityPolicy_TLS13_1_2_2022_10"

// tls12Suites is AWS's "1.2 list" restricted to what crypto/tls implements.
var tls12Suites = []uint16{
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
	tls.TLS_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_RSA_WITH_AES_128_CBC_SHA256,
	tls.TLS_RSA_WITH_AES_128_CBC_SHA,
	tls.TLS_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_RSA_WITH_AES_256_CBC_SHA,
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
}

// securityPolicies are AWS's named policies (no custom ones exist). The 2016_01 and 2015_01
// policies allow TLS 1.2 only in AWS's table; their extra or missing suites are ones Go lacks.
var securityPolicies = map[string]SecurityPolicy{
	"IoTSecurityPolicy_TLS13_1_3_2022_10": {MinVersion: tls.VersionTLS13, MaxVersion: tls.VersionTLS13},
	// The default: TLS 1.2 and 1.3 with Go's default suites, which are the listeners' settings
	// without any domain configuration (a subset of AWS's list plus ChaCha20 on TLS 1.2).
	"IoTSecurityPolicy_TLS13_1_2_2022_10": {MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS13},
	"IoTSecurityPolicy_TLS12_1_2_2022_10": {MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12, CipherSuites: tls12Suites},
	"IoTSecurityPolicy_TLS12_1_0_2016_01": {MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12, CipherSuites: tls12Suites},
	"IoTSecurityPolicy_TLS12_1_0_2015_01": {MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12, CipherSuites: tls12Suites},
}

// LookupSecurityPolicy returns the named policy.
func LookupSecurityPolicy(name string) (SecurityPolicy, bool) {
	p, ok := securityPolicies[name]
	p.Name = name
	return p, ok
}
