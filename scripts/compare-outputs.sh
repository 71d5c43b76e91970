#!/usr/bin/env bash
# compare-outputs.sh — byte-for-byte comparison of two wirestate binaries'
# outputs on every capture in pcaps/ (and the benchmark capture when it has
# been recorded): text, JSON, Zeek conn.log, HTML and --write-findings, plus
# a few flag combinations (--at, --timeline all, --host, --port).
#
#   scripts/compare-outputs.sh OLD_BINARY NEW_BINARY [CAPTURE ...]
#
# Prints one line per difference and exits 1 if there is any. Used before
# each commit of a refactor that must not change what users see.
set -uo pipefail
old=$1 new=$2; shift 2
# Paths are taken relative to the caller's directory, not the repository's.
[[ $old == */* ]] && old=$(realpath "$old")
[[ $new == */* ]] && new=$(realpath "$new")
caps=()
for c in "$@"; do
	[ -f "$c" ] || { echo "no such capture: $c" >&2; exit 2; }
	caps+=("$(realpath "$c")")
done
cd "$(dirname "$0")/.."
if [ ${#caps[@]} -eq 0 ]; then
	caps=(pcaps/*.pcap)
	[ -f bench/out/bench.pcap ] && caps+=(bench/out/bench.pcap)
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
diffs=0 runs=0
variants=(
	"text|"
	"texthtml|--html H --write-findings W"
	"jsonhtml|--format json --html H"
	"json|--format json"
	"zeek|--format zeek"
	"all|--timeline all --format json"
	"at|--at +1.5s"
	"sel|--port 8080 --format json"
)
for cap in "${caps[@]}"; do
	path=$cap; [[ $cap == /* ]] || path=$PWD/$cap
	big=0; [ "$(stat -c %s "$cap")" -gt 50000000 ] && big=1
	for v in "${variants[@]}"; do
		name=${v%%|*} args=${v#*|}
		[ $big = 1 ] && [ "$name" = all ] && continue
		for b in old new; do
			bin=${!b}
			# shellcheck disable=SC2086
			a=${args//--html H/--html $b.html}
			a=${a//--write-findings W/--write-findings $b.findings.pcap}
			rm -f "$tmp/$b.html" "$tmp/$b.findings.pcap"
			(cd "$tmp" && "$bin" -r "$path" $a >"$b.out" 2>"$b.err"; echo $? >"$b.rc")
			sed -i 's/wirestate [^<"]*\(dev\|[0-9a-f]\{7,\}\)[^<"]*//' "$tmp/$b.html" 2>/dev/null
			# Which connections share a shard's RTT table follows the run's
			# hash seed, so the count of segments evicted from the tables
			# varies between runs of one build (0 on the small captures).
			sed -i 's/"rtt_table_evicted":[0-9]*/"rtt_table_evicted":N/' "$tmp/$b.out" "$tmp/$b.html" 2>/dev/null || true
		done
		runs=$((runs + 1))
		for f in out err rc html findings.pcap; do
			[ -e "$tmp/old.$f" ] || [ -e "$tmp/new.$f" ] || continue
			if ! cmp -s "$tmp/old.$f" "$tmp/new.$f"; then
				echo "DIFF $cap [$name] $f"
				diffs=$((diffs + 1))
			fi
		done
	done
done
echo "compared $runs runs: $diffs differences"
[ $diffs -eq 0 ]
