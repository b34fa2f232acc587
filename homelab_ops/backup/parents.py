"""Which copies on a backup target must never be an incremental parent.

btrbk trusts any read-only copy with a received UUID, and ``btrfs receive`` finds the
parent by received UUID and send transid: neither notices a copy made writable
(``btrfsutil.set_subvolume_read_only``), written and set read-only again, since its
received UUID stays. Every later incremental would inherit the damage. The kernel
does notice: a subvolume's ctransid moves with every inode change and only then
(its generation also moves when the copy is snapshotted, as every incremental receive
does to its parent, or relocated by a balance). So the agent records each copy's
ctransid when it first sees it complete, right after the run that received it, and
refuses a copy whose ctransid has moved since. A copy whose last restore test failed
is refused too.

The ctransid is read in-process (btrfsutil), so that check covers targets that are
folders of this machine (@local hosts): ``btrfs subvolume show`` prints no ctransid for a
remote one. The restore-test rule covers targets over SSH too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import btrfsutil

from homelab_ops.backup import local
from homelab_ops.backup.restore import address, copy_failed
from homelab_ops.collection.lib import naming
from homelab_ops.collection.lib.layout import VolumeLayout


def local_target(host: str, vol: VolumeLayout) -> Path | None:
    """The volume's target folder when this process can read it (an @local host's
    folder on this machine), else None."""
    if not host.startswith("@local") or vol.target is None or vol.target.ssh:
        return None
    return Path(vol.target.dir)


def _copies(directory: Path) -> dict[str, dict[str, Any]]:
    """Our-named subvolumes in ``directory``, read after a sync: a write still in the
    page cache moves ctransid only when its transaction commits."""
    if not directory.is_dir():
        return {}
    btrfsutil.sync(str(directory))
    return {n: r for n, r in local.subvolumes(directory).items() if naming.parse(n)}


def unusable(store, host: str, vol: VolumeLayout) -> dict[str, str]:
    """Copies of ``vol`` on its target that are never a parent: name -> why."""
    if vol.target is None:
        return {}
    directory = local_target(host, vol)
    out = {}
    copies = None
    if directory is not None:
        copies = {n: r for n, r in _copies(directory).items()
                  if naming.parse(n).base == vol.base}  # type: ignore[union-attr]
        known = store.received_copies(host, str(directory))
        for name, rec in copies.items():
            first = known.get(name)
            if first and first["uuid"] == rec["uuid"] and rec["ctransid"] != first["ctransid"]:
                out[name] = (f"changed after it was received (ctransid {first['ctransid']} "
                             f"then, {rec['ctransid']} now)")
    for name, test in last_restore_tests(store, host, vol).items():
        # a name marked but gone from the target marks nothing (the deploy reads it there)
        if (copies is None or name in copies) and name not in out and \
                copy_failed(test["detail"]):
            error = test["detail"].get("error") or "differences from its source snapshot"
            out[name] = f"its last restore test failed: {error}"
    return out


def last_restore_tests(store, host: str, vol: VolumeLayout) -> dict[str, dict[str, Any]]:
    """The latest restore test of each copy of ``vol`` on its target, by name."""
    assert vol.target is not None
    key = f"{vol.volume.pool}/{vol.base}"
    tests: dict[str, dict[str, Any]] = {}
    for row in store.backups(action="restore_test", limit=-1):  # newest first
        name, backup = row["detail"].get("snapshot"), row["detail"].get("backup")
        if row["host"] == host and row["subvolume"] == key and name and \
                backup == address(vol.target, name):
            tests.setdefault(name, row)
    return tests


def remember(store, host: str, directory: Path, ts: float) -> None:
    """Record the ctransid of every complete copy in ``directory`` not seen before
    (called right after a run, so a new copy is recorded as it was received)."""
    complete = {n: (r["uuid"], r["ctransid"]) for n, r in _copies(directory).items()
                if r["readonly"] and r["received_uuid"]}
    store.record_received(host, str(directory), complete, ts)
