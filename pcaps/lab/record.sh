#!/usr/bin/env bash
# record.sh — record wirestate's sample captures from the real Linux kernel.
#
#   bash pcaps/lab/record.sh                 # every scenario, into pcaps/
#   bash pcaps/lab/record.sh refused ipv6    # only these
#   OUT=/tmp/x bash pcaps/lab/record.sh      # write the captures elsewhere
#   bash pcaps/lab/record.sh --list          # the scenario names
#   ETHTOOL= bash pcaps/lab/record.sh        # offloads off via peer, not ethtool
#
# Needs root: it creates two network namespaces joined by a veth pair
#
#   ws-cli: ws-c 10.77.0.1/24 fd77::1/64  <==veth==>  ws-s 10.77.0.2/24 fd77::2/64 :ws-srv
#
# (middlebox-reset puts a third, ws-rtr, between them: see routed_up), and
# runs tcpdump in one of them, the scenario's client (peer client) in ws-cli
# and its server (peer server) in ws-srv, and writes OUT/<scenario>.pcap.
# Each scenario gets fresh namespaces, so its sysctls, nftables rules and
# qdiscs start from the kernel's defaults. Everything is removed on exit
# (trap), also on failure; running it again just records again.
set -euo pipefail

LAB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$LAB/../.." && pwd)
OUT=${OUT:-$REPO/pcaps}

CLI=ws-cli SRV=ws-srv CIF=ws-c SIF=ws-s RTR=ws-rtr
C4=10.77.0.1 S4=10.77.0.2 C6=fd77::1 S6=fd77::2
SNAPLEN_DEFAULT=262144
ETHTOOL=${ETHTOOL-ethtool} # ETHTOOL= (empty): switch offloads off without ethtool

ALL=(
  client-close server-close simultaneous-close half-close keepalive
  linger0-abort refused midstream ipv6 snaplen96 syn-retransmit
  lost-final-ack accept-queue-overflow-rst accept-queue-overflow-drop
  syn-unanswered syn-flood close-wait-stuck half-open port-reuse
  stale-segment abortive-close-server zero-window
  app-abort-after-request tw-reuse
  accept-queue-overflow-rst-v6 accept-queue-overflow-drop-v6 both-sides
  middlebox-reset middlebox-reset-v6
  mixed
)
# Scenarios that write more than one capture (OUT/<name>.pcap each); the
# others write OUT/<scenario>.pcap. A capture's name also selects its
# scenario on the command line.
declare -A MULTI=([both-sides]="both-sides-client both-sides-server"
  [middlebox-reset]="middlebox-reset-client middlebox-reset-server")

die() { echo "record.sh: $*" >&2; exit 1; }
log() { printf '%s %s\n' "$(date +%T.%3N)" "$*" >&2; }

if [[ ${1:-} == --list ]]; then printf '%s\n' "${ALL[@]}"; exit 0; fi
if [[ ${1:-} == -h || ${1:-} == --help ]]; then sed -n '2,/^set -euo/{/^#/p}' "$0"; exit 0; fi

[[ $(id -u) -eq 0 ]] || die "must run as root (network namespaces, nftables, tcpdump)"
for tool in ip nft tc tcpdump go flock; do
  command -v "$tool" >/dev/null || die "missing tool: $tool"
done

want=()
for s in "$@"; do
  for m in "${!MULTI[@]}"; do
    [[ " ${MULTI[$m]} " == *" $s "* ]] && s=$m
  done
  [[ " ${ALL[*]} " == *" $s "* ]] || die "unknown scenario '$s' (try --list)"
  [[ " ${want[*]} " == *" $s "* ]] || want+=("$s")
