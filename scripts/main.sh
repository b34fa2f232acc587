#!/usr/bin/env bash
# The main job: set everything up, build the sandbox lab and run one full cycle on it —
# observe, deploy the example stack (all nine patterns), check its health and drift,
# back up and restore-test the photos, predict, answer a question, show the health.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
hlo=.venv/bin/homelab-ops
step() { printf '\n== %s\n' "$*"; }

step "lab up";            $hlo lab up
lab_json=$($hlo lab status --json)
lab_get() { .venv/bin/python -c "import json,sys; d=json.loads(sys.argv[1]); print($1)" "$lab_json"; }
# the example stack's database secret: yours, or a throwaway kept in the lab (so a
# second run deploys the same secret and changes nothing)
secret="$(lab_get 'd["lab_dir"]')/db-password"
[[ -f $secret ]] || (umask 077; head -c 18 /dev/urandom | base64 > "$secret")
export LAB_DB_PASSWORD=${LAB_DB_PASSWORD:-$(cat "$secret")}
step "observe";           $hlo observe >/dev/null && echo "observed"
# --force: a new lab has no history yet for the capacity check to forecast from
step "deploy";            $hlo deploy examples/lab-stack.yaml --force
step "health";            $hlo health
step "drift";             $hlo drift
step "observe";           $hlo observe >/dev/null && echo "observed"
# some family photos for the backup to protect (kept across runs: the pool persists)
photos="$(lab_get 'next(p["mountpoint"] for p in d["pools"] if p["name"] == "data")')/photos"
mkdir -p "$photos/2026"
for n in 1 2 3; do
  [[ -f $photos/2026/img_$n.jpg ]] || head -c 200000 /dev/urandom > "$photos/2026/img_$n.jpg"
done
step "backup run";        $hlo backup run
step "backup verify";     $hlo backup verify
step "predict";           $hlo predict
step "ask";               $hlo ask "what services are using the most memory"
step "status";            $hlo status
