#!/usr/bin/env bash
# Measures wirestate on floods against clean traffic with the same packet
# count: 1M spoofed SYNs (2M packets with the SYN cookies' SYN-ACKs) and
# 1M random RSTs/ACKs for unknown connections, with --max-conns bounding the
# tracker. Prints wall time, peak RSS, evictions and the findings.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000000}
MAX=${MAX_CONNS:-200000}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go build -o bin/wirestate ./cmd/wirestate
go run ./internal/flood/cmd -w "$dir/syn.pcap" -n "$N" -kind syn
go run ./internal/flood/cmd -w "$dir/rstack.pcap" -n "$N" -kind rstack
# Clean traffic of about the same packet counts: 13 packets per connection.
go run ./cmd/wirestate-synth -q -w "$dir/clean2m.pcap" --conns $((2 * N / 13)) --seed 1
go run ./cmd/wirestate-synth -q -w "$dir/clean1m.pcap" --conns $((N / 13)) --seed 2
for f in syn clean2m rstack clean1m; do
	out=$( { /usr/bin/time -f "%e %M" bin/wirestate -r "$dir/$f.pcap" --format json --timeline none --max-conns "$MAX" > "$dir/$f.json"; } 2>&1 | tail -1)
	read -r wall rss <<<"$out"
	python3 - "$dir/$f.json" "$f" "$wall" "$rss" <<'PY'
import json, sys
path, name, wall, rss = sys.argv[1:]
s = json.loads(open(path).read().strip().split("\n")[-1])
kinds = {k: v for k, v in s["findings"].items() if k in ("syn-flood", "rst-ack-flood")}
print(f"{name:8} {s['packets']:>9} packets  {float(wall):6.2f} s  peak RSS {int(rss)//1024:5} MiB  "
      f"held at most {s['max_held']:>7}  evicted {s['evicted']:>8}  {kinds}")
PY
done
