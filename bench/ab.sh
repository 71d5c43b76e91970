#!/usr/bin/env bash
# ab.sh — interleaved A/B timing of two wirestate binaries on one capture.
# The machine's speed drifts by up to 2x over minutes, so single timings
# mislead: this alternates A and B, RUNS times each, and prints each side's
# median wall and CPU time, the ratio of the medians, and the median of
# the ratios within each A-B pair.
#
#   bash bench/ab.sh OLD_BINARY NEW_BINARY [CAPTURE] [-- wirestate flags]
#   RUNS=9 (default)
set -euo pipefail
a=$1 b=$2; shift 2
pcap=bench/out/bench.pcap
if [ $# -gt 0 ] && [ "$1" != "--" ]; then pcap=$1; shift; fi
[ "${1:-}" = "--" ] && shift
runs=${RUNS:-9}
cat "$pcap" >/dev/null
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for ((i = 0; i < runs; i++)); do
	for side in a b; do
		bin=${!side}
		/usr/bin/time -o "$tmp/t" -f "%e %U %S" "$bin" -r "$pcap" "$@" >/dev/null 2>&1
		awk '{print $1, $2 + $3}' "$tmp/t" >>"$tmp/$side"
	done
done
med() { sort -n -k"$2" "$1" | awk -v k="$2" '{v[NR] = $k} END {print v[int((NR + 1) / 2)]}'; }
wa=$(med "$tmp/a" 1) wb=$(med "$tmp/b" 1) ca=$(med "$tmp/a" 2) cb=$(med "$tmp/b" 2)
printf '%s %s: %d interleaved runs each\n' "$pcap" "$*" "$runs"
printf '  A %-30s wall median %6.3f s  CPU median %6.3f s\n' "$a" "$wa" "$ca"
printf '  B %-30s wall median %6.3f s  CPU median %6.3f s\n' "$b" "$wb" "$cb"
awk -v wa="$wa" -v wb="$wb" -v ca="$ca" -v cb="$cb" 'BEGIN {printf "  B/A: wall %.3f, CPU %.3f\n", wb / wa, cb / ca}'
# The ratio within each A-B pair, run seconds apart, cancels the slow
# drift that can move a ratio of medians by several percent between series.
paste "$tmp/a" "$tmp/b" | awk '{print $3 / $1, $4 / $2}' >"$tmp/pairs"
printf '  B/A within pairs (median): wall %.3f, CPU %.3f\n' "$(med "$tmp/pairs" 1)" "$(med "$tmp/pairs" 2)"
