#!/usr/bin/env bash
# live.sh — live capture at fixed packet rates: tcpreplay sends a capture
# over a veth pair into a network namespace, where it is captured in turn by
# wirestate (afpacket, default workers; afpacket --workers 1; the libpcap
# engine) and by tcpdump -w /dev/null. For each it prints packets sent,
# packets seen, the kernel's drop counts as the tool reports them, and CPU
# seconds (user + system) per million packets seen, next to wirestate -r of
# the same file.
#
#   wsl-tx  (tcpreplay -i wsltx)  ==veth==  wsl-rx  (capture on wslrx)
#
# Must run as root. Environment:
#   PCAP=bench/out/bench.pcap   the capture replayed (recorded by bench/record.sh if missing)
#   PACKETS=1000000             its first PACKETS packets are replayed
#   RATES="50000 150000 300000 top"   packets/s (top: tcpreplay --topspeed)
#   TOOLS="ws ws1 pcap tcpdump" wirestate default, --workers 1, --capture-engine libpcap, tcpdump
#   ROUNDS=1                    rounds over every rate and tool (interleaved)
#   GRACE=2                     seconds between the end of the replay and SIGINT
#   WSFLAGS=                    extra wirestate flags
set -euo pipefail
cd "$(dirname "$0")/.."
PCAP=${PCAP:-bench/out/bench.pcap}
PACKETS=${PACKETS:-1000000}
RATES=${RATES:-50000 150000 300000 top}
TOOLS=${TOOLS:-ws ws1 pcap tcpdump}
ROUNDS=${ROUNDS:-1}
GRACE=${GRACE:-2}
WSFLAGS=${WSFLAGS:-}
NS_TX=wsl-tx NS_RX=wsl-rx IF_TX=wsltx IF_RX=wslrx

die() { printf 'live.sh: %s\n' "$*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "must run as root (network namespaces, packet capture)"
if ! command -v tcpreplay >/dev/null; then
	apt-get install -y tcpreplay >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y tcpreplay >/dev/null; } ||
		die "tcpreplay is missing and could not be installed"
fi
for t in ip tcpdump go /usr/bin/time; do
	command -v "$t" >/dev/null || die "missing tool: $t"
done
if [[ ! -f $PCAP && $PCAP == bench/out/bench.pcap ]]; then
	echo "live.sh: $PCAP missing: recording it (bench/record.sh, about a minute)" >&2
	bash bench/record.sh
fi
[[ -f $PCAP ]] || die "$PCAP not found"

TMP=$(mktemp -d)
TOOL_PID=
cleanup() {
	set +e
	trap - EXIT INT TERM
	if [[ -n $TOOL_PID ]] && kill -0 "$TOOL_PID" 2>/dev/null; then
		kill -KILL "$TOOL_PID"
	fi
	for ns in $NS_TX $NS_RX; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid"; done
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

go build -o "$TMP/wirestate" ./cmd/wirestate
WS=$TMP/wirestate
IN=$TMP/in.pcap
tcpdump -r "$PCAP" -c "$PACKETS" -w "$IN" 2>/dev/null
n_in=$(tcpdump -r "$IN" -qn 2>/dev/null | wc -l)

ip netns add $NS_TX
ip netns add $NS_RX
ip link add $IF_TX netns $NS_TX type veth peer name $IF_RX netns $NS_RX
for x in "$NS_TX $IF_TX" "$NS_RX $IF_RX"; do
	set -- $x
	# No IPv6: its autoconfiguration would add packets of its own.
	ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	ip -n "$1" link set lo up
	ip -n "$1" link set "$2" up
done

# cpu FILE: user + system seconds from /usr/bin/time -f "%U %S".
cpu() { awk 'END { print $1 + $2 }' "$1"; }

# Offline: wirestate -r of the same packets, best of 3.
off=
for _ in 1 2 3; do
	/usr/bin/time -f "%U %S" -o "$TMP/time" "$WS" -r "$IN" > /dev/null 2>&1
	c=$(cpu "$TMP/time")
	off=$(awk -v a="$off" -v b="$c" 'BEGIN { print (a == "" || b < a) ? b : a }')
done
off_per=$(awk -v c="$off" -v n="$n_in" 'BEGIN { printf "%.2f", c / n * 1e6 }')
echo "input: first $n_in packets of $PCAP; offline wirestate -r: $off_per CPU s per 1M packets (best of 3)"
echo "machine: $(nproc) CPUs, $(uname -r); every tool below captures in turn the same replay"
echo
printf '%-8s %-34s %9s %9s %9s %9s %8s %11s %8s\n' rate tool sent seen dropped freezes "pkt/s" "CPU s/1M" "×offline"

# start NAME: starts the capture tool in the receiving namespace under
# /usr/bin/time, and waits until it listens.
start() {
	local cmd
	case $1 in
	ws) cmd=("$WS" -i $IF_RX $WSFLAGS) ;;
	ws1) cmd=("$WS" -i $IF_RX --workers 1 $WSFLAGS) ;;
	pcap) cmd=("$WS" -i $IF_RX --capture-engine libpcap $WSFLAGS) ;;
	tcpdump) cmd=(tcpdump -i $IF_RX -w /dev/null) ;;
	esac
	: > "$TMP/out"
	: > "$TMP/err"
	ip netns exec $NS_RX /usr/bin/time -f "%U %S" -o "$TMP/time" "${cmd[@]}" > "$TMP/out" 2> "$TMP/err" &
	TOOL_PID=$!
	for _ in $(seq 100); do
		grep -q "listening on" "$TMP/err" && return 0
		sleep 0.1
	done
	cat "$TMP/err" >&2
	die "$1 did not start"
}

