"""The pre-action snapshot: before any action, a read-only BTRFS snapshot (tag
``pre-action``, with the tag's own retention) of every configured subvolume that holds
the affected service's data, taken by the backup component under its lock.

The service's data is what it can write: its writable mounts (read-only ones cannot
change). No snapshot, no action: when a writable mount lies outside every configured
subvolume, or the snapshot fails, the action is refused unless settings allow acting
without one."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import MISSING, BaseModel, Field

from homelab_ops.errors import HomelabError

TAG = "pre-action"


class Snapshot(BaseModel):
    ok: bool
    names: list[str] = Field(default_factory=list)  # pool/subvolume -> snapshot taken
    covered: list[str] = Field(default_factory=list)  # the subvolumes it covers
    error: str | None = None
    seconds: float = 0.0


def cover(layouts: Sequence[Any], paths: Sequence[str]) -> tuple[list[Any], list[str]]:
    """The volume layouts holding ``paths`` (a path inside a subvolume, or a whole
    mountpoint around subvolumes), and the paths no configured subvolume holds."""
    def within(child: str, parent: str) -> bool:
        child, parent = posixpath.normpath(child), posixpath.normpath(parent)
        return child == parent or child.startswith(parent.rstrip("/") + "/")

    chosen, uncovered = [], []
    for p in paths:
        holders = [lay for lay in layouts if within(p, lay.source) or within(lay.source, p)]
        chosen += [lay for lay in holders if lay not in chosen]
        if not holders:
            uncovered.append(p)
    return chosen, uncovered


def take(store, state_dir: Path, host: str, data: Mapping[str, Any],
         paths: Sequence[str], now: datetime, tag: str = TAG) -> Snapshot:
    """Snapshot the subvolumes holding ``paths`` on ``host`` (tagged ``tag``); never
    raises."""
    from homelab_ops.backup.lock import backup_lock
    from homelab_ops.backup.runner import run_backup
    from homelab_ops.collection.lib.layout import host_layouts

    try:
        config, layouts = host_layouts(host, dict(data))
    except HomelabError as exc:
        return Snapshot(ok=False, error=f"backup settings of {host}: {exc}")
    chosen, uncovered = cover(layouts, paths)
    if not paths or uncovered:
        where = ", ".join(uncovered) if paths else "it has no writable mounts"
        return Snapshot(ok=False, error="no configured backup subvolume holds its data "
                                        f"({where}); settings loop.act_without_snapshot "
                                        "allows acting without one")
    keys = [f"{lay.volume.pool}/{lay.base}" for lay in chosen]
    volumes = [lay.volume.model_dump(mode="json") for lay in chosen]
    backup = {**config.model_dump(mode="json", exclude_none=True), "volumes": volumes}
    try:
        with backup_lock(state_dir):
            report = run_backup([(host, {**data, "backup": backup})], store, now=now,
                                tag=tag)
    except HomelabError as exc:
        return Snapshot(ok=False, covered=keys, error=str(exc))
    result = report.hosts.get(host)
    rows = {} if result is None else result.volumes
    names = [f"{k}:{rows[k].snapshot}" for k in keys if k in rows and rows[k].snapshot]
    if result is None or not result.ok or len(names) != len(keys):
        error = None if result is None or result.error is MISSING else result.error
        return Snapshot(ok=False, names=names, covered=keys,
                        error=error or "the snapshot was not taken")
    return Snapshot(ok=True, names=names, covered=keys)
