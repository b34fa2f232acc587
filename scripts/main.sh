#!/usr/bin/env bash
# The main job: set everything up, build the sandbox lab (with its VM host lab-vm),
# deploy the example stack (all nine patterns) and a quadlet stack on lab-vm, back up,
# then break it for real and let the autonomous cycle remediate it under its gates: observe, decide (with every gate's verdict), act (a
# pre-action snapshot, the playbook, verification), and show the decision log.
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
# the VM host runs its stack the way real homelabs do: quadlet units under systemd
step "deploy to lab-vm";  $hlo deploy examples/lab-vm-stack.yaml --force
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

# the lab's settings: its traefik runs the stand-in image, so protect it by its service
# name too (a real traefik is protected by its image name); the faults below are
# injected a second before the cycle, so it must probe rather than reuse the
# observation the steps above just made
lab_dir=$(lab_get 'd["lab_dir"]')
if [[ -z ${HOMELAB_OPS_CONFIG:-} ]]; then
  export HOMELAB_OPS_CONFIG=$lab_dir/settings.toml
  cat > "$HOMELAB_OPS_CONFIG" <<'TOML'
protected_services = ["traefik", "authelia", "proxy"]
[loop]
fresh_observation_seconds = 0
TOML
fi
lab_podman() {
  CONTAINERS_CONF=$lab_dir/podman/containers.conf \
    CONTAINERS_STORAGE_CONF=$lab_dir/podman/storage.conf podman "$@"
}
step "inject faults"
lab_podman kill home-media  >/dev/null && echo "killed home-media (its data is on the backed-up pool: low risk)"
lab_podman kill home-db     >/dev/null && echo "killed home-db (a database: medium risk, notify then execute)"
lab_podman stop -t 1 home-proxy >/dev/null && echo "stopped home-proxy (traefik: protected, never restarted)"
lab_podman kill home-whoami >/dev/null && echo "killed home-whoami (keeps no data on a backed-up subvolume: no snapshot, no action)"
ssh -F "$lab_dir/ssh/ssh_config" lab-vm podman kill vmhome-db >/dev/null
echo "killed vmhome-db on lab-vm (systemd restarts its unit itself: Restart=always)"
step "cycle";             $hlo cycle
step "decisions";         $hlo decisions --since 1h
step "decisions verify";  $hlo decisions verify
step "cycle again: acts on nothing new"; $hlo cycle
step "ops status";        $hlo ops status
step "ask";               $hlo ask "what did the autonomous loop do today"
step "status";            $hlo status
