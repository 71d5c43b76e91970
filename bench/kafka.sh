#!/usr/bin/env bash
# kafka.sh — what the Kafka output costs offline: interleaved timings of
#   A: wirestate -r CAPTURE --format json -o FILE
#   B: wirestate -r CAPTURE --format json -o /dev/null --kafka ADDR
# with an in-process Kafka cluster (bench/kfake, franz-go's kfake) on this
# machine, RUNS times each, alternating (the machine's speed drifts). It
# prints each side's median wall and CPU time of wirestate alone (the
# broker's CPU is not counted, as it runs elsewhere in a real fleet) and
# the ratio of the medians; the bar is B/A <= 1.25.
#
#   bash bench/kafka.sh [BINARY] [CAPTURE]     RUNS=9 (default)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-bin/wirestate} pcap=${2:-bench/out/bench.pcap}
runs=${RUNS:-9}
[[ $bin == */* ]] || bin=./$bin
tmp=$(mktemp -d)
go build -o "$tmp/kfake" ./bench/kfake
"$tmp/kfake" >"$tmp/addr" 2>"$tmp/kfake.err" &
kpid=$!
trap 'kill $kpid 2>/dev/null; wait $kpid 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 50); do [ -s "$tmp/addr" ] && break; sleep 0.1; done
addr=$(head -1 "$tmp/addr")
cat "$pcap" >/dev/null
for ((i = 0; i < runs; i++)); do
	/usr/bin/time -o "$tmp/t" -f "%e %U %S" "$bin" -r "$pcap" --format json -o "$tmp/out.json" >/dev/null 2>"$tmp/a.err"
	awk '{print $1, $2 + $3}' "$tmp/t" >>"$tmp/a"
	/usr/bin/time -o "$tmp/t" -f "%e %U %S" "$bin" -r "$pcap" --format json -o /dev/null --kafka "$addr" --kafka-topic "bench$i" >/dev/null 2>"$tmp/b.err"
	awk '{print $1, $2 + $3}' "$tmp/t" >>"$tmp/b"
	if grep -q 'kafka' "$tmp/b.err"; then cat "$tmp/b.err" >&2; exit 1; fi
done
med() { sort -n -k"$2" "$1" | awk -v k="$2" '{v[NR] = $k} END {print v[int((NR + 1) / 2)]}'; }
wa=$(med "$tmp/a" 1) wb=$(med "$tmp/b" 1) ca=$(med "$tmp/a" 2) cb=$(med "$tmp/b" 2)
printf '%s: %d interleaved runs each\n' "$pcap" "$runs"
printf '  A --format json -o FILE          wall median %6.3f s  CPU median %6.3f s\n' "$wa" "$ca"
printf '  B --format json -o /dev/null --kafka  wall median %6.3f s  CPU median %6.3f s\n' "$wb" "$cb"
awk -v wa="$wa" -v wb="$wb" -v ca="$ca" -v cb="$cb" 'BEGIN {printf "  B/A: wall %.3f, CPU %.3f\n", wb / wa, cb / ca}'
