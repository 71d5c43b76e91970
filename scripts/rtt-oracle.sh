#!/usr/bin/env bash
# rtt-oracle.sh: compare wirestate's handshake_rtt and data RTTs with
# tshark's tcp.analysis.initial_rtt and ack_rtt on the benchmark capture
# (or on the captures given), with the same Go test that checks pcaps/
# (pipeline TestRTTMatchesTshark). Needs tshark; takes a few minutes and
# a few GiB of memory for bench/out/bench.pcap (tshark keeps every frame).
#
#   bash scripts/rtt-oracle.sh                 # bench/out/bench.pcap
#   bash scripts/rtt-oracle.sh a.pcap b.pcap   # other captures
set -euo pipefail
cd "$(dirname "$0")/.."
files=("$@")
if [ ${#files[@]} -eq 0 ]; then
	files=(bench/out/bench.pcap)
	[ -f bench/out/bench.pcap ] || bash bench/record.sh
fi
command -v tshark >/dev/null || { echo "rtt-oracle: tshark is not installed" >&2; exit 1; }
abs=()
for f in "${files[@]}"; do abs+=("$(realpath "$f")"); done
WIRESTATE_RTT_ORACLE="${abs[*]}" go test -count=1 -timeout 60m -run '^TestRTTMatchesTshark$' ./pipeline/ -v 2>&1 |
	grep -E '^[0-9]+ captures:|^(--- )?(FAIL|PASS|ok)' | grep -v '^--- PASS: TestRTTMatchesTshark/'
