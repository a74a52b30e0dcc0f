#!/usr/bin/env bash
# Capture and decode the TLS handshakes of docs/handshake.md: starts an emulator on loopback
# ports in a temporary folder, captures loopback traffic with tshark while openssl s_client
# (with and without a client certificate, and with an ALPN nobody serves) and mosquitto_pub
# connect on the ALPN port, then prints the ClientHello/ServerHello fields tshark decodes and
# the emulator's transcripts of the same connections.
#
# Needs: go (or IOTCORE_LOCAL=path/to/iotcore-local), tshark (capturing needs root or the
# wireshark group; TSHARK_IFACE picks the interface, default "any"), openssl, mosquitto_pub,
# curl, python3.
# Usage: scripts/capture-handshake.sh [OUT_DIR]   (default: a temporary folder; the pcap stays there)
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-$(mktemp -d)}
mkdir -p "$out"
data="$out/state"
alpn_port=${ALPN_PORT:-24443}
mqtt_port=${MQTT_PORT:-24883}
api_port=${API_PORT:-24580}
https_port=${HTTPS_PORT:-24444}

bin=${IOTCORE_LOCAL:-}
if [ -z "$bin" ]; then
  bin="$out/iotcore-local"
  go build -o "$bin" ./cmd/iotcore-local
fi

"$bin" serve --data "$data" --alpn-addr 127.0.0.1:$alpn_port --mqtt-addr 127.0.0.1:$mqtt_port \
  --https-addr 127.0.0.1:$https_port --api-addr 127.0.0.1:$api_port >"$out/serve.out" 2>"$out/serve.log" &
serve_pid=$!
tshark_pid=
cleanup() {
  [ -n "$tshark_pid" ] && kill "$tshark_pid" 2>/dev/null || true
  kill "$serve_pid" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT

for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$api_port/health" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$api_port/health" >/dev/null

pcap="$out/handshake.pcap"
tshark -q -i "${TSHARK_IFACE:-any}" -f "tcp port $alpn_port" -w "$pcap" >"$out/tshark.log" 2>&1 &
tshark_pid=$!
for _ in $(seq 200); do
  grep -q "Capture started" "$out/tshark.log" 2>/dev/null && break
  sleep 0.1
done
sleep 1 # "Capture started" is printed a moment before packets are seen

ca="$data/root-ca.pem"
cert="$data/demo/certificate.pem.crt"
key="$data/demo/private.pem.key"

echo "== openssl s_client -alpn x-amzn-mqtt-ca with the device certificate"
echo | openssl s_client -connect 127.0.0.1:$alpn_port -servername localhost -alpn x-amzn-mqtt-ca \
  -cert "$cert" -key "$key" -CAfile "$ca" 2>&1 | grep -E "ALPN protocol|Verify return code|Protocol *:|Cipher *:" || true
echo "== the same over TLS 1.2 (its ServerHello carries the ALPN choice in the clear)"
echo | openssl s_client -connect 127.0.0.1:$alpn_port -servername localhost -alpn x-amzn-mqtt-ca -tls1_2 \
  -cert "$cert" -key "$key" -CAfile "$ca" 2>&1 | grep -E "ALPN protocol|Verify return code|Protocol *:|Cipher *:" || true
echo "== openssl s_client -alpn x-amzn-mqtt-ca without a certificate"
echo | openssl s_client -connect 127.0.0.1:$alpn_port -servername localhost -alpn x-amzn-mqtt-ca \
  -CAfile "$ca" 2>&1 | grep -E "ALPN protocol|alert|Verify return code" || true
echo "== openssl s_client -alpn x-unknown"
echo | openssl s_client -connect 127.0.0.1:$alpn_port -servername localhost -alpn x-unknown \
  -CAfile "$ca" 2>&1 | grep -E "alert|ALPN" || true
echo "== mosquitto_pub --tls-alpn x-amzn-mqtt-ca"
mosquitto_pub -h localhost -p $alpn_port --tls-alpn x-amzn-mqtt-ca --cafile "$ca" --cert "$cert" --key "$key" \
  -i demo-device -t demo/hello -m hello -q 1 -d 2>&1 || true

sleep 1
kill "$tshark_pid"
wait "$tshark_pid" 2>/dev/null || true
tshark_pid=

echo
echo "== ClientHello (tshark): frame, SNI, ALPN offered, versions"
tshark -r "$pcap" -Y "tls.handshake.type == 1" -T fields \
  -e frame.number -e tls.handshake.extensions_server_name -e tls.handshake.extensions_alpn_str \
  -e tls.handshake.extensions.supported_version 2>/dev/null
echo "== ServerHello (tshark): frame, ALPN selected, version, cipher suite"
tshark -r "$pcap" -Y "tls.handshake.type == 2" -T fields \
  -e frame.number -e tls.handshake.extensions_alpn_str -e tls.handshake.extensions.supported_version -e tls.handshake.ciphersuite 2>/dev/null
echo "== Alerts in the clear (tshark): frame, level, description"
tshark -r "$pcap" -Y "tls.alert_message" -T fields \
  -e frame.number -e tls.alert_message.level -e tls.alert_message.desc 2>/dev/null

echo
echo "== The emulator's transcripts of these connections"
curl -fsS "http://127.0.0.1:$api_port/_iotcore/connections" | python3 -c '
import json, sys
for r in json.load(sys.stdin):
    print("-- %s sni=%s alpn=%s -> %s tls=%s outcome=%s" % (r["clientId"] or "(no client id)", r["sni"], ",".join(r["alpnOffered"]) or "none",
          r["alpnSelected"] or "none", r["tlsVersion"] or "-", r["outcome"]))
    for s in r["steps"]:
        print("   %-18s %s" % (s["step"], s["detail"][:160]))
'
echo
echo "capture: $pcap"
