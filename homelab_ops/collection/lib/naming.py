"""Snapshot names: ``<subvolume>.YYYYMMDDThhmm``, btrbk's timestamp format, and
``<subvolume>.YYYYMMDDThhmmss_<tag>`` for tagged ones.

The timestamp in the name (local time) is what retention plans on, so a received copy on
a backup target keeps its place in the schedule. Scheduled snapshots have minute
resolution, as btrbk's: a second run in the same minute finds its snapshot taken and
changes nothing. A tagged snapshot (``pre-action``, ``pre-rollback``; never sent) is the
state right before one action, so two actions in one minute must not share one: it has
seconds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

_NAME = re.compile(
    r"^(?P<base>[A-Za-z0-9][A-Za-z0-9_+@-]{0,63})\.(?P<ts>\d{8}T\d{4}(?:\d{2})?)(?:_(?P<tag>[a-z0-9][a-z0-9-]{0,31}))?$"
)
FORMAT = "%Y%m%dT%H%M"
TAGGED_FORMAT = "%Y%m%dT%H%M%S"


@dataclass(frozen=True, order=True)
class SnapshotName:
    ts: datetime
    base: str
    tag: str | None
    name: str


def snapshot_name(base: str, when: datetime, tag: str | None = None) -> str:
    name = f"{base}.{when.strftime(TAGGED_FORMAT)}_{tag}" if tag else \
        f"{base}.{when.strftime(FORMAT)}"
    if parse(name) is None:
        raise ValueError(f"invalid snapshot name {name!r}")
    return name


def parse(name: str) -> SnapshotName | None:
    """The parts of a snapshot name, or None for anything that is not one of ours."""
    match = _NAME.match(name)
    if not match:
        return None
    t = match["ts"]  # YYYYMMDDThhmm[ss]; slicing is ~10x faster than strptime on 10k names
    try:
        ts = datetime(int(t[:4]), int(t[4:6]), int(t[6:8]), int(t[9:11]), int(t[11:13]),
                      int(t[13:15] or 0))
    except ValueError:
        return None
    return SnapshotName(ts, match["base"], match["tag"], name)


def of_volume(names: list[str] | set[str], base: str, tag: str | None = None) -> list[SnapshotName]:
    """Snapshots of one subvolume (and tag), oldest first."""
    parsed = (parse(n) for n in names)
    return sorted(p for p in parsed if p and p.base == base and p.tag == tag)
