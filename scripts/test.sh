#!/usr/bin/env bash
# Sets everything up and runs every test: go vet, then all tests with the
# race detector (make test), then each fuzz target for a bounded time
# (make fuzz, FUZZTIME=20s). As root, tests that need namespaces also run.
set -euo pipefail
cd "$(dirname "$0")/.."
SETUP_TESTS=1 source scripts/setup.sh
make test
make fuzz FUZZTIME="${FUZZTIME:-20s}"
