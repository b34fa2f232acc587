"""Every host data key homelab-ops reads from a pyinfra inventory, declared once with its
type, default and meaning. ``inventory/group_data/all.py`` is generated from this model
(``homelab_ops.models.group_data``); readers take defaults from it with ``host_value``.
Other keys belong to pyinfra or the user and pass through (``extra="allow"``)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# who sets a key: the user's inventory; pyinfra (its connector/global-argument keys,
# which group data may only mention in comments: a present key overrides pyinfra's own
# default); the agent or the lab, passing it to a deploy (internal); or `--data` on the
# plain pyinfra CLI for one deploy file
Owner = Literal["user", "pyinfra", "internal", "deploy"]
Section = Literal["host", "backup", "timers", "stacks", "deploy"]

# where units go when host data says nothing (and the host is no lab)
SYSTEMD_UNIT_DIR = "/etc/systemd/system"
QUADLET_DIR_ROOT = "/etc/containers/systemd"
QUADLET_DIR_USER = ".config/containers/systemd"  # below the connecting user's home
HOMELAB_OPS_EXE = "/usr/local/bin/homelab-ops"


def _key(default: Any, meaning: str, section: Section, owner: Owner = "user",
         alias: str | None = None) -> Any:
    """A declared key; pydantic copies a mutable default for every use."""
    return Field(default, description=meaning, alias=alias,
                 json_schema_extra={"section": section, "owner": owner})


class HostData(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    # -- the host -------------------------------------------------------------------------
    env: dict[str, str] = _key(
        {}, "pyinfra's environment for every fact and operation; the lab points "
        "CONTAINERS_CONF/CONTAINERS_STORAGE_CONF at its private podman configuration",
        "host", "pyinfra", alias="_env")
    ssh_hostname: str | None = _key(
        None, "pyinfra's SSH address (None: the inventory name); health checks use it too",
        "host", "pyinfra")
    ssh_port: int | None = _key(None, "pyinfra's SSH port (None: SSH's default)",
                                "host", "pyinfra")
    ssh_user: str | None = _key(
        None, "pyinfra's SSH user: root runs rootful podman, another user rootless podman",
        "host", "pyinfra")
    ssh_key: str | None = _key(None, "pyinfra's SSH private key file", "host", "pyinfra")
    ssh_known_hosts_file: str | None = _key(
        None, "pyinfra's known_hosts file; health checks then check the host key strictly",
        "host", "pyinfra")
    systemd: bool | None = _key(
        None, "whether systemd runs quadlet units here: None detects systemd as PID 1; "
        "False runs the same container specs through plain `podman run` (the lab backend)",
        "host")
    systemd_user: bool | None = _key(
        None, "deploy, restart and stop containers through the user's systemd manager "
        "(`systemctl --user`) where systemd runs them: None when the SSH user is not "
        "root (rootless podman)", "host")
    btrfs_pools: dict[str, str] = _key(
        {}, "BTRFS pools by name -> mount point, for snapshots, backups and capacity "
        "checks", "host")
    alias_of: str | None = _key(
        None, "another inventory name of the same machine (e.g. \"@local\" for an SSH alias "
        "of it): observed like any host, never acted through, so one fault is remediated "
        "once", "host")
    lab_dir: str | None = _key(
        None, "the sandbox lab's directory, written by `homelab-ops lab up`: its units "
        "and quadlets live below it", "host", "internal")

    # -- BTRFS backups --------------------------------------------------------------------
    backup: dict[str, Any] | None = _key(
        {"volumes": []}, "the subvolumes to snapshot and where to send them "
        "(homelab_ops.models.backup.BackupConfig, validated where it is used). A copy "
        "changed after its receive is never an incremental parent: its ctransid is read "
        "on the target by its \"python\" (target field, default \"python3\", which needs "
        "python3-btrfsutil); a target without it backs up all the same, with one warning "
        "line, and only restore tests catch such a copy there", "backup")
    backup_schedule: str | None = _key(
        None, "limit a deploys/backup.py run to volumes of this schedule "
        "(\"daily\" / \"weekly\")", "backup")
    backup_rotate_early: bool = _key(
        False, "prune the backup target down to its min_keep window (the agent sets it "
        "from the space forecast; by hand: `--data backup_rotate_early=True`)", "backup",
        "internal")
    backup_unusable: dict[str, dict[str, str]] = _key(
        {}, "target folder -> copy name -> why that copy is no incremental parent",
        "backup", "internal")

    # -- timers -----------------------------------------------------------------------------
    systemd_unit_dir: str | None = _key(
        None, f"where timer unit files go (None: {SYSTEMD_UNIT_DIR}, or <lab_dir>/systemd "
        "in the lab)", "timers")
    homelab_ops_exe: str = _key(HOMELAB_OPS_EXE, "the agent the timers run (absolute path)",
                                "timers")
    homelab_ops_inventory: str | None = _key(
        None, "the inventory the timers' runs work on (None: the agent's settings)",
        "timers")
    homelab_ops_state_dir: str | None = _key(
        None, "the timers' runs' state directory (None: the agent's default)", "timers")

    # -- stacks ---------------------------------------------------------------------------
    quadlet_dir: str | None = _key(
        None, f"where quadlet units are written (None: {QUADLET_DIR_ROOT} for root, "
        f"~/{QUADLET_DIR_USER} rootless, or <lab_dir>/quadlet in the lab)", "stacks")
    stack_file: str | None = _key(
        None, "the stack file `pyinfra INVENTORY deploys/stack.py` deploys "
        "($HOMELAB_OPS_STACK wins)", "stacks")
    lab_image: str | None = _key(
        None, "replace every pattern's image with this one (the lab's busybox stand-in; "
        "no registry)", "stacks")

    # -- one deploys/remediate.py run (`--data KEY=VALUE`) ----------------------------------
    playbook: str | None = _key(
        None, "the playbook to run: restart, restart-leaking, free-disk or "
        "rotate-snapshots", "deploy", "deploy")
    service: str | None = _key(None, "the container the restart playbooks restart",
                               "deploy", "deploy")
    journal_max: str | None = _key(
        None, "free-disk also vacuums the journal to this size (e.g. 200M; systemd hosts)",
        "deploy", "deploy")


@cache
def data_keys() -> dict[str, str]:
    """Host data key (a field's alias where it has one) -> field name."""
    return {f.alias or n: n for n, f in HostData.model_fields.items()}


def default(key: str) -> Any:
    """The declared default of host data ``key`` (a fresh copy of a mutable one)."""
    return HostData.model_fields[data_keys()[key]].get_default()


def host_value(data: Mapping[str, Any] | Any, key: str) -> Any:
    """Host data ``key`` of ``data`` (a mapping or pyinfra's ``host.data``) as given, else
    its declared default: an absent key, None or an empty string or collection falls
    back; ``False`` and ``0`` are values (``systemd = False`` chooses plain podman)."""
    value = data.get(key) if key in data_keys() else _undeclared(key)
    if value is None or (isinstance(value, str | dict | list | tuple) and not value):
        return default(key)
    return value


def _undeclared(key: str) -> Any:
    raise KeyError(f"host data {key!r} is not declared in homelab_ops.models.inventory")
