#!/usr/bin/env bash
# Idempotent set-up for a Debian 12 machine, as root: the system packages homelab-ops and
# its lab need, then .venv with the project and its dev extras. A re-run installs only
# what is missing and skips pip when pyproject.toml has not changed.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  podman runc               # containers (the lab passes its own CONTAINERS_CONF)
  btrfs-progs libbtrfsutil-dev  # BTRFS tools and the C library btrfsutil builds against
  openssh-server openssh-client  # the lab's sshd on 127.0.0.1 and the ssh client
  busybox-static            # the lab's stand-in container image
  systemd                   # systemd-analyze verify/calendar for rendered units
  util-linux mount          # losetup, mount
  python3 python3-venv python3-dev gcc pkg-config  # building btrfsutil
  prometheus prometheus-node-exporter  # tests run them on ports of their own
  qemu-system-x86 qemu-utils debootstrap e2fsprogs  # the lab VM host (lab-vm)
  chromium                  # headless: a test opens the HTML report in it
)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  # Packages are installed, never started as services: the tests start prometheus,
  # node_exporter and sshd themselves on 127.0.0.1 ports of their own (policy-rc.d 101
  # tells the packages' scripts not to start them; an existing policy is left alone).
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

python=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || { echo "setup: need Python >= 3.11 ($python is older)" >&2; exit 1; }
  "$python" -m venv .venv
fi
stamp=.venv/.homelab-ops-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  echo "setup: installing homelab-ops into .venv"
  .venv/bin/pip install --quiet --disable-pip-version-check -e '.[dev]'
  echo "$want" > "$stamp"
fi
