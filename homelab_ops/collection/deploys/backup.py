"""Reusable backup deploys: snapshot, send and prune every configured subvolume
(host data ``backup``), and install the systemd timers that run the agent's backups.

    from homelab_ops.collection.deploys.backup import backup, backup_timers
"""

from __future__ import annotations

from datetime import datetime
from io import StringIO

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.operations import files

from homelab_ops.collection.lib import layout, naming, timers
from homelab_ops.collection.lib.backend import backend_of
from homelab_ops.collection.operations import btrfs
from homelab_ops.models.backup import load_backup_config
from homelab_ops.models.inventory import host_value


@deploy("BTRFS backup")
def backup(now: datetime | None = None, schedule: str | None = None, tag: str | None = None,
           prune_only: bool = False):
    """Run one backup on the current host: snapshot, send and prune every volume.

    + now: the time the snapshots are named after (default: now; scheduled ones by its
      minute, tagged ones by its second)
    + schedule: only the volumes of this schedule (the daily/weekly timers)
    + tag: take tagged snapshots only (e.g. ``pre-action``: not sent, their own
      retention)
    + prune_only: apply retention without taking or sending snapshots

    The volumes are host data ``backup`` on the pools of ``btrfs_pools``. Host data
    ``backup_rotate_early`` (set by the agent from the space forecast) prunes the
    target down to its minimum-keep window; ``backup_unusable`` (target folder -> copy
    name -> why, set by the agent) names copies that are never an incremental parent.

    **Example:**

    .. code:: python

        from homelab_ops.collection.deploys.backup import backup
        backup(schedule="daily")
    """
    source = f"host data of {host.name}"
    config = load_backup_config(host_value(host.data, "backup"), source)
    at = now or datetime.now()  # a tagged snapshot's name has seconds
    now = at.replace(second=0, microsecond=0)
    rotate_early = bool(host_value(host.data, "backup_rotate_early"))
    unusable_in = host_value(host.data, "backup_unusable")
    for vol in layout.volume_layouts(config, host_value(host.data, "btrfs_pools"), source,
                              host=host.name):
        if not vol.selected(schedule, tag):
            continue
        unusable = unusable_in.get(vol.target.dir) if vol.target is not None else None
        if not prune_only:
            btrfs.snapshot(
                name=f"Snapshot {vol.source}", source=vol.source, directory=vol.snapshots.dir,
                snapshot=naming.snapshot_name(vol.base, at, tag),
                onchange=vol.volume.snapshot_create == "onchange",
                peer=vol.target if tag is None else None, unusable=unusable,
            )
        if vol.target is not None and tag is None and not prune_only:
            btrfs.send(name=f"Send {vol.base} to {vol.target.dir}", source=vol.snapshots,
                       base=vol.base, target=vol.target,
                       expect=naming.snapshot_name(vol.base, now), expect_from=vol.source,
                       onchange=vol.volume.snapshot_create == "onchange", unusable=unusable)
        btrfs.prune(name=f"Prune {vol.snapshots.dir}/{vol.base}", place=vol.snapshots,
                    base=vol.base, policy=vol.volume.snapshot_retention, now=now,
                    peer=vol.target, tag_policies=config.tags, unusable=unusable)
        if vol.target is not None:
            policy = vol.volume.target_retention
            btrfs.prune(name=f"Prune {vol.target.dir}/{vol.base}", place=vol.target,
                        base=vol.base, now=now, peer=vol.snapshots, place_is_target=True,
                        policy=policy.minimal() if rotate_early else policy,
                        unusable=unusable)


@deploy("Backup timers")
def backup_timers():
    """Install the daily, weekly and restore-test backup timers and their services.

    Takes no argument. Units are written to host data ``systemd_unit_dir`` (default
    /etc/systemd/system; the lab keeps them in its own directory); they are enabled
    only where systemd runs (the host's backend: host data ``systemd``, else systemd
    as PID 1).

    **Example:**

    .. code:: python

        from homelab_ops.collection.deploys.backup import backup_timers
        backup_timers()
    """
    install_timers(timers.render(host.data), timers.timer_names())


def install_timers(units: dict[str, str], timer_names: list[str]) -> None:
    """Write ``units`` (name -> text) to the unit directory; where systemd runs (the
    host's backend), reload it when one changed and enable and start ``timer_names``."""
    unit_dir = timers.unit_dir(host.data)
    files.directory(name="Unit directory", path=unit_dir)
    written = [
        files.put(name=f"Unit {name}", src=StringIO(text), dest=f"{unit_dir}/{name}",
                  mode="644")
        for name, text in units.items()
    ]
    backend_of(host).enable_timers(timer_names, written)
