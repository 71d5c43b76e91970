#!/usr/bin/env bash
# Sets everything up and runs every test: go vet, then all tests with the
# race detector (make test). As root, tests that need namespaces also run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
make test
