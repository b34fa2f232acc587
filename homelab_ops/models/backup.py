"""Backup configuration: which subvolumes are snapshotted, where they are sent and how
long snapshots live, in the retention language homelab users know from btrbk.

A retention policy is written as btrbk writes it: ``preserve = "14d 8w 6m *y"`` (first
snapshot of each of the last 14 days, 8 weeks, 6 months and every year) plus a minimum
window ``min_keep`` (btrbk's ``*_preserve_min``: ``2d``, ``latest``, ``all``, ``no``).
The configuration lives in pyinfra host data ``backup``; errors name that source and
the field, so a typo in an inventory is one clear line.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    field_validator,
    model_validator,
)

from homelab_ops.errors import validate_input
from homelab_ops.models.base import Strict

UNITS = ("h", "d", "w", "m", "y")
UNIT_NAMES = {"h": "hourly", "d": "daily", "w": "weekly", "m": "monthly", "y": "yearly"}
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_PRESERVE_ITEM = re.compile(r"^(\*|\d{1,6})([hdwmy])$")
_MIN_KEEP = re.compile(r"^(all|latest|no|\d{1,6}[hdwmy])$")

# Names reach btrfs commands: the same strict pattern everywhere (btrbk allows a little
# more; we refuse anything a shell or a path could misread).
BtrfsName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_+@-]{0,63}$")]
Tag = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")]
_SEG = r"[A-Za-z0-9._+@-]{1,64}"
_CMD = r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}"


def _no_dots(value: str) -> str:
    if any(part in (".", "..") for part in value.split("/")):
        raise ValueError("'.' and '..' are not allowed in paths")
    return value


RelDir = Annotated[str, Field(pattern=rf"^{_SEG}(/{_SEG}){{0,3}}$"), AfterValidator(_no_dots)]
AbsPath = Annotated[str, Field(pattern=rf"^(/{_SEG}){{1,16}}$"), AfterValidator(_no_dots)]
# [user@]host: what ssh is handed as its destination (the collection checks it too)
SSH_DEST_PATTERN = r"^([a-z_][a-z0-9_-]{0,31}@)?[A-Za-z0-9][A-Za-z0-9.-]{0,252}$"
SshDest = Annotated[str, Field(pattern=SSH_DEST_PATTERN)]
# a command name or an absolute path (it reaches a shell as one word)
Interpreter = Annotated[str, Field(pattern=rf"^((/{_SEG}){{1,16}}|{_CMD})$"),
                        AfterValidator(_no_dots)]


def parse_preserve(text: str) -> dict[str, int | None]:
    """``"14d 8w 6m *y"`` -> ``{"h": 0, "d": 14, "w": 8, "m": 6, "y": None}``.

    None means every bucket of that class (``*``); a class not named keeps none."""
    counts: dict[str, int | None] = dict.fromkeys(UNITS, 0)
    seen = []
    for item in text.split():
        match = _PRESERVE_ITEM.match(item)
        if not match:
            raise ValueError(f"{item!r} is not <number|*><h|d|w|m|y> (e.g. '14d 8w 6m *y')")
        count, unit = match.groups()
        if unit in seen:
            raise ValueError(f"{UNIT_NAMES[unit]} ({unit}) given twice")
        if seen and UNITS.index(unit) < UNITS.index(seen[-1]):
            raise ValueError("give the classes in the order h d w m y, as btrbk does")
        seen.append(unit)
        counts[unit] = None if count == "*" else int(count)
    return counts


class RetentionPolicy(Strict):
    """btrbk's ``*_preserve`` and ``*_preserve_min``, with the same meaning."""

    preserve: str = ""
    min_keep: str = "latest"
    preserve_day_of_week: Literal[WEEKDAYS] = "sunday"  # type: ignore[valid-type]
    preserve_hour_of_day: Annotated[int, Field(ge=0, le=23)] = 0

    @field_validator("preserve")
    @classmethod
    def _preserve(cls, value: str) -> str:
        parse_preserve(value)
        return " ".join(value.split())

    @field_validator("min_keep")
    @classmethod
    def _min_keep(cls, value: str) -> str:
        if not _MIN_KEEP.match(value):
            raise ValueError("must be 'all', 'latest', 'no' or <number><h|d|w|m|y> (e.g. '2d')")
        return value

    @property
    def counts(self) -> dict[str, int | None]:
        return parse_preserve(self.preserve)

    @property
    def weekday(self) -> int:
        return WEEKDAYS.index(self.preserve_day_of_week)

    def minimal(self) -> RetentionPolicy:
        """The same policy cut down to its minimum-keep window (early rotation)."""
        return self.model_copy(update={"preserve": ""})


