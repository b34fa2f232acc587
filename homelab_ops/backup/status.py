"""Backup freshness for the health score and ``backup status``: read from the store
only (no pyinfra, no btrfs), so it is cheap enough for every status call."""

from __future__ import annotations

from typing import Any

from pydantic import MISSING

from homelab_ops.models.backup_status import (
    BackupStatus,
    LastAttempt,
    LastOk,
    RestoreTestStatus,
    SubvolumeStatus,
)

# A backup older than this (by the volume's schedule, recorded with every backup row)
# is stale; the health score decides how much it costs.
STALE_HOURS = 36.0
STALE_HOURS_BY_SCHEDULE = {"daily": STALE_HOURS, "weekly": 8 * 24.0}


def stale_after_hours(schedule: str | None) -> float:
    """Hours after which a backup of this schedule is stale (unknown: daily)."""
    return STALE_HOURS_BY_SCHEDULE.get(schedule or "daily", STALE_HOURS)


def backup_status(store, now: float) -> BackupStatus:
    """Last successful backup per host:subvolume (with its age) and each one's own latest
    restore test (``restore_tests``; a good test of one volume never hides a failed test
    of another), plus the newest of them (``last_restore_test``). ``stale`` lists
    subvolumes whose last success is too old for their schedule (36 h daily, 8 days
    weekly) or that only ever failed. ``unusable`` (per subvolume, from its newest run):
    copies on its target that are never an incremental parent, and why."""
    latest: dict[str, dict[str, Any]] = {}
    good: dict[str, dict[str, Any]] = {}
    schedules: dict[str, str] = {}
    for row in reversed(store.backups(action="backup", limit=10_000)):  # oldest first
        key = f"{row['host']}:{row['subvolume']}"
        latest[key] = row
        if row["ok"]:
            good[key] = row
        if schedule := row["detail"].get("schedule"):  # the newest row that says
            schedules[key] = schedule
    subvolumes = {key: _subvolume(row, good.get(key), schedules.get(key), now)
                  for key, row in latest.items()}
    tests: dict[str, RestoreTestStatus] = {}
    for t in store.backups(action="restore_test", limit=-1):  # newest first
        if (key := f"{t['host']}:{t['subvolume']}") not in tests:
            tests[key] = RestoreTestStatus(
                ts=t["ts"], ok=t["ok"], host=t["host"], subvolume=t["subvolume"],
                age_days=round((now - t["ts"]) / 86400, 2),
                snapshot=t["detail"].get("snapshot"), error=t["detail"].get("error"))
    stale = sorted(k for k, e in subvolumes.items()
                   if e.age_hours is None or e.age_hours > e.stale_after_hours)
    return BackupStatus(subvolumes=subvolumes, restore_tests=tests,
                        last_restore_test=max(tests.values(), key=lambda t: t.ts, default=None),
                        stale=stale, stale_after_hours=STALE_HOURS)


def _subvolume(latest: dict[str, Any], good: dict[str, Any] | None, schedule: str | None,
               now: float) -> SubvolumeStatus:
    """One subvolume from its newest backup row and its newest good one."""
    last_ok = None if good is None else LastOk(ts=good["ts"],
                                               snapshot=good["detail"].get("snapshot"))
    return SubvolumeStatus(
        last_ok=last_ok, last_attempt=LastAttempt(ts=latest["ts"], ok=latest["ok"]),
        schedule=MISSING if schedule is None else schedule,
        unusable=latest["detail"].get("unusable", {}),
        age_hours=None if last_ok is None else round((now - last_ok.ts) / 3600, 2),
        stale_after_hours=stale_after_hours(schedule))
