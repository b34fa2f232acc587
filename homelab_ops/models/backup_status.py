"""Backup freshness as ``backup status --json`` prints it and the health score,
metrics and report read it. ``schedule`` is left out of the dump when no backup row
named one (``MISSING``); every other key is always there, ``None`` included."""

from __future__ import annotations

from pydantic import MISSING, BaseModel


class LastOk(BaseModel):
    ts: float
    snapshot: str | None


class LastAttempt(BaseModel):
    ts: float
    ok: bool


class SubvolumeStatus(BaseModel):
    last_ok: LastOk | None
    last_attempt: LastAttempt | None
    schedule: str | MISSING = MISSING
    unusable: dict[str, str]  # from the newest run: copy -> why it is never a parent
    age_hours: float | None  # of the last good backup (None: none)
    stale_after_hours: float


class RestoreTestStatus(BaseModel):
    """A volume's latest restore test."""

    ts: float
    ok: bool
    host: str
    subvolume: str
    age_days: float
    snapshot: str | None
    error: str | None


class BackupStatus(BaseModel):
    subvolumes: dict[str, SubvolumeStatus]  # "<host>:<pool>/<base>" ->
    restore_tests: dict[str, RestoreTestStatus]  # the same keys ->
    last_restore_test: RestoreTestStatus | None
    stale: list[str]
    stale_after_hours: float
