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

# Another inventory name of the same machine (e.g. "@local" for an SSH alias of it): it
# is observed like any host, but the autonomous cycle never acts through it, so one
# fault is never remediated twice.
alias_of = None

# -- BTRFS backups (homelab_ops.models.backup.BackupConfig; deploys/backup.py) ----------
# Nothing is backed up until you list volumes. Example:
#   backup = {
#       "volumes": [
#           {"subvolume": "containers", "pool": "data"},            # daily, 14d / 2d min
#           {"subvolume": "media", "pool": "data", "schedule": "weekly",
#            "target_retention": {"preserve": "8w 6m", "min_keep": "latest"}},
#       ],
#       "target": {"pool": "backup", "dir": "snapshots"},  # or {"path": ..., "ssh": ...}
#   }
# Retention is btrbk's: "preserve": "14d 8w 6m *y", "min_keep": "2d|latest|all|no",
# "preserve_day_of_week": "sunday", "preserve_hour_of_day": 0.
# Defaults: snapshots "14d" / min_keep "2d"; target "14d 8w 6m *y" / min_keep "14d".
# The target's min_keep is what early rotation (a pessimistic space forecast within
# "forecast_horizon_days", default 7) prunes the backups down to: keep it a real
# window; "latest" would leave one copy.
# A "pool" target must be mounted (an unplugged backup disk fails the run, it never
# receives onto the root filesystem) and only the last folder of "dir" is created; a
# "path" target holds one folder per host, <path>/<dir>/<host> (@local: the machine's
# host name), and <path>/<dir> must exist. The target folder may not be a snapshot
# folder, two volumes sent to one target need different subvolume names, and
# "restore_scratch_dir" (default ".restore-test", next to the target folder) may not
# overlap a target, snapshot or subvolume folder.
# A copy changed after its receive is never an incremental parent: its ctransid is read
# on the target by "python" there (target field, default "python3"; it needs
# python3-btrfsutil). A target without it backs up all the same, with one warning line:
# there only restore tests catch such a copy.
backup: dict = {"volumes": []}
# Limit a deploys/backup.py run to volumes with this schedule ("daily" / "weekly").
backup_schedule = None
# Timers (deploys/backup_timers.py): where unit files go (None: /etc/systemd/system, or
# <lab_dir>/systemd in the lab), the agent they run, the inventory it backs up (None:
# the agent's settings) and its state directory (None: the agent's default).
systemd_unit_dir = None
homelab_ops_exe = "/usr/local/bin/homelab-ops"
homelab_ops_inventory = None
homelab_ops_state_dir = None

# -- Stacks (homelab_ops.stacks; deploys/stack.py) ---------------------------------------
# Where quadlet units are written. None: /etc/containers/systemd for root,
# ~/.config/containers/systemd rootless, or <lab_dir>/quadlet in the sandbox lab.
quadlet_dir = None
# The stack file `pyinfra INVENTORY deploys/stack.py` deploys ($HOMELAB_OPS_STACK wins).
stack_file = None
# Replace every pattern's image with this one (the lab's busybox stand-in; no registry).
lab_image = None
