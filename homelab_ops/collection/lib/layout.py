"""Where each configured subvolume, its snapshots and its backups live on a host,
resolved from host data (``btrfs_pools`` + ``backup``). Shared by the deploy and the
agent so both always look in the same places.

Resolving also refuses layouts in which one folder would serve two purposes, because
every such overlap ends with a deletion in the wrong place: a backup target equal to a
snapshot folder, a restore scratch folder equal to, inside or around a target or
snapshot folder, and two volumes of one host whose copies would share a target folder
under the same name. A ``path`` target (another machine, or a shared mount) gets one
folder per host, ``<path>/<dir>/<host>`` (``@local``: the machine's host name), so
hosts never see each other's copies.
"""

from __future__ import annotations

import posixpath
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from homelab_ops.collection.lib.place import Place
from homelab_ops.errors import InputError
from homelab_ops.models.backup import (
    BackupConfig,
    BackupTarget,
    BackupVolume,
    load_backup_config,
)
from homelab_ops.models.inventory import host_value

_HOST_DIR = re.compile(r"^[A-Za-z0-9._+@-]{1,64}$")


@dataclass(frozen=True)
class VolumeLayout:
    volume: BackupVolume
    source: str  # the subvolume itself
    snapshots: Place
    target: Place | None
    # the restore test's scratch folder on this host (None: no target to restore from):
    # next to a local target's folder, on the volume's own pool for a target over SSH
    scratch: str | None = None

    @property
    def base(self) -> str:
        return self.volume.subvolume

    def selected(self, schedule: str | None, tag: str | None) -> bool:
        """In this run? A schedule picks its volumes; tagged snapshots cover all."""
        return schedule is None or tag is not None or self.volume.schedule == schedule


def _target_root(target: BackupTarget, pools: Mapping[str, str], source: str,
                 field_prefix: str) -> str:
    """The configured target folder (before the per-host folder of a path target)."""
    if target.pool is not None:
        if target.pool not in pools:
            raise InputError(source, f"{field_prefix}.target.pool",
                             f"no pool {target.pool!r} in btrfs_pools")
        return f"{pools[target.pool].rstrip('/')}/{target.dir}"
    return f"{target.path}/{target.dir}"


def target_place(target: BackupTarget, pools: Mapping[str, str], source: str,
                 field_prefix: str = "backup", host: str | None = None) -> Place:
    """The folder copies are received into. A pool target must be a mounted filesystem
    (an unplugged backup disk is unreachable, never "no backups"); a path target
    holds one folder per host."""
    root = _target_root(target, pools, source, field_prefix)
    if target.pool is not None:
        return Place(root, mount=pools[target.pool].rstrip("/") or "/", strict=True)
    folder = host_folder(host)
    if folder is None:
        raise InputError(source, f"{field_prefix}.target.path",
                         f"host name {host!r} cannot name its folder under the target")
    return Place(f"{root}/{folder}", target.ssh, target.ssh_config, strict=True)


def host_folder(host: str | None) -> str | None:
    """A host's folder under a shared target: its inventory name, except that every
    machine calls itself ``@local``, so that one is the machine's own host name. None
    when the name cannot be a folder name."""
    if host is not None and host.startswith("@local"):
        host = socket.gethostname().split(".")[0]
    if host is None or not _HOST_DIR.match(host) or host in (".", ".."):
        return None
    return host


def overlaps(a: str, b: str) -> bool:
    """``a`` and ``b`` are the same folder or one is inside the other."""
    a, b = posixpath.normpath(a), posixpath.normpath(b)
    return a == b or a.startswith(b.rstrip("/") + "/") or b.startswith(a.rstrip("/") + "/")


def volume_layouts(config: BackupConfig, pools: Mapping[str, str], source: str,
            field_prefix: str = "backup", host: str | None = None) -> list[VolumeLayout]:
    """Layouts of every configured volume of ``host``; ``source`` and ``field_prefix``
    say where the host data came from, for errors."""
    target = (target_place(config.target, pools, source, field_prefix, host)
              if config.target else None)
    local_target = target is not None and target.ssh is None
    shared_scratch = None
    if local_target and config.target is not None:
        root = _target_root(config.target, pools, source, field_prefix)
        shared_scratch = f"{posixpath.dirname(root)}/{config.restore_scratch_dir}"
    out = []
    names: dict[str, int] = {}
    for i, vol in enumerate(config.volumes):
        if vol.pool not in pools:
            raise InputError(source, f"{field_prefix}.volumes[{i}].pool",
                             f"no pool {vol.pool!r} in btrfs_pools")
        mount = pools[vol.pool].rstrip("/")
        snapshots = Place(f"{mount}/{vol.snapshot_dir}")
        scratch = shared_scratch
        if target is not None:
            if vol.subvolume in names:
                raise InputError(
                    source, f"{field_prefix}.volumes[{i}].subvolume",
                    f"{vol.subvolume!r} is also volumes[{names[vol.subvolume]}]: their "
                    f"copies would share {target.dir} under one name (rename one)")
            names[vol.subvolume] = i
            if not local_target:  # restored across the wire onto the source's own pool
                scratch = f"{mount}/{config.restore_scratch_dir}"
        if local_target and target is not None and \
                posixpath.normpath(target.dir) == posixpath.normpath(snapshots.dir):
            raise InputError(source, f"{field_prefix}.target.dir",
                             f"{target.dir} is also the snapshot folder of volumes[{i}]: "
                             "backups need a folder of their own")
        out.append(VolumeLayout(vol, f"{mount}/{vol.subvolume}", snapshots, target, scratch))
    _refuse_scratch_overlaps(out, source, field_prefix)
    return out


def _refuse_scratch_overlaps(layouts: list[VolumeLayout], source: str,
                             field_prefix: str) -> None:
    """A scratch folder equal to, inside or around a folder of ours on the same host:
    the restore test deletes what it restores there."""
    for vol in layouts:
        if vol.scratch is None or vol.target is None:
            continue
        local = [("the backup target", vol.target.dir)] if vol.target.ssh is None else []
        for what, folder in [*local,
                             *((f"volumes[{i}]'s snapshot folder", v.snapshots.dir)
                               for i, v in enumerate(layouts)),
                             *((f"volumes[{i}]'s subvolume", v.source)
                               for i, v in enumerate(layouts))]:
            if overlaps(vol.scratch, folder):
                raise InputError(source, f"{field_prefix}.restore_scratch_dir",
                                 f"restore scratch {vol.scratch} overlaps {what} {folder}: "
                                 "the restore test deletes what it restores there")


def host_layouts(name: str, data: dict[str, Any], source: str = "inventory"
                 ) -> tuple[BackupConfig, list[VolumeLayout]]:
    """A host's backup config and volume layouts; errors name ``source`` (the inventory
    file) and the field as ``hosts[<name>].backup...``."""
    prefix = f"hosts[{name}].backup"
    config = load_backup_config(host_value(data, "backup"), source, prefix)
    pools = host_value(data, "btrfs_pools")
    return config, volume_layouts(config, pools, source, prefix, host=name)
