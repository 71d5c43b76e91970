#!/usr/bin/env bash
# Sets everything up and runs wirestate on a bundled sample capture.
# Usage: bash scripts/sample.sh [CAPTURE] [wirestate flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
go build -o bin/wirestate ./cmd/wirestate
capture=${1:-pcaps/lost-final-ack.pcap}
shift || true
exec bin/wirestate -r "$capture" "$@"
