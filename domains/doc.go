// Package domains holds AWS IoT domain configurations: per server name (TLS SNI), the
// application protocol, authentication type, default custom authorizer and TLS security policy
// that replace the 443 port/ALPN table. It knows nothing of Mochi, HTTP or TLS listeners: the
// listener asks Lookup for the configuration of a ClientHello's server name, the API adapts the
// control plane, and the PKI is told (OnNames) which names the server certificate must cover.
package domains