done
[[ ${#want[@]} -gt 0 ]] || want=("${ALL[@]}")

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# One run at a time: the namespace names are fixed. (Background children get
# 9>&-, so only this shell holds the lock.)
exec 9>/run/wirestate-lab.lock
flock -n 9 || die "another record.sh is running (/run/wirestate-lab.lock)"

WORK=$(mktemp -d /tmp/wirestate-lab.XXXXXX)
PIDS=()          # every background process this script started
TCPDUMP=""       # the last capture's pid
CAPS=()          # the running captures, NAME:PID
SCEN=""          # the scenario being recorded

ns_del() {
  local ns pid
  for ns in "$CLI" "$SRV" "$RTR"; do
    if ip netns list | grep -qw "$ns"; then
      # Anything still running in the lab's namespaces was started by this
      # script (a peer, tcpdump): end it by pid before the namespace goes.
      for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
      ip netns del "$ns"
    fi
  done
}

cleanup() {
  local rc=$?
  set +e
  local pid
  for pid in "${PIDS[@]}"; do
    kill -KILL "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  done
  if [[ $rc -ne 0 && -n $SCEN ]]; then
    echo "record.sh: scenario $SCEN failed; its logs:" >&2
    tail -n 30 "$WORK"/logs/* >&2 2>/dev/null
  fi
  ns_del
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# --- helpers ------------------------------------------------------------------

in_cli() { ip netns exec "$CLI" "$@"; }
in_srv() { ip netns exec "$SRV" "$@"; }
sysctls() { # NS key=value...
  local ns=$1; shift
  ip netns exec "$ns" sysctl -qw "$@"
}
nft_load() { # NS < ruleset
  ip netns exec "$1" nft -f -
}

# wait_for SECONDS CMD...: poll until CMD succeeds.
wait_for() {
  local t=$1; shift
  local end=$((SECONDS + t))
  until "$@"; do
    ((SECONDS < end)) || die "$SCEN: timed out after ${t}s waiting for: $*"
    sleep 0.02
  done
}
wait_file() { wait_for "${2:-10}" test -e "$CTL/$1"; }

# wait_ok PID SECONDS: the process must exit 0 within SECONDS.
wait_ok() {
  local pid=$1 t=$2
  wait_for "$t" eval "! kill -0 $pid 2>/dev/null"
  wait "$pid" || die "$SCEN: process $pid exited with status $?"
}
# pause SECONDS: sleep, but let a signal end the script at once (bash runs
# traps only between foreground commands; wait is interruptible).
pause() {
  sleep "$1" 9>&- &
  PIDS+=("$!")
  wait "$!"
}
stop() { # PID: end a process this script started
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

ns_up() {
  ns_del
  ip netns add "$CLI"
  ip netns add "$SRV"
  ip link add "$CIF" netns "$CLI" address 02:77:00:00:00:01 type veth \
    peer name "$SIF" netns "$SRV" address 02:77:00:00:00:02
  local ns ifc a4 a6
  for ns in "$CLI" "$SRV"; do
    if [[ $ns == "$CLI" ]]; then ifc=$CIF a4=$C4 a6=$C6; else ifc=$SIF a4=$S4 a6=$S6; fi
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$a4/24" dev "$ifc"
    ip -n "$ns" -6 addr add "$a6/64" dev "$ifc" nodad
    link_up "$ns" "$ifc"
  done
  wait_for 5 eval "ip -n $CLI link show $CIF | grep -q LOWER_UP"
  wait_for 5 eval "ip -n $SRV link show $SIF | grep -q LOWER_UP"
  mkdir -p "$CTL"
}

# link_up NS IFC: offloads off, link up.
link_up() {
  # No offloads: tcpdump must see wire-sized segments (no TSO/GSO
  # super-packets) with real checksums (no partial tx checksums). Without
  # ethtool, peer does the same through the SIOCETHTOOL ioctl.
  if [[ -n $ETHTOOL ]] && command -v "$ETHTOOL" >/dev/null; then
    ip netns exec "$1" "$ETHTOOL" -K "$2" tso off gso off gro off tx off rx off >/dev/null
  else
    ip netns exec "$1" "$PEER" offloads-off -dev "$2"
  fi
  ip -n "$1" link set "$2" up
}

# routed_up: replace the veth pair between ws-cli and ws-srv with a router
# namespace between them, keeping every address (host routes through the
# router's own /32 and /128 addresses, so the endpoints keep 10.77.0.1,
# 10.77.0.2, fd77::1, fd77::2):
#
#   ws-cli: ws-c 10.77.0.1 fd77::1 <==> ws-rc 10.77.0.254 fd77::fe :ws-rtr
#   ws-rtr: ws-rs 10.77.0.253 fd77::fd <==> ws-s 10.77.0.2 fd77::2 :ws-srv
#
# Each end's packets reach the other with TTL (hop limit) 63; what the
# router itself sends arrives with 64.
routed_up() {
  ip -n "$CLI" link del "$CIF"
  ip netns add "$RTR"
  ip link add "$CIF" netns "$CLI" address 02:77:00:00:00:01 type veth \
    peer name ws-rc netns "$RTR" address 02:77:00:00:00:11
  ip link add "$SIF" netns "$SRV" address 02:77:00:00:00:02 type veth \
    peer name ws-rs netns "$RTR" address 02:77:00:00:00:12
  ip -n "$RTR" link set lo up
  sysctls "$RTR" net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
  local ns ifc rif a4 a6 gw4 gw6 far4 far6
  for ns in "$CLI" "$SRV"; do
    if [[ $ns == "$CLI" ]]; then
      ifc=$CIF rif=ws-rc a4=$C4 a6=$C6 gw4=10.77.0.254 gw6=fd77::fe far4=$S4 far6=$S6
    else
      ifc=$SIF rif=ws-rs a4=$S4 a6=$S6 gw4=10.77.0.253 gw6=fd77::fd far4=$C4 far6=$C6
    fi
    ip -n "$ns" addr add "$a4/32" dev "$ifc"
    ip -n "$ns" -6 addr add "$a6/128" dev "$ifc" nodad
    ip -n "$RTR" addr add "$gw4/32" dev "$rif"
    ip -n "$RTR" -6 addr add "$gw6/128" dev "$rif" nodad
    link_up "$ns" "$ifc"
    link_up "$RTR" "$rif"
    ip -n "$ns" route add "$gw4" dev "$ifc" scope link
    ip -n "$ns" route add "$far4" via "$gw4" dev "$ifc"
    ip -n "$ns" -6 route add "$gw6" dev "$ifc"
    ip -n "$ns" -6 route add "$far6" via "$gw6" dev "$ifc"
    ip -n "$RTR" route add "$a4" dev "$rif" scope link
    ip -n "$RTR" -6 route add "$a6" dev "$rif"
  done
  wait_for 5 eval "ip -n $CLI link show $CIF | grep -q LOWER_UP"
  wait_for 5 eval "ip -n $SRV link show $SIF | grep -q LOWER_UP"
  # Neighbour discovery speaks from the link-local addresses: until their
  # duplicate address detection ends (about a second), the first IPv6
  # packet waits in a neighbour queue and the client's SYN goes twice.
  for ns in "$CLI" "$SRV" "$RTR"; do
    wait_for 5 eval "[[ -z \$(ip -n $ns -6 addr show tentative) ]]"
  done
}

# cap_start client|server [SNAPLEN] [NAME]: tcpdump on that side's veth,
# into NAME.pcap (default: the scenario's name).
cap_start() {
  local ns=$CLI ifc=$CIF name=${3:-$SCEN}
  if [[ $1 == server ]]; then ns=$SRV ifc=$SIF; fi
  CAP=$WORK/$name.pcap
  ip netns exec "$ns" tcpdump -i "$ifc" --immediate-mode -U -w "$CAP" -Z root -nn -s "${2:-$SNAPLEN_DEFAULT}" ${CAPBUF:+-B "$CAPBUF"} tcp \
    2>"$WORK/logs/tcpdump-$name" 9>&- &
  TCPDUMP=$!
  PIDS+=("$TCPDUMP")
  CAPS+=("$name:$TCPDUMP")
  wait_for 10 grep -qs "listening on" "$WORK/logs/tcpdump-$name"
}

# cap_stop: stop every capture cap_start started and move the files to OUT.
cap_stop() {
  local c name pid n
  PACKETS=""
  for c in "${CAPS[@]}"; do
    name=${c%%:*} pid=${c##*:}
    kill -INT "$pid"
    wait "$pid" || die "$SCEN: tcpdump ($name) exited with status $?"
    n=$(sed -n 's/^\([0-9]*\) packets\{0,1\} captured.*/\1/p' "$WORK/logs/tcpdump-$name")
    [[ ${n:-0} -gt 0 ]] || die "$SCEN: tcpdump ($name) captured no packet"
    grep -q '^0 packets dropped by kernel' "$WORK/logs/tcpdump-$name" ||
      die "$SCEN: tcpdump ($name) lost packets: $(grep dropped "$WORK/logs/tcpdump-$name" | tr '\n' ' ')"
    cp "$WORK/$name.pcap" "$OUT/$name.pcap.tmp"
    mv "$OUT/$name.pcap.tmp" "$OUT/$name.pcap"
    PACKETS="${PACKETS:+$PACKETS+}$n"
  done
  CAPS=()
}

srv() { # peer server args...
  # ip netns exec execs the command: $! is the peer itself.
  ip netns exec "$SRV" "$PEER" server -scenario "$SCEN" -ctl "$CTL" "$@" >>"$WORK/logs/server" 2>&1 9>&- &
  SRVPID=$!
  PIDS+=("$SRVPID")
  wait_file ready
}
cli() { # peer client args...
  ip netns exec "$CLI" "$PEER" client -scenario "$SCEN" -ctl "$CTL" "$@" >>"$WORK/logs/client" 2>&1 9>&- &
  CLIPID=$!
  PIDS+=("$CLIPID")
}

# simple VANTAGE ADDR [SNAPLEN] [TAIL]: capture, server, client; both must
# end by themselves; TAIL seconds for the last packets.
simple() {
  cap_start "$1" "${3:-}"
  srv -addr "$2"
  cli -addr "$2"
  wait_ok "$CLIPID" 20
  wait_ok "$SRVPID" 20
  pause "${4:-0.4}"
  cap_stop
}

# cork NS DEV PEER: a tbf qdisc whose bucket (1514 bytes, stored as 1513)
# can never pay for the full-size UDP frame sent next; the frame stays at the
# head of the queue and everything after it waits, in order. (Should a tc
# store the bucket as 1514 bytes, the frame passes and empties it instead,
# and the next 66-byte packet waits 5 s at 100 bit/s: still corked.)
cork() {
  tc -n "$1" qdisc add dev "$2" root tbf rate 100bit burst 1514 latency 100s
  ip netns exec "$1" "$PEER" udp -to "$3" -size 1472
}
# uncork NS DEV PEER: a fast rate, and one more datagram to make the qdisc
# dequeue (tbf's watchdog is still set for the old rate).
uncork() {
  tc -n "$1" qdisc change dev "$2" root tbf rate 1gbit burst 64kb latency 1s
  ip netns exec "$1" "$PEER" udp -to "$3" -size 1
}

# udp_sink NS: drop the cork/kick datagrams (UDP port 9) on arrival, so no
# ICMP port-unreachable comes back.
udp_sink() {
  nft_load "$1" <<'EOF'
table inet sink {
  chain in {
    type filter hook input priority 0; policy accept;
    udp dport 9 drop
  }
}
EOF
}

# --- the scenarios ------------------------------------------------------------
# Each function records $SCEN into $CAP. Vantage = where tcpdump runs.

sc_client-close() { simple client "$S4:8080"; }
sc_server-close() { simple client "$S4:8080"; }
sc_half-close() { simple client "$S4:8080"; }
sc_keepalive() { simple client "$S4:8080"; }
sc_linger0-abort() { simple client "$S4:8080"; }
sc_ipv6() { simple client "[$S6]:8080"; }
sc_snaplen96() { simple client "$S4:8080" 96; }
sc_port-reuse() { simple client "$S4:8080"; }
sc_abortive-close-server() { simple client "$S4:8080"; }
sc_zero-window() { simple client "$S4:8080"; }

sc_simultaneous-close() {
  # This kernel has no netem (nor the plug qdisc): a corked tbf qdisc on
  # each veth end holds the FINs. After one exchange both ends are corked,
  # both peers close (each FIN is built, with an ACK that cannot cover the
  # other's FIN, and queued: both endpoints are in FIN_WAIT_1), then the
  # client end is uncorked (its FIN reaches the server in FIN_WAIT_1:
  # CLOSING; the server's ACK waits behind its own FIN) and 50 ms later
  # the server end (its FIN reaches the client in FIN_WAIT_1: CLOSING).
  # The cork and kick datagrams go to UDP port 9, dropped at the receiver.
  # rto_min 3s on the lab route: a FIN held in a corked qdisc is "sent" for
  # TCP, and its retransmission timer must not fire before the other side's
  # ACK, corked behind that side's FIN, gets through.
  ip -n "$CLI" route replace 10.77.0.0/24 dev "$CIF" proto kernel scope link src "$C4" rto_min 3s
  ip -n "$SRV" route replace 10.77.0.0/24 dev "$SIF" proto kernel scope link src "$S4" rto_min 3s
  udp_sink "$CLI"
  udp_sink "$SRV"
  cap_start client
  srv -addr "$S4:8080"
  cli -addr "$S4:8080"
  wait_file exchanged-cli
  wait_file exchanged-srv
  pause 0.3 # delayed ACKs out
  cork "$CLI" "$CIF" "$S4"
  cork "$SRV" "$SIF" "$C4"
  touch "$CTL/close"
  wait_file closed-cli
  wait_file closed-srv
  pause 0.05
  uncork "$CLI" "$CIF" "$S4"
  pause 0.05
  uncork "$SRV" "$SIF" "$C4"
  touch "$CTL/released"
  wait_ok "$CLIPID" 10
  wait_ok "$SRVPID" 10
  pause 0.4
  cap_stop
}

sc_refused() {
  cap_start client
  cli -addr "$S4:9"
  wait_ok "$CLIPID" 10
  pause 0.2
  cap_stop
}

sc_midstream() {
  srv -addr "$S4:8080"
  cli -addr "$S4:8080"
  wait_file connected
  cap_start client
  touch "$CTL/go"
  wait_ok "$CLIPID" 10
  wait_ok "$SRVPID" 10
  pause 0.4
  cap_stop
}

sc_syn-retransmit() {
  # Drop the first SYN of every source address and port; its
  # retransmission (1 s later) gets through.
  nft_load "$SRV" <<'EOF'
table inet ws {
  set seen {
    type ipv4_addr . inet_service
    flags dynamic
  }
  chain in {
    type filter hook input priority 0; policy accept;
    tcp dport 8080 tcp flags & (syn|ack) == syn ip saddr . tcp sport != @seen add @seen { ip saddr . tcp sport } counter drop
  }
}
EOF
  simple client "$S4:8080"
}

sc_lost-final-ack() {
  # In the server's input hook, after the client's FIN (ct mark 1), drop the
  # first pure ACK from the client (the final ACK of the active closer) and
  # mark the connection (ct mark 2) so the client's next ACK passes.
  # tcpdump on the client side sees the ACK leave.
  nft_load "$SRV" <<'EOF'
table inet ws {
  chain in {
    type filter hook input priority 0; policy accept;
    tcp dport 8080 tcp flags & (fin|syn|rst) == fin ct mark set 1
    tcp dport 8080 ct mark 1 tcp flags & (fin|syn|rst|ack) == ack ct mark set 2 counter drop
  }
}
EOF
  simple client "$S4:8080" "" 1.0
}

# syn_recv PORT: the server holds a request socket (SYN-RECV) for the
# client port.
syn_recv() {
  [[ -n $(ip netns exec "$SRV" ss -Htn state syn-recv "( dport = :$1 )") ]]
}

# overflow_setup: see overflowConns in peer/scenarios.go. The server's
# egress is corked while 41001's and then 41002's SYNs arrive, so both get
# a request socket before either handshake can complete.
overflow_setup() { # [SERVER_HOST CLIENT_HOST]: IPv4 by default
  local sh=${1:-$S4} ch=${2:-$C4}
  [[ $sh == *:* ]] && sh="[$sh]"
  cap_start server
  srv -addr "$sh:8080"
  cli -addr "$sh:8080" -local "$ch"
  wait_file first
  cork "$SRV" "$SIF" "$C4"
  touch "$CTL/dial1"
  wait_for 10 syn_recv 41001
  touch "$CTL/dial2"
  wait_for 10 syn_recv 41002
  uncork "$SRV" "$SIF" "$C4"
}

sc_accept-queue-overflow-rst() { # [SERVER_HOST CLIENT_HOST]
  sysctls "$SRV" net.ipv4.tcp_abort_on_overflow=1 net.ipv4.tcp_syncookies=0
  udp_sink "$CLI"
  overflow_setup "$@"
  wait_file done 10
  pause 0.3
  cap_stop
  stop "$CLIPID"
  stop "$SRVPID"
}

sc_accept-queue-overflow-drop() { # [SERVER_HOST CLIENT_HOST]
  sysctls "$SRV" net.ipv4.tcp_abort_on_overflow=0 net.ipv4.tcp_syncookies=0 net.ipv4.tcp_synack_retries=2
  udp_sink "$CLI"
  overflow_setup "$@"
  # Start accepting 1.2 s after the client's write: after the SYN-ACK
  # retransmission (+1 s after the SYN-ACK) and a few of 41002's data
  # retransmissions; the next one creates the child.
  wait_file written 10
  pause 1.2
  touch "$CTL/accept"
  wait_ok "$CLIPID" 20
  pause 0.4
  cap_stop
  stop "$SRVPID"
}

# The same over IPv6 (the net.ipv4.tcp_* sysctls apply to IPv6 too; the
# cork frames stay IPv4, they only have to fill the qdisc).
sc_accept-queue-overflow-rst-v6() { sc_accept-queue-overflow-rst "$S6" "$C6"; }
sc_accept-queue-overflow-drop-v6() { sc_accept-queue-overflow-drop "$S6" "$C6"; }

# The server reads the request and aborts (SO_LINGER 0) at once: recorded
# at the server, where its RST follows the request by microseconds.
sc_app-abort-after-request() { simple server "$S4:8080"; }

sc_tw-reuse() {
  # The client closes first and reconnects from the same port while its
  # old socket is in TIME_WAIT; tcp_tw_reuse=1 (the default 2 is loopback
  # only) lets connect() take it over, with timestamps on (the default).
  sysctls "$CLI" net.ipv4.tcp_tw_reuse=1 net.ipv4.tcp_timestamps=1
  simple client "$S4:8080"
}

sc_both-sides() {
  # One client-close connection recorded by two tcpdumps at once: at the
  # client's veth end and at the server's.
  cap_start client "" both-sides-client
  cap_start server "" both-sides-server
  srv -addr "$S4:8080"
  cli -addr "$S4:8080"
  wait_ok "$CLIPID" 20
  wait_ok "$SRVPID" 20
  pause 0.4
  cap_stop
}

sc_middlebox-reset() { # [SERVER_HOST]: IPv4 by default
  # The router resets the connection once the client sends data, as a
  # firewall or IPS does: the client's first data segment adds its port to
  # @cut and is rejected with a RST in the server's name (to the client);
  # every later segment of that port, either way, is rejected likewise, so
  # the server's line after 300 ms without a request gets a RST in the
  # client's name. Sets, not conntrack: after the first RST conntrack may
  # call the next segments invalid and leave them unmarked.
  local host=${1:-$S4}
  [[ $host == *:* ]] && host="[$host]"
  routed_up
  nft_load "$RTR" <<'EOF'
table inet ws {
  set cut {
    type inet_service
    flags dynamic
  }
  chain relay {
    type filter hook forward priority 0; policy accept;
    tcp dport 8080 tcp sport @cut counter reject with tcp reset
    tcp sport 8080 tcp dport @cut counter reject with tcp reset
    tcp dport 8080 tcp flags & psh == psh add @cut { tcp sport } counter reject with tcp reset
  }
}
EOF
  if [[ -n ${1:-} ]]; then
    cap_start client
  else
    cap_start client "" middlebox-reset-client
    cap_start server "" middlebox-reset-server
  fi
  srv -addr "$host:8080"
  cli -addr "$host:8080"
  wait_ok "$CLIPID" 10
  wait_ok "$SRVPID" 10
  pause 0.3
  cap_stop
}
sc_middlebox-reset-v6() { sc_middlebox-reset "$S6"; }

sc_syn-unanswered() {
  # The listener exists; its SYNs are dropped in the server's input hook.
  sysctls "$CLI" net.ipv4.tcp_syn_retries=2
  nft_load "$SRV" <<'EOF'
table inet ws {
  chain in {
    type filter hook input priority 0; policy accept;
    tcp dport 8080 tcp flags & (syn|ack) == syn counter drop
  }
}
EOF
  cap_start client
  srv -addr "$S4:8080"
  cli -addr "$S4:8080"
  wait_ok "$CLIPID" 20
  pause 0.2
  cap_stop
  stop "$SRVPID"
}

sc_syn-flood() {
  # 220 SYNs from 220 spoofed addresses of 10.78.0.0/16 (raw socket in
  # ws-cli). ws-srv routes 10.78/16 back over the veth; ws-cli does not
  # forward and drops them in prerouting, so no RST ever comes back and
  # the server retransmits its SYN-ACKs (tcp_synack_retries=2: at +1 s and
  # +3 s).
  sysctls "$SRV" net.ipv4.tcp_synack_retries=2 net.ipv4.tcp_max_syn_backlog=1024
  sysctls "$CLI" net.ipv4.ip_forward=0
  ip -n "$SRV" route add 10.78.0.0/16 via "$C4" dev "$SIF"
  nft_load "$CLI" <<'EOF'
table inet ws {
  chain pre {
    type filter hook prerouting priority -300; policy accept;
    ip daddr 10.78.0.0/16 counter drop
  }
}
EOF
  cap_start server
  srv -addr "$S4:8080"
  in_cli "$PEER" flood -dst "$S4:8080" -net 10.78 -n 220 -gap 2ms >>"$WORK/logs/client" 2>&1
  pause 3.6
  cap_stop
  stop "$SRVPID"
}

sc_close-wait-stuck() {
  cap_start client
  srv -addr "$S4:8080"
  cli -addr "$S4:8080"
  wait_ok "$CLIPID" 10
  wait_file eof
  pause 8.7 # the server's keepalive probes come at +2, +4, +6, +8 s
  cap_stop
  stop "$SRVPID"
}

sc_half-open() {
  # The server dies (SIGKILL) while ws-srv drops everything it sends, so
  # its kernel's RST never arrives; then the rule goes and the client's
  # next segment meets a kernel without the connection.
  cap_start client
  srv -addr "$S4:8080"
  cli -addr "$S4:8080"
  wait_file sent
  nft_load "$SRV" <<'EOF'
table inet crash {
  chain out {
    type filter hook output priority 0; policy accept;
    tcp sport 8080 counter drop
  }
}
EOF
  stop "$SRVPID"
  pause 0.3
  in_srv nft delete table inet crash
  touch "$CTL/go"
  wait_ok "$CLIPID" 10
  pause 0.3
  cap_stop
}

sc_stale-segment() {
  cap_start server
  srv -addr "$S4:8080"
  cli -addr "$S4:8080"
  wait_file inject
  in_cli "$PEER" inject -pcap "$CAP" -from "$C4:43000" -to "$S4:8080" >>"$WORK/logs/client" 2>&1
  touch "$CTL/injected"
  wait_ok "$CLIPID" 10
  wait_ok "$SRVPID" 10
  pause 0.4
  cap_stop
}

sc_mixed() {
  # A few thousand connections with behaviours drawn from a seed (peer
  # mixed.go); the client writes the labels, copied to OUT/mixed.labels.json.
  # Client ports are bound by the client: 30000-30999 are the lost-final-ack
  # connections, whose final ACK the server's input hook drops (as in
  # lost-final-ack). The accept-queue bursts run after the concurrent phase
  # with tcp_abort_on_overflow=1, then (the client asks) with 0.
  sysctls "$SRV" net.ipv4.tcp_abort_on_overflow=1 net.ipv4.tcp_syncookies=0
  udp_sink "$SRV"
  nft_load "$SRV" <<'EOF'
table inet ws {
  chain in {
    type filter hook input priority 0; policy accept;
    tcp dport 8080 tcp sport 30000-30999 tcp flags & (fin|syn|rst) == fin ct mark set 1
    tcp dport 8080 tcp sport 30000-30999 ct mark 1 tcp flags & (fin|syn|rst|ack) == ack ct mark set 2 counter drop
  }
}
EOF
  # The client's corkable band (see corked in mixed.go): an htb qdisc
  # (this kernel has no prio qdisc nor fw classifier) sending everything to
  # class 1:1 except, by u32 filters, SYNs from ports 28672-29695 and UDP to
  # port 9, which go to 1:3, whose tbf (30:) the client corks and uncorks.
  tc -n "$CLI" qdisc add dev "$CIF" root handle 1: htb default 1
  tc -n "$CLI" class add dev "$CIF" parent 1: classid 1:1 htb rate 10gbit 2>/dev/null
  tc -n "$CLI" class add dev "$CIF" parent 1: classid 1:3 htb rate 10gbit 2>/dev/null
  tc -n "$CLI" qdisc add dev "$CIF" parent 1:3 handle 30: tbf rate 1gbit burst 64kb latency 1s
  tc -n "$CLI" filter add dev "$CIF" parent 1: protocol ip prio 1 u32 \
    match ip protocol 6 0xff match ip sport 28672 0xfc00 match u8 0x02 0x12 at 33 flowid 1:3
  tc -n "$CLI" filter add dev "$CIF" parent 1: protocol ip prio 2 u32 \
    match ip protocol 17 0xff match ip dport 9 0xffff flowid 1:3
  CAPBUF=65536 # KiB: thousands of connections in seconds; no drop allowed
  cap_start client
  srv -addr "$S4:8080"
  cli -addr "$S4:8080"
  wait_file phase-drop 120
  sysctls "$SRV" net.ipv4.tcp_abort_on_overflow=0
  touch "$CTL/phase-drop-go"
  wait_ok "$CLIPID" 60
  pause 1.0 # the last lost final ACKs' FIN retransmissions
  cap_stop
  touch "$CTL/finished"
  wait_ok "$SRVPID" 10
  cp "$CTL/labels.json" "$OUT/mixed.labels.json.tmp"
  mv "$OUT/mixed.labels.json.tmp" "$OUT/mixed.labels.json"
}

# --- main ---------------------------------------------------------------------

mkdir -p "$WORK/logs"
PEER=$WORK/peer
log "building peer"
(cd "$REPO" && go build -buildvcs=false -o "$PEER" ./pcaps/lab/peer)

t0=$SECONDS
for SCEN in "${want[@]}"; do
  CTL=$WORK/ctl-$SCEN
  rm -f "$WORK"/logs/*
  start=$SECONDS
  ns_up
  "sc_$SCEN"
  ns_del
  log "$(printf '%-30s %5s packets  %2ss  -> %s' "$SCEN" "$PACKETS" $((SECONDS - start)) "$(for n in ${MULTI[$SCEN]:-$SCEN}; do printf '%s ' "$OUT/$n.pcap"; done)")"
done
SCEN=""
log "recorded ${#want[@]} capture(s) in $((SECONDS - t0))s"
