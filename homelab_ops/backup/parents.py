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

A target folder of this machine (an @local host's) is read in-process with btrfsutil;
any other (over SSH, or a pool of an SSH host) through the pyinfra fact BtrfsCtransids,
btrfsutil run by the target's own python3: ``btrfs subvolume show`` prints no ctransid.
Both give the same records and one rule judges them. Where the ctransid cannot be read
(no python3-btrfsutil there) only the restore-test rule is left, and the run says so.
"""

from __future__ import annotations

from collections.abc import Mapping
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


def local_copies(directory: Path) -> dict[str, dict[str, Any]] | str:
    """Subvolumes in ``directory``, read after a sync: a write still in the page cache
    moves ctransid only when its transaction commits. A str says why they cannot be
    read (not on BTRFS: e.g. the mount point of an unplugged disk), as the fact does."""
    if not directory.is_dir():
        return {}
    try:
        btrfsutil.sync(str(directory))
    except btrfsutil.BtrfsUtilError as exc:
        return str(exc)
    return local.subvolumes(directory)


def key(vol: VolumeLayout) -> str:
    """The target folder as the store records its copies (``HOST:PATH`` over SSH)."""
    assert vol.target is not None
    return address(vol.target)


def unusable(store, host: str, vol: VolumeLayout,
             copies: Mapping[str, Mapping[str, Any]] | None) -> dict[str, str]:
    """Copies of ``vol`` on its target that are never a parent: name -> why.

    ``copies``: the target folder's subvolumes with their ``uuid`` and ``ctransid``
    (None: not readable, so only the restore-test rule applies)."""
    if vol.target is None:
        return {}
    out = {}
    ours = None
    if copies is not None:
        ours = {n: r for n, r in copies.items()
                if (p := naming.parse(n)) and p.base == vol.base}
        known = store.received_copies(host, key(vol))
        for name, rec in ours.items():
            first = known.get(name)
            if first and first["uuid"] == rec["uuid"] and rec["ctransid"] != first["ctransid"]:
                out[name] = (f"changed after it was received (ctransid {first['ctransid']} "
                             f"then, {rec['ctransid']} now)")
    for name, test in last_restore_tests(store, host, vol).items():
        # a name marked but gone from the target marks nothing (the deploy reads it there)
        if (ours is None or name in ours) and name not in out and \
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


def remember(store, host: str, folder: str, copies: Mapping[str, Mapping[str, Any]],
             ts: float) -> None:
    """Record the ctransid of every complete copy of ours in the target ``folder`` (a
    ``key``) not seen before: called right after a run, so a new copy is recorded as it
    was received."""
    complete = {n: (r["uuid"], r["ctransid"]) for n, r in copies.items()
                if naming.parse(n) and r["readonly"] and r["received_uuid"]}
    store.record_received(host, folder, complete, ts)