# stop: SIGINT to the tool (the child of /usr/bin/time), then wait.
stop() {
	local child
	child=$(cat /proc/$TOOL_PID/task/$TOOL_PID/children 2>/dev/null | awk '{ print $1 }')
	[[ -n $child ]] && kill -INT "$child"
	wait "$TOOL_PID" || true
	TOOL_PID=
}

label() {
	case $1 in
	ws) echo "wirestate (afpacket, $(nproc) workers)" ;;
	ws1) echo "wirestate --workers 1" ;;
	pcap) echo "wirestate --capture-engine libpcap" ;;
	tcpdump) echo "tcpdump -w /dev/null" ;;
	esac
}

for ((round = 1; round <= ROUNDS; round++)); do
	for rate in $RATES; do
		for tool in $TOOLS; do
			start "$tool"
			if [[ $rate == top ]]; then
				speed=(--topspeed)
			else
				speed=(--pps="$rate")
			fi
			ip netns exec $NS_TX tcpreplay -i $IF_TX -K "${speed[@]}" "$IN" > "$TMP/replay" 2>&1 || {
				cat "$TMP/replay" >&2
				die "tcpreplay failed"
			}
			sleep "$GRACE"
			stop
			sent=$(awk '/Successful packets:/ { print $3 }' "$TMP/replay")
			pps=$(awk '/Rated:/ { for (i = 1; i <= NF; i++) if ($i ~ /^pps/) print int($(i-1)) }' "$TMP/replay" | head -1)
			if [[ $tool == tcpdump ]]; then
				seen=$(awk '/packets captured/ { print $1 }' "$TMP/err")
				dropped=$(awk '/packets dropped by kernel/ { print $1 }' "$TMP/err")
				freezes=-
			else
				# The final status line: "STATS packets N (M TCP); capture: R received,
				# D dropped, I dropped by the interface[, F ring freezes]".
				line=$(grep ' STATS ' "$TMP/out" | tail -1)
				seen=$(sed -E 's/.*STATS +packets ([0-9]+) .*/\1/' <<< "$line")
				dropped=$(sed -E 's/.* ([0-9]+) dropped, ([0-9]+) dropped by the interface.*/\1 \2/' <<< "$line" | awk '{ print $1 + $2 }')
				freezes=$(sed -nE 's/.* ([0-9]+) ring freezes.*/\1/p' <<< "$line")
				freezes=${freezes:--}
			fi
			c=$(cpu "$TMP/time")
			per=$(awk -v c="$c" -v n="$seen" 'BEGIN { printf "%.2f", (n > 0) ? c / n * 1e6 : 0 }')
			ratio=$(awk -v p="$per" -v o="$off_per" 'BEGIN { printf "%.2f", p / o }')
			printf '%-8s %-34s %9s %9s %9s %9s %8s %11s %8s\n' "$rate" "$(label "$tool")" "$sent" "$seen" "$dropped" "$freezes" "$pps" "$per" "$ratio"
		done
	done
done
