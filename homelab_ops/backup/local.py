"""In-process view of subvolumes on this machine through btrfsutil (no shell, no
pyinfra): listing, verification and restore tests read it. Same record shape as the
pyinfra fact homelab_ops.collection.facts.btrfs.BtrfsSubvolumes, plus ``ctransid`` (the
transaction of the last inode change), which ``btrfs subvolume show`` does not print."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import btrfsutil

_ZERO = bytes(16)


def _uuid(raw: bytes) -> str | None:
    return None if raw == _ZERO else str(uuid.UUID(bytes=raw))


def subvolume(path: Path) -> dict[str, Any] | None:
    if not path.is_dir() or not btrfsutil.is_subvolume(str(path)):
        return None
    info = btrfsutil.subvolume_info(str(path))
    return {
        "uuid": _uuid(info.uuid),
        "parent_uuid": _uuid(info.parent_uuid),
        "received_uuid": _uuid(info.received_uuid),
        "readonly": btrfsutil.get_subvolume_read_only(str(path)),
        "generation": info.generation,
        "gen_at_creation": info.otransid,
        "ctransid": info.ctransid,
    }


def subvolumes(directory: Path) -> dict[str, dict[str, Any]]:
    """Subvolumes directly inside ``directory`` by name."""
    if not directory.is_dir():
        return {}
    found = {}
    for entry in sorted(directory.iterdir()):
        record = subvolume(entry)
        if record:
            found[entry.name] = record
    return found
