#!/usr/bin/env bash
# record.sh — record the real-kernel benchmark capture bench/out/bench.pcap.
#
# Two network namespaces joined by a veth pair:
#   wsb-cli  10.88.0.1/24  fd88::1/64   (httpload client, tcpdump on wsb-c)
#   wsb-srv  10.88.0.2/24  fd88::2/64   (httpload server)
# All traffic stays between those two namespaces.
#
# Must run as root. Tunables (environment):
#   CONNS=120000 WORKERS=48 DURATION=170s MIN_PACKETS=2000000 MIN_CONNS=100000
#   MAX_DROPS=1000 OUT=bench/out PORT_RANGE="30000 49999" (client ephemeral ports)
#   TSHARK_CHECK=1 (also count TCP conversations with tshark; ~80 s more)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
OUT=${OUT:-$HERE/out}
PCAP=$OUT/bench.pcap
CONNS=${CONNS:-120000}
WORKERS=${WORKERS:-48}
DURATION=${DURATION:-170s}
MIN_PACKETS=${MIN_PACKETS:-2000000}
MIN_CONNS=${MIN_CONNS:-100000}
MAX_DROPS=${MAX_DROPS:-1000}
PORT_RANGE=${PORT_RANGE:-30000 49999}
TSHARK_CHECK=${TSHARK_CHECK:-0}
NS_C=wsb-cli
NS_S=wsb-srv
IF_C=wsb-c
IF_S=wsb-s

log() { printf '[record] %s\n' "$*" >&2; }
die() { printf '[record] FATAL: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root (network namespaces, tcpdump)"
for t in ip tcpdump go; do
	command -v "$t" >/dev/null || die "missing tool: $t"
done

SERVER_PID= TCPDUMP_PID= CLIENT_PID= TMP=
cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	for pid in $CLIENT_PID $SERVER_PID $TCPDUMP_PID; do
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid" 2>/dev/null
		fi
	done
	for pid in $CLIENT_PID $SERVER_PID $TCPDUMP_PID; do
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	ip netns del "$NS_C" 2>/dev/null
	ip netns del "$NS_S" 2>/dev/null
	[[ -n $TMP ]] && rm -rf "$TMP"
	if [[ $rc -ne 0 ]]; then
		log "failed (exit $rc); namespaces and processes cleaned up"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$OUT"
TMP=$(mktemp -d)

log "building httpload"
(cd "$ROOT" && go build -o "$OUT/httpload" ./bench/httpload)

if ! command -v ethtool >/dev/null; then
	log "ethtool missing; installing it with apt-get"
	apt-get install -y ethtool >/dev/null 2>&1 ||
		{ apt-get update >/dev/null 2>&1 && apt-get install -y ethtool >/dev/null 2>&1; } ||
		log "WARNING: could not install ethtool; offloads stay on"
fi

# Leftovers of an earlier, killed run.
ip netns del "$NS_C" 2>/dev/null || true
ip netns del "$NS_S" 2>/dev/null || true

log "creating namespaces $NS_C and $NS_S"
ip netns add "$NS_C"
ip netns add "$NS_S"
nsc() { ip netns exec "$NS_C" "$@"; }
nss() { ip netns exec "$NS_S" "$@"; }
for ns in "$NS_C" "$NS_S"; do
	ip netns exec "$ns" sysctl -qw \
		net.ipv6.conf.all.accept_dad=0 \
		net.ipv6.conf.default.accept_dad=0 \
		net.ipv6.conf.all.accept_ra=0 \
		net.ipv6.conf.default.accept_ra=0 \
		net.ipv6.conf.all.router_solicitations=0 \
		net.ipv6.conf.default.router_solicitations=0 \
		net.core.somaxconn=65535 \
		net.ipv4.tcp_max_syn_backlog=65535 \
		net.ipv4.tcp_tw_reuse=1 \
		net.ipv4.tcp_fin_timeout=10 \
		net.ipv4.tcp_max_tw_buckets=262144 \
		net.ipv4.tcp_syncookies=0
	ip netns exec "$ns" ip link set lo up
done
# Created after the sysctls so that the interfaces take the new defaults.
ip link add "$IF_C" netns "$NS_C" type veth peer name "$IF_S" netns "$NS_S"
# An ephemeral range smaller than the connection count makes the client
# cycle through its ports, so 4-tuples come back while the server still
# holds them in TIME_WAIT (on top of the client's fixed-port connections).
nsc sysctl -qw net.ipv4.ip_local_port_range="$PORT_RANGE"
nsc ip addr add 10.88.0.1/24 dev "$IF_C"
nsc ip -6 addr add fd88::1/64 dev "$IF_C" nodad
nss ip addr add 10.88.0.2/24 dev "$IF_S"
nss ip -6 addr add fd88::2/64 dev "$IF_S" nodad
nsc ip link set "$IF_C" up
nss ip link set "$IF_S" up

if command -v ethtool >/dev/null; then
	# Wire-sized segments and real checksums: no TSO/GSO/GRO, no checksum
	# offload (a veth would otherwise hand tcpdump partial checksums).
	for f in tso gso gro tx rx; do
		nsc ethtool -K "$IF_C" "$f" off >/dev/null 2>&1 || log "ethtool -K $IF_C $f off failed"
		nss ethtool -K "$IF_S" "$f" off >/dev/null 2>&1 || log "ethtool -K $IF_S $f off failed"
	done
	log "offloads on $IF_C: $(nsc ethtool -k "$IF_C" | grep -E '^(tcp-segmentation-offload|generic-segmentation-offload|generic-receive-offload|tx-checksumming|rx-checksumming):' | tr -s ' \n' ' ')"
fi
# Fill the neighbour caches so that the capture starts with TCP.
nsc ping -c1 -W1 10.88.0.2 >/dev/null 2>&1 || true
nsc ping -6 -c1 -W1 fd88::2 >/dev/null 2>&1 || true

log "starting server in $NS_S"
ip netns exec "$NS_S" bash -c 'ulimit -n "$(ulimit -Hn)"; exec "$0" server --ready "$1"' \
	"$OUT/httpload" "$TMP/server.ready" >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 100); do
	[[ -e $TMP/server.ready ]] && break
	kill -0 "$SERVER_PID" 2>/dev/null || { cat "$TMP/server.log" >&2; die "server exited"; }
	sleep 0.1
