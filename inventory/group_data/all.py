"""Defaults for every host. Override per host in the inventory or per group in a file
named after the group (e.g. group_data/homelab.py).

pyinfra loads this directory automatically when it sits next to the inventory file.
GENERATED from homelab_ops.models.inventory.HostData: do not edit; change the model and
run `UPDATE_GOLDEN=1 pytest tests/unit/test_host_data.py`.
"""

# -- The host ----------------------------------------------------------------------------

# _env (dict[str, str]): pyinfra's environment for every fact and operation; the lab
# points CONTAINERS_CONF/CONTAINERS_STORAGE_CONF at its private podman configuration
# [pyinfra's own key]
# _env = {}

# ssh_hostname (str | None): pyinfra's SSH address (None: the inventory name); health
# checks use it too [pyinfra's own key]
# ssh_hostname = None

# ssh_port (int | None): pyinfra's SSH port (None: SSH's default) [pyinfra's own key]
# ssh_port = None

# ssh_user (str | None): pyinfra's SSH user: root runs rootful podman, another user
# rootless podman [pyinfra's own key]
# ssh_user = None

# ssh_key (str | None): pyinfra's SSH private key file [pyinfra's own key]
# ssh_key = None

# ssh_known_hosts_file (str | None): pyinfra's known_hosts file; health checks then check
# the host key strictly [pyinfra's own key]
# ssh_known_hosts_file = None

# systemd (bool | None): whether systemd runs quadlet units here: None detects systemd as
# PID 1; False runs the same container specs through plain `podman run` (the lab backend)
systemd = None

# systemd_user (bool | None): deploy, restart and stop containers through the user's
# systemd manager (`systemctl --user`) where systemd runs them: None when the SSH user is
# not root (rootless podman)
systemd_user = None

# btrfs_pools (dict[str, str]): BTRFS pools by name -> mount point, for snapshots, backups
# and capacity checks
btrfs_pools = {}

# alias_of (str | None): another inventory name of the same machine (e.g. "@local" for an
# SSH alias of it): observed like any host, never acted through, so one fault is
# remediated once
alias_of = None

# lab_dir (str | None): the sandbox lab's directory, written by `homelab-ops lab up`: its
# units and quadlets live below it [set by homelab-ops, not by you]
# lab_dir = None

# -- BTRFS backups (homelab_ops.models.backup.BackupConfig; deploys/backup.py) -----------

# backup (dict[str, Any] | None): the subvolumes to snapshot and where to send them
# (homelab_ops.models.backup.BackupConfig, validated where it is used). A copy changed
# after its receive is never an incremental parent: its ctransid is read on the target by
# its "python" (target field, default "python3", which needs python3-btrfsutil); a target
# without it backs up all the same, with one warning line, and only restore tests catch
# such a copy there
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
backup = {'volumes': []}

# backup_schedule (str | None): limit a deploys/backup.py run to volumes of this schedule
# ("daily" / "weekly")
backup_schedule = None

# backup_rotate_early (bool): prune the backup target down to its min_keep window (the
# agent sets it from the space forecast; by hand: `--data backup_rotate_early=True`) [set
# by homelab-ops, not by you]
# backup_rotate_early = False

# backup_unusable (dict[str, dict[str, str]]): target folder -> copy name -> why that copy
# is no incremental parent [set by homelab-ops, not by you]
# backup_unusable = {}

# -- Timers (deploys/backup_timers.py, the cycle and report timers) ----------------------

# systemd_unit_dir (str | None): where timer unit files go (None: /etc/systemd/system, or
# <lab_dir>/systemd in the lab)
systemd_unit_dir = None

# homelab_ops_exe (str): the agent the timers run (absolute path)
homelab_ops_exe = '/usr/local/bin/homelab-ops'

# homelab_ops_inventory (str | None): the inventory the timers' runs work on (None: the
# agent's settings)
homelab_ops_inventory = None

# homelab_ops_state_dir (str | None): the timers' runs' state directory (None: the agent's
# default)
homelab_ops_state_dir = None

# -- Stacks (homelab_ops.stacks; deploys/stack.py) ---------------------------------------

# quadlet_dir (str | None): where quadlet units are written (None: /etc/containers/systemd
# for root, ~/.config/containers/systemd rootless, or <lab_dir>/quadlet in the lab)
quadlet_dir = None

# stack_file (str | None): the stack file `pyinfra INVENTORY deploys/stack.py` deploys
# ($HOMELAB_OPS_STACK wins)
stack_file = None

# lab_image (str | None): replace every pattern's image with this one (the lab's busybox
# stand-in; no registry)
lab_image = None

# -- One deploys/remediate.py run: pyinfra --data KEY=VALUE ------------------------------

# playbook (str | None): the playbook to run: restart, restart-leaking, free-disk or
# rotate-snapshots [set with --data]
# playbook = None

# service (str | None): the container the restart playbooks restart [set with --data]
# service = None

# journal_max (str | None): free-disk also vacuums the journal to this size (e.g. 200M;
# systemd hosts) [set with --data]
# journal_max = None
