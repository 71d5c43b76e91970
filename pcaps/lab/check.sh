#!/usr/bin/env bash
# check.sh — re-record the sample captures on this kernel into a temporary
# directory and verify, packet by packet, that each still shows what
# pcaps/manifest.json says (peer check: the scenario's key packets, wire-sized
# segments with valid checksums, snaplen, IP version, connection count and
# every conns match of the manifest).
#
#   bash pcaps/lab/check.sh                    # every scenario
#   bash pcaps/lab/check.sh refused ipv6       # only these
#   OUT=/tmp/x bash pcaps/lab/check.sh         # record into /tmp/x (kept)
#   KEEP=1 bash pcaps/lab/check.sh             # keep the temporary directory
#   bash pcaps/lab/check.sh --committed        # check pcaps/*.pcap as committed
#                                              # (no recording, no root needed)
#
# Exit status: 0 all captures show their scenario; 1 recording or a check
# failed; 77 not root (callers skip: re-recording needs network namespaces,
# nftables and tcpdump).
set -euo pipefail

LAB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$LAB/../.." && pwd)
MANIFEST=$REPO/pcaps/manifest.json

peer_check() { # DIR [SCENARIO...]
  local dir=$1; shift
  local only=()
  if [[ $# -gt 0 ]]; then only=(-only "$(IFS=,; echo "$*")"); fi
  (cd "$REPO" && go run -buildvcs=false ./pcaps/lab/peer check -dir "$dir" -manifest "$MANIFEST" "${only[@]}")
}

if [[ ${1:-} == --committed ]]; then
  shift
  peer_check "$REPO/pcaps" "$@"
  exit
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "check.sh: not root: re-recording the captures needs root (network namespaces, nftables, tcpdump); skipping" >&2
  exit 77
fi

if [[ -z ${OUT:-} ]]; then
  OUT=$(mktemp -d /tmp/wirestate-pcaps.XXXXXX)
  if [[ ${KEEP:-0} != 1 ]]; then trap 'rm -rf "$OUT"' EXIT; fi
fi
mkdir -p "$OUT"

OUT=$OUT bash "$LAB/record.sh" "$@"
peer_check "$OUT" "$@"
echo "check.sh: the captures re-recorded in $OUT show what pcaps/manifest.json says"