done
[[ -e $TMP/server.ready ]] || die "server did not come up"

log "starting tcpdump on $IF_C (snaplen 128, 64 MiB buffer)"
rm -f "$PCAP"
ip netns exec "$NS_C" tcpdump -i "$IF_C" -nn -s 128 -B 65536 -Z root -w "$PCAP" >"$TMP/tcpdump.log" 2>&1 &
TCPDUMP_PID=$!
for _ in $(seq 100); do
	grep -q 'listening on' "$TMP/tcpdump.log" && break
	kill -0 "$TCPDUMP_PID" 2>/dev/null || { cat "$TMP/tcpdump.log" >&2; die "tcpdump exited"; }
	sleep 0.1
done
grep -q 'listening on' "$TMP/tcpdump.log" || die "tcpdump did not start"

log "running client in $NS_C: $CONNS connections, $WORKERS workers, at most $DURATION"
T0=$(date +%s.%N)
ip netns exec "$NS_C" bash -c 'ulimit -n "$(ulimit -Hn)"; exec "$0" client --conns "$1" --workers "$2" --duration "$3"' \
	"$OUT/httpload" "$CONNS" "$WORKERS" "$DURATION" >"$TMP/client.log" &
CLIENT_PID=$!
wait "$CLIENT_PID" || die "client failed: $(cat "$TMP/client.log")"
CLIENT_PID=
sleep 1 # let the last FINs and ACKs go by
# Background jobs of a script ignore SIGINT, so stop tcpdump with SIGTERM
# (it still flushes the file and prints its statistics).
kill -TERM "$TCPDUMP_PID"
wait "$TCPDUMP_PID" || true
TCPDUMP_PID=
T1=$(date +%s.%N)
RECORD_SECS=$(awk -v a="$T0" -v b="$T1" 'BEGIN { printf "%.1f", b - a }')

cat "$TMP/client.log"
TD_CAPTURED=$(awk '/packets captured/ { print $1 }' "$TMP/tcpdump.log")
TD_DROPPED=$(awk '/dropped by kernel/ { print $1 }' "$TMP/tcpdump.log")
TD_IFDROP=$(awk '/dropped by interface/ { print $1 }' "$TMP/tcpdump.log")
log "tcpdump: $(grep -E 'captured|received|dropped' "$TMP/tcpdump.log" | tr '\n' ';')"

echo "== bench.pcap summary =="
"$OUT/httpload" stats "$PCAP" | tee "$TMP/stats.txt"
PACKETS=$(awk '/^packets:/ { print $2 }' "$TMP/stats.txt")
NCONNS=$(awk '/^connections/ { print $3 }' "$TMP/stats.txt")
SIZE=$(stat -c %s "$PCAP")
printf 'file:               %s (%d bytes, %.1f MiB)\n' "$PCAP" "$SIZE" "$(awk -v s="$SIZE" 'BEGIN { print s / 1048576 }')"
printf 'recording time:     %ss\n' "$RECORD_SECS"
printf 'tcpdump:            %s captured, %s dropped by kernel, %s dropped by interface\n' \
	"${TD_CAPTURED:-?}" "${TD_DROPPED:-?}" "${TD_IFDROP:-0}"

if [[ $TSHARK_CHECK == 1 ]] && command -v tshark >/dev/null; then
	printf 'tshark conv,tcp:    %s conversations\n' "$(tshark -r "$PCAP" -q -z conv,tcp 2>/dev/null | grep -c '<->')"
fi

fail=0
if [[ -z ${TD_DROPPED:-} ]]; then
	log "ERROR: no 'dropped by kernel' line from tcpdump"; fail=1
elif ((TD_DROPPED > MAX_DROPS)); then
	log "ERROR: tcpdump dropped $TD_DROPPED packets (limit $MAX_DROPS): the capture has holes"; fail=1
fi
((PACKETS >= MIN_PACKETS)) || { log "ERROR: only $PACKETS packets (want >= $MIN_PACKETS)"; fail=1; }
((NCONNS >= MIN_CONNS)) || { log "ERROR: only $NCONNS connections (want >= $MIN_CONNS)"; fail=1; }
((fail == 0)) || exit 1
log "ok"