class TargetRetentionPolicy(RetentionPolicy):
    """Retention of the backup copies. Its minimum-keep window defaults to two weeks,
    not ``latest``: early rotation (a pessimistic space forecast) prunes the target down
    to that window, and one forecast must never leave a single copy of a family's
    photos."""

    min_keep: str = "14d"


class BackupVolume(Strict):
    """One subvolume of a pool that is snapshotted (and sent when a target is set)."""

    subvolume: BtrfsName
    pool: BtrfsName = "data"
    snapshot_dir: RelDir = ".snapshots"
    schedule: Literal["daily", "weekly"] = "daily"
    # btrbk's snapshot_create: "onchange" takes no new snapshot of an unchanged subvolume,
    # so a second run (or a timer firing twice) changes nothing
    snapshot_create: Literal["always", "onchange"] = "onchange"
    snapshot_retention: RetentionPolicy = RetentionPolicy(preserve="14d", min_keep="2d")
    target_retention: TargetRetentionPolicy = TargetRetentionPolicy(preserve="14d 8w 6m *y")


class BackupTarget(Strict):
    """Where snapshots are received: a directory in a pool of the same host, or an
    absolute path on another host reached with ``ssh <ssh>`` (btrfs-progs there)."""

    pool: BtrfsName | None = None
    path: AbsPath | None = None
    dir: RelDir = "snapshots"
    ssh: SshDest | None = None
    ssh_config: AbsPath | None = None
    # the interpreter on the target's machine with btrfsutil (python3-btrfsutil): it reads
    # each copy's ctransid there, so a copy changed after its receive is never a parent
    python: Interpreter = "python3"

    @model_validator(mode="after")
    def _one_place(self) -> BackupTarget:
        if (self.pool is None) == (self.path is None):
            raise ValueError("set exactly one of 'pool' (a local pool) or 'path'")
        if self.ssh and self.pool:
            raise ValueError("an ssh target needs an absolute 'path' on that host")
        return self


class BackupConfig(Strict):
    """Host data ``backup``: everything the backup deploy and the agent read."""

    volumes: tuple[BackupVolume, ...] = ()
    target: BackupTarget | None = None
    # tagged snapshots have their own retention: before an autonomous action two days;
    # the broken state a rollback replaced two weeks, time for a person to look at it
    tags: dict[Tag, RetentionPolicy] = Field(
        default_factory=lambda: {"pre-action": RetentionPolicy(min_keep="2d"),
                                 "pre-rollback": RetentionPolicy(min_keep="14d")})
    # space-forecast rotation: prune the target to its minimum when the pool is
    # predicted to cross its threshold within this many days
    forecast_horizon_days: Annotated[float, Field(gt=0)] = 7.0
    restore_scratch_dir: RelDir = ".restore-test"

    @model_validator(mode="after")
    def _unique(self) -> BackupConfig:
        keys = [(v.pool, v.subvolume) for v in self.volumes]
        if len(keys) != len(set(keys)):
            raise ValueError("a subvolume is listed twice")
        return self


def load_backup_config(raw: Any, source: str, field_prefix: str = "backup") -> BackupConfig:
    """Validate host data ``backup``; ``source`` names where it came from (an inventory
    file) and ``field_prefix`` the path to it there, for the error message."""
    return validate_input(BackupConfig, raw or {}, source, field_prefix)


# -- what ``backup list`` and ``prune --dry-run`` show ---------------------------------
class CopyRow(BaseModel):
    """One snapshot or backup copy of a configured subvolume, as btrfs lists it."""

    host: str
    subvolume: str  # <pool>/<base>
    kind: Literal["snapshot", "backup"]
    name: str
    tag: str | None
    path: str
    readonly: bool
    complete: bool  # read-only, and for a backup a finished receive
    garbled: bool  # a backup cut off mid-receive: the next run deletes it


class PruneRow(BaseModel):
    """Retention's verdict on one copy, with the rule that decided it."""

    host: str
    subvolume: str
    kind: Literal["snapshot", "backup"]
    name: str
    keep: bool
    reason: str
