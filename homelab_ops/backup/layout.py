"""Where each configured subvolume, its snapshots and its backups live on a host,
resolved from host data (``btrfs_pools`` + ``backup``). Shared by the deploy and the
agent so both always look in the same places."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from homelab_ops.collection.operations.btrfs import Place
from homelab_ops.errors import InputError
from homelab_ops.models.backup import BackupConfig, BackupTarget, BackupVolume


@dataclass(frozen=True)
class VolumeLayout:
    volume: BackupVolume
    source: str  # the subvolume itself
    snapshots: Place
    target: Place | None

    @property
    def base(self) -> str:
        return self.volume.subvolume

    def selected(self, schedule: str | None, tag: str | None) -> bool:
        """In this run? A schedule picks its volumes; tagged snapshots cover all."""
        return schedule is None or tag is not None or self.volume.schedule == schedule


def target_place(target: BackupTarget, pools: Mapping[str, str], source: str,
                 field_prefix: str = "backup") -> Place:
    if target.pool is not None:
        if target.pool not in pools:
            raise InputError(source, f"{field_prefix}.target.pool",
                             f"no pool {target.pool!r} in btrfs_pools")
        return Place(f"{pools[target.pool].rstrip('/')}/{target.dir}")
    return Place(f"{target.path}/{target.dir}", target.ssh, target.ssh_config)


def resolve(config: BackupConfig, pools: Mapping[str, str], source: str,
            field_prefix: str = "backup") -> list[VolumeLayout]:
    """Layouts of every configured volume; ``source`` and ``field_prefix`` say where
    the host data came from, for errors."""
    target = (target_place(config.target, pools, source, field_prefix)
              if config.target else None)
    out = []
    for i, vol in enumerate(config.volumes):
        if vol.pool not in pools:
            raise InputError(source, f"{field_prefix}.volumes[{i}].pool",
                             f"no pool {vol.pool!r} in btrfs_pools")
        mount = pools[vol.pool].rstrip("/")
        out.append(VolumeLayout(vol, f"{mount}/{vol.subvolume}",
                                Place(f"{mount}/{vol.snapshot_dir}"), target))
    return out
