"""Defaults for every host. Override per host in the inventory or per group in a file
named after the group (e.g. group_data/homelab.py).

pyinfra loads this directory automatically when it sits next to the inventory file.
"""

# pyinfra's own default for the `_env` argument of every fact and operation. Empty on a
# normal host; the lab sets CONTAINERS_CONF/CONTAINERS_STORAGE_CONF to its private podman
# configuration here, so facts and deploys see the lab's containers.
_env: dict[str, str] = {}

# Whether systemd runs quadlet units on this host. None means detect (systemd as PID 1);
# False runs the same container specs through plain `podman run` (the lab backend).
systemd = None

# BTRFS pools by name -> mount point, for snapshots, backups and capacity checks.
btrfs_pools: dict[str, str] = {}
