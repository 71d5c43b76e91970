#!/usr/bin/env bash
# Measures wirestate on a capture (default bench/out/bench.pcap): wall time,
# CPU, peak memory and packets/s of the whole `wirestate -r` run, next to
# tcpdump's read time of the same file. Run it on a quiet machine; RUNS=N
# sets the number of runs (default 5).
set -euo pipefail
cd "$(dirname "$0")/.."
pcap=${1:-bench/out/bench.pcap}
[ -f "$pcap" ] || { echo "measure: $pcap not found (record it with: sudo bash bench/record.sh)" >&2; exit 1; }
go build -o bin/wirestate ./cmd/wirestate
packets=$(bin/wirestate -r "$pcap" --format json --timeline none | tail -1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["packets"])')
cat "$pcap" > /dev/null # warm the page cache
runs=${RUNS:-5}
run() { # label, command...: the best and the median of $runs runs
	local label=$1; shift
	local tf all=()
	for ((i = 0; i < runs; i++)); do
		tf=$(mktemp)
		/usr/bin/time -o "$tf" -f "%e %U %S %M" "$@" > /dev/null 2>&1
		all+=("$(tail -1 "$tf")")
		rm -f "$tf"
	done
	printf '%s\n' "${all[@]}" | sort -n | awk -v label="$label" -v packets="$packets" '
		{ wall[NR] = $1; cpu[NR] = $2 + $3; rss[NR] = $4 }
		END {
			m = int((NR + 1) / 2)
			printf "%-44s best %5.2f s (%5.2f M packets/s)  median %5.2f s (%5.2f M packets/s)  CPU %5.2f s  %4d MiB\n",
				label, wall[1], packets / wall[1] / 1e6, wall[m], packets / wall[m] / 1e6, cpu[m], rss[m] / 1024
		}'
}
echo "$pcap: $packets packets (best and median of $runs runs each; CPU and memory of the median run)"
run "wirestate -r (text report, default)" bin/wirestate -r "$pcap"
run "wirestate -r --format json --timeline none" bin/wirestate -r "$pcap" --format json --timeline none
if command -v tcpdump >/dev/null; then
	run "tcpdump -nn -r (for comparison)" tcpdump -nn -r "$pcap"
fi
