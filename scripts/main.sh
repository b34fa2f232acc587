#!/usr/bin/env bash
# Set everything up, build the sandbox lab, observe it and show its health.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
hlo=.venv/bin/homelab-ops
$hlo lab up
$hlo observe >/dev/null
$hlo status
