#!/usr/bin/env bash
# Measures wirestate on a capture (default bench/out/bench.pcap): wall time,
# CPU, peak memory and packets/s of the whole `wirestate -r` run, next to
# tcpdump's read time of the same file. Run it on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
pcap=${1:-bench/out/bench.pcap}
[ -f "$pcap" ] || { echo "measure: $pcap not found (record it with: sudo bash bench/record.sh)" >&2; exit 1; }
go build -o bin/wirestate ./cmd/wirestate
packets=$(bin/wirestate -r "$pcap" --format json --timeline none | tail -1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["packets"])')
cat "$pcap" > /dev/null # warm the page cache
run() { # label, command...
	local label=$1; shift
	local best=
	for i in 1 2 3; do
		local t tf
		tf=$(mktemp)
		/usr/bin/time -o "$tf" -f "%e %U %S %M" "$@" > /dev/null 2>&1
		t=$(tail -1 "$tf")
		rm -f "$tf"
		if [ -z "$best" ] || awk -v a="${t%% *}" -v b="${best%% *}" 'BEGIN{exit !(a<b)}'; then best=$t; fi
	done
	read -r wall user sys rss <<<"$best"
	printf '%-44s %7.2f s wall  %6.2f s CPU  %7d MiB  %6.2f M packets/s\n' "$label" "$wall" "$(echo "$user + $sys" | bc)" $((rss / 1024)) "$(echo "$packets / $wall / 1000000" | bc -l)"
}
echo "$pcap: $packets packets (best of 3 runs each)"
run "wirestate -r (text report, default)" bin/wirestate -r "$pcap"
run "wirestate -r --format json --timeline none" bin/wirestate -r "$pcap" --format json --timeline none
if command -v tcpdump >/dev/null; then
	run "tcpdump -nn -r (for comparison)" tcpdump -nn -r "$pcap"
fi
