#!/usr/bin/env bash
# Installs what building and testing wirestate needs on a Debian machine:
# libpcap-dev (the live-capture path links libpcap), gcc for cgo, make,
# tcpdump, nftables and iproute2 for the kernel lab, and a Go toolchain;
# with SETUP_TESTS=1 also what only the tests use: chromium (the HTML
# report's browser test), tshark (the decoder's cross-check), bc and python3.
# Idempotent; needs root for apt-get when something is missing.
set -euo pipefail

need=()
pkgs="libpcap-dev gcc make tcpdump nftables iproute2 ca-certificates git"
if [ "${SETUP_TESTS:-0}" = 1 ]; then
	pkgs="$pkgs chromium tshark bc python3"
fi
for pkg in $pkgs; do
	dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
	echo "setup: installing ${need[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq "${need[@]}" >/dev/null
fi

for d in /usr/local/go/bin "$HOME/go/bin"; do
	case ":$PATH:" in *":$d:"*) ;; *) [ -d "$d" ] && PATH="$d:$PATH" ;; esac
done
if ! command -v go >/dev/null 2>&1; then
	echo "setup: installing Go (Debian's golang-go; go.mod's toolchain comes through the module proxy)" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go >/dev/null
fi
export PATH GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"
cd "$(dirname "$0")/.."
go mod download
