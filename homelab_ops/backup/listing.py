"""What is on this machine's pools, read in-process (btrfsutil): the copies of every
configured subvolume, and the retention plan ``prune`` would carry out now. Both cover
@local hosts and local targets; an SSH target is read by the run's pyinfra facts."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from homelab_ops.backup import local
from homelab_ops.collection.lib import naming, retention, transfer
from homelab_ops.collection.lib.layout import host_layouts
from homelab_ops.models.backup import CopyRow, PruneRow

HostData = Iterable[tuple[str, dict[str, Any]]]  # (inventory name, host data)


def copies(hosts: HostData) -> list[CopyRow]:
    """Every snapshot and local backup copy, oldest first per place."""
    rows = []
    for name, data in hosts:
        for vol in host_layouts(name, data)[1]:
            places = [("snapshot", vol.snapshots)]
            if vol.target and not vol.target.ssh:
                places.append(("backup", vol.target))
            for kind, place in places:
                subs = local.subvolumes(Path(place.dir))
                snaps = sorted(p for n in subs if (p := naming.parse(n)) and p.base == vol.base)
                for snap in snaps:
                    rec = subs[snap.name]
                    rows.append(CopyRow(
                        host=name, subvolume=f"{vol.volume.pool}/{vol.base}", kind=kind,
                        name=snap.name, tag=snap.tag, path=f"{place.dir}/{snap.name}",
                        readonly=rec["readonly"],
                        complete=rec["readonly"] and (kind == "snapshot"
                                                      or bool(rec["received_uuid"])),
                        garbled=kind == "backup" and transfer.is_garbled(rec)))
    return rows


def prune_plan(hosts: HostData, now: datetime) -> list[PruneRow]:
    """The retention plan of every local volume (the pure planner over a btrfsutil
    listing): exactly what ``prune`` would do at ``now``, the next parent protected."""
    now = now.replace(second=0, microsecond=0)
    rows = []
    for name, data in hosts:
        config, layouts = host_layouts(name, data)
        for vol in layouts:
            source = local.subvolumes(Path(vol.snapshots.dir))
            target = {} if vol.target is None or vol.target.ssh else local.subvolumes(
                Path(vol.target.dir))
            common = transfer.newest_common(source, target, vol.base)
            sides = [("snapshot", source, vol.volume.snapshot_retention, config.tags)]
            if vol.target is not None and not vol.target.ssh:
                sides.append(("backup", target, vol.volume.target_retention, None))
            for kind, subs, policy, tags in sides:
                names = [n for n, rec in subs.items() if rec["readonly"]
                         and (p := naming.parse(n)) and p.base == vol.base]
                for d in retention.plan(names, policy, now, protect={common} - {None},
                                        tag_policies=tags):
                    rows.append(PruneRow(host=name, subvolume=f"{vol.volume.pool}/{vol.base}",
                                         kind=kind, name=d.name, keep=d.keep, reason=d.reason))
    return rows
