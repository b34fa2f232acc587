"""Backup freshness for the health score and ``backup status``: read from the store
only (no pyinfra, no btrfs), so it is cheap enough for every status call."""

from __future__ import annotations

from typing import Any

# A backup older than this (by the volume's schedule, recorded with every backup row)
# is stale; the health score decides how much it costs.
STALE_HOURS = 36.0
STALE_HOURS_BY_SCHEDULE = {"daily": STALE_HOURS, "weekly": 8 * 24.0}


def stale_after_hours(schedule: str | None) -> float:
    """Hours after which a backup of this schedule is stale (unknown: daily)."""
    return STALE_HOURS_BY_SCHEDULE.get(schedule or "daily", STALE_HOURS)


def backup_status(store, now: float) -> dict[str, Any]:
    """Last successful backup per host:subvolume (with its age) and each one's own latest
    restore test (``restore_tests``; a good test of one volume never hides a failed test
    of another), plus the newest of them (``last_restore_test``). ``stale`` lists
    subvolumes whose last success is too old for their schedule (36 h daily, 8 days
    weekly) or that only ever failed. ``unusable`` (per subvolume, from its newest run):
    copies on its target that are never an incremental parent, and why."""
    subvolumes: dict[str, dict[str, Any]] = {}
    for row in reversed(store.backups(action="backup", limit=10_000)):  # oldest first
        key = f"{row['host']}:{row['subvolume']}"
        entry = subvolumes.setdefault(key, {"last_ok": None, "last_attempt": None})
        entry["last_attempt"] = {"ts": row["ts"], "ok": row["ok"]}
        if schedule := row["detail"].get("schedule"):  # the newest row says
            entry["schedule"] = schedule
        entry["unusable"] = row["detail"].get("unusable", {})  # the newest row says
        if row["ok"]:
            entry["last_ok"] = {"ts": row["ts"], "snapshot": row["detail"].get("snapshot")}
    for entry in subvolumes.values():
        last_ok = entry["last_ok"]
        entry["age_hours"] = None if last_ok is None else round((now - last_ok["ts"]) / 3600, 2)
        entry["stale_after_hours"] = stale_after_hours(entry.get("schedule"))
    tests: dict[str, dict[str, Any]] = {}
    for t in store.backups(action="restore_test", limit=-1):  # newest first
        tests.setdefault(f"{t['host']}:{t['subvolume']}", {
            "ts": t["ts"], "ok": t["ok"], "host": t["host"], "subvolume": t["subvolume"],
            "age_days": round((now - t["ts"]) / 86400, 2),
            "snapshot": t["detail"].get("snapshot"), "error": t["detail"].get("error")})
    last_test = max(tests.values(), key=lambda t: t["ts"], default=None)
    stale = sorted(k for k, e in subvolumes.items()
                   if e["age_hours"] is None or e["age_hours"] > e["stale_after_hours"])
    return {"subvolumes": subvolumes, "restore_tests": tests, "last_restore_test": last_test,
            "stale": stale,
            "stale_after_hours": STALE_HOURS}
