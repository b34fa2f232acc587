#!/usr/bin/env bash
# Set everything up, build the sandbox lab and show what homelab-ops observes in it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/homelab-ops lab up
