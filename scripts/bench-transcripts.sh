#!/usr/bin/env bash
# What connection transcripts cost on connects/s, in one run: two emulators side by side, one
# with transcripts (the default) and one with --no-transcripts, each with its own fleet of
# registered devices; "iotcore-local bench connect" alternates between them for ROUNDS rounds
# (the order swapping every round) and the medians are printed with every round's figure.
# Besides connects/s, each run reads the emulator process's CPU time (utime+stime from
# /proc/PID/stat) before and after, so the CPU spent per connection is measured too: on a busy
# machine connects/s follows the other load, CPU time per connection much less.
#
# Usage: scripts/bench-transcripts.sh [ROUNDS] [N]      (default 5 rounds of 1000 connects, 20 in flight)
# Needs: go (or IOTCORE_LOCAL=path/to/iotcore-local), curl, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
n=${2:-1000}
work=$(mktemp -d)
bin=${IOTCORE_LOCAL:-}
if [ -z "$bin" ]; then
  bin="$work/iotcore-local"
  go build -o "$bin" ./cmd/iotcore-local
fi

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

start() { # name base-port extra-flags...
  local name=$1 base=$2
  shift 2
  "$bin" serve --data "$work/$name" --demo=false --log-level error \
    --mqtt-addr 127.0.0.1:$((base + 1)) --alpn-addr 127.0.0.1:$((base + 2)) \
    --https-addr 127.0.0.1:$((base + 3)) --api-addr 127.0.0.1:$((base + 4)) "$@" \
    >"$work/$name.out" 2>"$work/$name.log" &
  pids+=($!)
  for _ in $(seq 200); do
    curl -fsS "http://127.0.0.1:$((base + 4))/health" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "emulator $name did not start" >&2
  cat "$work/$name.log" >&2
  return 1
}
start on 25000
start off 25100 --no-transcripts

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

run() { # name base
  "$bin" bench connect --provision "http://127.0.0.1:$(($2 + 4))" --devices "$work/$1-fleet.json" \
    --target "127.0.0.1:$(($2 + 1))" -n "$n" --concurrency 20 --json - 2>/dev/null |
    python3 -c 'import json,sys; c=json.load(sys.stdin)["connect"]; print("%.1f %d" % (c["connections_per_s"], c["failed"]))'
}
# Provision both fleets (and warm both emulators) before measuring.
run on 25000 >/dev/null
run off 25100 >/dev/null

results="$work/results"
: >"$results"
for r in $(seq "$rounds"); do
  if [ $((r % 2)) -eq 1 ]; then order="on off"; else order="off on"; fi
  for name in $order; do
    base=25000 pid=${pids[0]}
    [ "$name" = off ] && base=25100 pid=${pids[1]}
    before=$(cpu_ticks "$pid")
    figures=$(run $name $base)
    after=$(cpu_ticks "$pid")
    cpu_us=$(( (after - before) * 1000000 / hz / n ))
    echo "$r $name $figures $cpu_us" | tee -a "$results"
  done
done
python3 - "$results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
on = [float(r[2]) for r in rows if r[1] == "on"]
off = [float(r[2]) for r in rows if r[1] == "off"]
cpu_on = [int(r[4]) for r in rows if r[1] == "on"]
cpu_off = [int(r[4]) for r in rows if r[1] == "off"]
failed = sum(int(r[3]) for r in rows)
ratios = [a / b for a, b in zip(on, off)]
print()
print("| transcripts | connects/s, median of %d rounds | rounds | emulator CPU µs per connection, median | rounds |" % len(on))
print("|---|---:|---|---:|---|")
print("| on (default) | %.0f | %s | %d | %s |" % (statistics.median(on), ", ".join("%.0f" % x for x in on),
      statistics.median(cpu_on), ", ".join(str(x) for x in cpu_on)))
print("| off (--no-transcripts) | %.0f | %s | %d | %s |" % (statistics.median(off), ", ".join("%.0f" % x for x in off),
      statistics.median(cpu_off), ", ".join(str(x) for x in cpu_off)))
print()
print("connects/s on / off, median of the rounds' ratios: %.3f (range %.3f to %.3f); failed connections: %d"
      % (statistics.median(ratios), min(ratios), max(ratios), failed))
PY
