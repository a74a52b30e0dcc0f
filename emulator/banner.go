package emulator

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Banner is the text printed at start: every listener with what it serves, the state folder,
// which CA to trust (and whether it was made at this start), and a command that publishes as the
// demo device. Paths follow one rule (displayPath): relative to the working directory when inside
// it, else absolute. The last line is "try it" (or "CA file" without the demo device).
func (e *Emulator) Banner() string {
	var b strings.Builder
	host, port := splitAddr(e.ALPNAddr())
	fmt.Fprintf(&b, "iotcore-local is running\n")
	fmt.Fprintf(&b, "  endpoint     %s (DescribeEndpoint's answer; the server certificate names %s)\n", e.Endpoint(), strings.Join(e.pki.ServerNames(), ", "))
	fmt.Fprintf(&b, "  MQTT         %s (AWS's 8883: MQTT over mutual TLS)\n", e.MQTTAddr())
	alpn := "x-amzn-mqtt-ca: MQTT, x-amzn-http-ca: HTTPS with a client certificate, no ALPN: HTTPS with SigV4"
	if e.cfg.ALPNStrict {
		alpn = "x-amzn-mqtt-ca only: MQTT (--alpn-strict)"
	}
	fmt.Fprintf(&b, "  ALPN port    %s (AWS's 443; by ALPN offered: %s)\n", e.ALPNAddr(), alpn)
	fmt.Fprintf(&b, "  HTTPS        %s (AWS's 8443: HTTPS with a client certificate)\n", e.HTTPSAddr())
	fmt.Fprintf(&b, "  API          %s (plain HTTP; use --endpoint-url with the AWS CLI or SDKs)\n", e.APIURL())
	fmt.Fprintf(&b, "  data         %s\n", displayPath(e.cfg.DataDir))
	caNote := "reused from an earlier start"
	if e.pki.RootCACreated() {
		caNote = "new: made at this start; devices must trust this file"
	}
	fmt.Fprintf(&b, "  CA file      %s (%s)\n", displayPath(e.RootCAFile()), caNote)
	if e.cfg.Demo {
		d := e.demoDir()
		fmt.Fprintf(&b, "  try it       mosquitto_pub -h %s -p %s --tls-alpn x-amzn-mqtt-ca --cafile %s --cert %s --key %s -i %s -t %s -m hello -q 1 -d\n",
			connectHost(host), port, displayPath(e.RootCAFile()), displayPath(filepath.Join(d, "certificate.pem.crt")),
			displayPath(filepath.Join(d, "private.pem.key")), demoThing, demoTopic)
	}
	return b.String()
}

// displayPath shows a path as the banner does everywhere: relative to the working directory when
// it lies inside it, else absolute.
func displayPath(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	wd, err := os.Getwd()
	if err != nil {
		return abs
	}
	rel, err := filepath.Rel(wd, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return abs
	}
	return rel
}
