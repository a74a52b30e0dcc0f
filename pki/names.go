package pki

import (
	"crypto/x509"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
)

// defaultNames are always in the server certificate, so local clients work without configuration.
var defaultNames = []string{"localhost", "127.0.0.1", "::1"}

// nameSet is the server certificate's subject alternative names, normalised: DNS names lowercase
// without a trailing dot, IP addresses in their canonical text form.
type nameSet map[string]bool

// serverNames validates the extra names and returns the full wanted set.
func serverNames(extra []string) (nameSet, error) {
	set := nameSet{}
	for _, raw := range append(slices.Clone(defaultNames), extra...) {
		n, err := normalizeName(raw)
		if err != nil {
			return nil, err
		}
		set[n] = true
	}
	return set, nil
}

// normalizeName turns a DNS name or IP literal (optionally in brackets) into its set key.
func normalizeName(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		s = s[1 : len(s)-1]
	}
	if ip := net.ParseIP(s); ip != nil {
		return ip.String(), nil
	}
	s = strings.TrimSuffix(strings.ToLower(s), ".")
	if !validDNSName(s) {
		return "", fmt.Errorf("pki: server name %q is neither a DNS name nor an IP address", raw)
	}
	return s, nil
}

// validDNSName accepts host names of letters, digits, '-' and '_' in labels of 1-63 characters,
// at most 253 in all, with an optional leading "*." wildcard label.
func validDNSName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	labels := strings.Split(s, ".")
	for i, l := range labels {
		if l == "*" && i == 0 && len(labels) > 1 {
			continue
		}
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// certNames returns the normalised names a certificate holds.
func certNames(c *x509.Certificate) nameSet {
	set := nameSet{}
	for _, d := range c.DNSNames {
		set[strings.TrimSuffix(strings.ToLower(d), ".")] = true
	}
	for _, ip := range c.IPAddresses {
		set[ip.String()] = true
	}
	return set
}

// split returns the DNS names and IP addresses of the set, sorted for a stable certificate.
func (s nameSet) split() (dns []string, ips []net.IP) {
	for _, n := range slices.Sorted(maps.Keys(s)) {
		if ip := net.ParseIP(n); ip != nil {
			ips = append(ips, ip)
		} else {
			dns = append(dns, n)
		}
	}
	return dns, ips
}

// sorted lists the names for logs.
func (s nameSet) sorted() []string { return slices.Sorted(maps.Keys(s)) }

func (s nameSet) equal(o nameSet) bool { return maps.Equal(s, o) }

// ServerNames lists the names the server certificate holds (DNS names and IP addresses), sorted:
// the names a client may verify it against.
func (a *Authority) ServerNames() []string {
	server := a.current.Load()
	if server == nil || server.Leaf == nil {
		return nil
	}
	return certNames(server.Leaf).sorted()
}
