#!/usr/bin/env bash
# Set everything up, then run the whole test suite (unit and lab tiers). Extra arguments
# go to pytest. pytest exits non-zero when it collected no test, so "no tests" fails too.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
