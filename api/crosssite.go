package api

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// This file keeps web pages from driving the API. The API answers unsigned requests (curl, the
// admin verbs, unconfigured SDKs) unless --sigv4-strict, and it answers on loopback, so any page
// a browser on the same machine shows could otherwise use it:
//
//   - a cross-site form POST to /keys-and-certificate?setAsActive=true needs no CORS preflight
//     and would create an ACTIVE certificate;
//   - with DNS rebinding (attacker.example resolving to 127.0.0.1 after the page loaded) the page
//     becomes "same-origin" with the API and can read the answers, private keys included.
//
// So a request that is not strongly authenticated must (1) name in its Host header a name the
// emulator serves, which a rebound page cannot (its Host is the attacker's name), and (2) not come
// from another origin (Origin header, or Sec-Fetch-Site cross-site/same-site), which a cross-site
// page cannot hide. Browsers always send Host and, on cross-origin POSTs, Origin; scripts and SDKs
// send the Host of the URL they were given and no Origin, so they are not affected.
//
// Strongly authenticated, and exempt: a TLS client certificate (the x-amzn-http-ca personality and
// 8443, which a page cannot present on its own) and a SigV4 signature verified with a key of
// --credentials (the signature is the proof). A signature made with an unknown key is accepted
// unverified when not --sigv4-strict, so a rebound page could forge one: it gets both checks, as
// an unsigned request does. GET /health and GET /_iotcore/root-ca.pem answer everyone: they
// reveal nothing (a health flag, a public CA certificate) and container health checks reach them
// by service name.

// hostAllow is the set of Host header values unsigned requests may carry.
type hostAllow struct {
	names map[string]bool // lowercase, without a trailing dot
	ips   map[netip.Addr]bool
	// anyIP: some listener is bound to every interface (0.0.0.0, ::, or no host), so any IP
	// literal may be the address a client reached it by. An IP literal cannot be rebound.
	anyIP bool
}

// newHostAllow builds the set from Config.Hosts: names, IP addresses, or host:port listen
// addresses. Loopback (localhost, *.localhost, 127.0.0.0/8, ::1) is always in it.
func newHostAllow(entries []string) hostAllow {
	h := hostAllow{names: map[string]bool{}, ips: map[netip.Addr]bool{}}
	for _, e := range entries {
		host := hostOnly(e)
		if host == "" {
			h.anyIP = true
			continue
		}
		if ip, err := netip.ParseAddr(host); err == nil {
			ip = ip.Unmap()
			if ip.IsUnspecified() {
				h.anyIP = true
			} else {
				h.ips[ip] = true
			}
			continue
		}
		h.names[normalizeName(host)] = true
	}
	return h
}

// allows reports whether a request's Host header names the emulator. The port does not matter:
// ports are remapped by containers and tunnels, and a rebinding page cannot choose the name.
func (h hostAllow) allows(hostHeader string) bool {
	host := hostOnly(hostHeader)
	if host == "" {
		return false
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		ip = ip.Unmap()
		return ip.IsLoopback() || h.anyIP || h.ips[ip.WithZone("")]
	}
	name := normalizeName(host)
	// localhost and *.localhost are loopback by definition (RFC 6761 §6.3); browsers resolve
	// them to loopback themselves, without DNS, so no page can rebind them.
	return name == "localhost" || strings.HasSuffix(name, ".localhost") || h.names[name]
}

// hostOnly is the host of "host", "host:port", "[v6]" or "[v6]:port" ("" for ":port").
func hostOnly(hostport string) string {
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		return host
	}
	return strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]")
}

func normalizeName(name string) string { return strings.TrimSuffix(strings.ToLower(name), ".") }

// publicRoute reports the emulator routes that answer every caller: nothing to read or change.
func publicRoute(op string) bool { return op == "Health" || op == "RootCA" }

// strongCaller reports whether who proved who it is in a way no web page can on its own.
func strongCaller(who caller) bool {
	return who.kind == callerCertificate || (who.kind == callerSigV4 && who.verified)
}

// checkBrowser refuses a request a web page could have made: one not strongly authenticated
// whose Host is not a name the emulator serves, or that comes from another origin.
func (s *server) checkBrowser(r *http.Request, who caller) error {
	if strongCaller(who) {
		return nil
	}
	if !s.hosts.allows(r.Host) && !s.domainHost(r.Host) {
		s.log.Warn("api: request refused: Host is not a name this emulator serves",
			"host", r.Host, "origin", r.Header.Get("Origin"), "method", r.Method, "path", r.URL.Path,
			"remote", r.RemoteAddr)
		name := hostOnly(r.Host)
		if name == "" {
			name = "NAME"
		}
		return &apiError{status: http.StatusForbidden, name: "ForbiddenException", message: fmt.Sprintf(
			"Host %q is not a name this emulator serves. Requests neither signed with a --credentials key pair "+
				"nor made with a client certificate are answered only for localhost, loopback addresses, the listen "+
				"addresses and the names given with --endpoint, so that a web page "+
				"cannot reach the API through DNS rebinding. If you reach the emulator by this name, start serve "+
				"with --endpoint %s, or sign the request with SigV4 using a key pair given with --credentials.",
			r.Host, name)}
	}
	if reason := crossOrigin(r); reason != "" {
		s.log.Warn("api: cross-site request refused", "reason", reason, "host", r.Host,
			"method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
		return &apiError{status: http.StatusForbidden, name: "ForbiddenException", message: fmt.Sprintf(
			"cross-site request refused: %s. Requests neither signed with a --credentials key pair nor made with a "+
				"client certificate are answered only from the API's own origin (%s), "+
				"so that a web page cannot drive it; call it from a script or an SDK (they send no Origin), or sign "+
				"the request with SigV4 using a key pair given with --credentials.",
			reason, ownOrigin(r))}
	}
	return nil
}

// crossOrigin says why r comes from another origin than the API's own, or "" if it does not.
func crossOrigin(r *http.Request) string {
	switch site := strings.ToLower(r.Header.Get("Sec-Fetch-Site")); site {
	case "cross-site", "same-site":
		return fmt.Sprintf("Sec-Fetch-Site is %s", site)
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return ""
	}
	if n := normalizeOrigin(origin); n == "" || n != ownOrigin(r) {
		return fmt.Sprintf("Origin %q is not the API's origin", origin)
	}
	return ""
}

// ownOrigin is the origin a page served by this API would send: scheme://host[:port] of the
// request, the port left out when it is the scheme's default, the host lowercase.
func ownOrigin(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return normalizeOrigin(scheme + "://" + r.Host)
}

// normalizeOrigin lowercases an origin and drops its default port; "" when it is not an origin
// (e.g. "null", sent by sandboxed frames and file: pages).
func normalizeOrigin(origin string) string {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.User != nil {
		return ""
	}
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	port := u.Port()
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	if port != "" {
		host += ":" + port
	}
	return strings.ToLower(u.Scheme) + "://" + host
}
