#!/usr/bin/env bash
# Set everything up, then run the whole test suite (unit and lab tiers). pytest exits
# non-zero when it collected no test, so "no tests" fails too.
#
# Without arguments the suite runs as two pytest sessions side by side, each on a lab of
# its own: the tests marked `vm` (long runs on lab-vm, whose emulated CPU makes them the
# slow half) and all the others. They share only the machine and the cached VM image:
# two labs coexist by design (each owns its directory, podman storage and networks,
# ports and loop devices). The others' report comes first, then the vm one, whole; the
# run fails when either fails. PYTEST_ADDOPTS reaches both sessions (e.g.
# --durations=30). Arguments run one pytest session with them, as given.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
py=.venv/bin/python
if [ "$#" -gt 0 ]; then
    exec "$py" -m pytest "$@"
fi

vm_log=$(mktemp /tmp/homelab-ops-vm-tests.XXXXXX)
echo "pytest -m vm runs beside this session; its report follows (live: $vm_log)"
# job control on for this start only: a script's plain `&` child ignores SIGINT, and
# the trap below could not interrupt it
set -m
"$py" -m pytest -m vm </dev/null >"$vm_log" 2>&1 &
vm_pid=$!
set +m
# an interrupted run interrupts both sessions: each takes its own lab down
trap 'kill -INT "$vm_pid" 2>/dev/null || true' INT TERM
status=0
"$py" -m pytest -m "not vm" || status=$?
vm_status=0
wait "$vm_pid" || vm_status=$?
trap - INT TERM
echo "=== pytest -m vm (run beside the session above) ==="
cat "$vm_log"
rm -f "$vm_log"
if [ "$status" -ne 0 ] || [ "$vm_status" -ne 0 ]; then
    echo "FAILED: pytest -m 'not vm' exited $status, pytest -m vm exited $vm_status" >&2
    exit 1
fi
