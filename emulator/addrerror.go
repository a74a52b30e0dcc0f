package emulator

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// defaultPorts are the ports of the address flags, for examples in messages.
var defaultPorts = map[string]string{"mqtt-addr": "8883", "alpn-addr": "443", "https-addr": "8443", "api-addr": "4580"}

// addrError explains a listen address that is not host:port, suggesting the loopback form when
// only a port (or only a host) was given: "--mqtt-addr 8883" means "127.0.0.1:8883".
func addrError(field, addr string, err error) error {
	if _, perr := strconv.ParseUint(strings.TrimPrefix(addr, ":"), 10, 16); perr == nil && !strings.HasPrefix(addr, ":") {
		return fmt.Errorf("%s: %q is a port without a host; did you mean --%s 127.0.0.1:%s (loopback only) or --%s 0.0.0.0:%s (every interface)?",
			field, addr, field, addr, field, addr)
	}
	if net.ParseIP(strings.Trim(addr, "[]")) != nil || (addr != "" && !strings.Contains(addr, ":")) {
		return fmt.Errorf("%s: %q has no port; give host:port, such as --%s %s", field, addr, field, net.JoinHostPort(strings.Trim(addr, "[]"), defaultPorts[field]))
	}
	return fmt.Errorf("%s: %q is not host:port (such as 127.0.0.1:8883): %w", field, addr, err)
}
