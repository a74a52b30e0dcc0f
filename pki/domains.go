package pki

import (
	"slices"
)

// SetDomainNames makes the server certificate cover names (the domain configurations' domain
// names) besides Options.Names and the defaults. When that changes the set of names, a new
// server certificate is issued under the same root and written over server.pem, and
// ServerCertificate returns it from then on: the next handshake serves it, connections already
// established keep theirs. The same names as now issue nothing.
func (a *Authority) SetDomainNames(names []string) error {
	a.reissue.Lock()
	defer a.reissue.Unlock()
	want, err := serverNames(append(slices.Clone(a.names), names...))
	if err != nil {
		return err
	}
	if cur := a.current.Load(); cur != nil && cur.Leaf != nil && certNames(cur.Leaf).equal(want) {
		return nil
	}
	return a.issueAndStore(want, "domain configurations changed")
}
