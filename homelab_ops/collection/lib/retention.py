"""The retention planner: a pure function from snapshot names, a policy and the time to
a keep/delete decision with a reason for every snapshot.

Semantics follow btrbk's retention as its code (``schedule()``) computes it: the
first snapshot of each hour and day (days start at ``preserve_hour_of_day``) and week
(weeks start on ``preserve_day_of_week``) is an hourly/daily/weekly one, the first
weekly one of a month (months start on the month's first ``preserve_day_of_week``) is
monthly, the first monthly one of a year is yearly; ``14d``
keeps the daily ones of today and of the 14 days before (counts are inclusive of the
current bucket); ``min_keep`` keeps everything inside its window. On top of that it
never deletes the newest snapshot of a subvolume, a protected one (the newest snapshot
common with the target: the parent of the next incremental send), a future-dated one
or a name it does not understand.

Planning the kept set again deletes nothing more (a tested property; see _plan_group).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from homelab_ops.collection.lib.naming import SnapshotName, parse
from homelab_ops.models.backup import UNIT_NAMES, UNITS, RetentionPolicy


@dataclass(frozen=True)
class Verdict:
    name: str
    keep: bool
    reason: str


def plan(
    names: Iterable[str],
    policy: RetentionPolicy,
    now: datetime,
    *,
    protect: Collection[str] = (),
    tag_policies: Mapping[str, RetentionPolicy] | None = None,
) -> list[Verdict]:
    """Decide every snapshot in ``names``; result is sorted oldest first (names that
    are not snapshots first).

    Untagged snapshots follow ``policy``; tagged ones the policy of their tag (a tag
    without a policy is kept: we never delete what nobody told us how to age)."""
    groups: dict[tuple[str, str | None], list[SnapshotName]] = defaultdict(list)
    foreign: list[Verdict] = []
    for name in names:
        snap = parse(name)
        if snap is None:
            foreign.append(Verdict(name, True, "not a snapshot name this tool made"))
        else:
            groups[(snap.base, snap.tag)].append(snap)
    tag_policies = tag_policies or {}
    decided: list[tuple[datetime, Verdict]] = []
    for (_, tag), snaps in groups.items():
        if tag is None or tag in tag_policies:
            group_policy = policy if tag is None else tag_policies[tag]
            decided.extend(_plan_group(snaps, group_policy, now, protect))
        else:
            decided.extend((s.ts, Verdict(s.name, True, f"tag {tag!r} has no retention "
                                                        "policy")) for s in snaps)
    decided.sort(key=lambda pair: (pair[0], pair[1].name))
    return foreign + [d for _, d in decided]


def deletions(decisions: Iterable[Verdict]) -> list[str]:
    return [d.name for d in decisions if not d.keep]


def _plan_group(snaps: list[SnapshotName], policy: RetentionPolicy, now: datetime,
                protect: Collection[str]) -> list[tuple[datetime, Verdict]]:
    """Apply the schedule until it is stable.

    btrbk's classes build on each other (a monthly backup is the first *weekly* one of
    its month), so deleting a week's first snapshot can promote a later one that was
    kept for another reason. Planning the survivors again until nothing more goes
    makes the result exactly what repeated runs converge to: planning it once more
    deletes nothing."""
    counts, now_buckets = policy.counts, _buckets(now, policy, reference=True)
    buckets = {s.name: _buckets(s.ts, policy) for s in snaps}
    alive, gone = sorted(snaps), []
    while True:
        decided = _plan_once(alive, policy, now, protect, counts, now_buckets, buckets)
        doomed = [(s, d) for s, d in zip(alive, decided, strict=True) if not d.keep]
        if not doomed:
            return [(s.ts, d) for s, d in zip(alive, decided, strict=True)] + gone
        gone.extend((s.ts, d) for s, d in doomed)
        alive = [s for s, d in zip(alive, decided, strict=True) if d.keep]


def _plan_once(snaps: list[SnapshotName], policy: RetentionPolicy, now: datetime,
               protect: Collection[str], counts: dict[str, int | None],
               now_buckets: dict[str, int], buckets: dict[str, dict[str, int]]
               ) -> list[Verdict]:
    past = [s for s in snaps if s.ts <= now]
    newest = past[-1] if past else None
    firsts = _firsts(past, buckets)
    out = []
    for s in snaps:
        if newest is None or s.ts > newest.ts:
            keep, reason = True, "future-dated"
        elif s is newest:
            keep, reason = True, "newest snapshot"
        elif s.name in protect:
            keep, reason = True, ("newest snapshot common with the target "
                                  "(next incremental parent)")
        else:
            keep, reason = _by_policy(s.name, buckets[s.name], policy, counts, now_buckets,
                                      firsts)
        out.append(Verdict(s.name, keep, reason))
    return out


def _firsts(past: list[SnapshotName], buckets: dict[str, dict[str, int]]
            ) -> dict[str, set[str]]:
    """Per class, the snapshots that count as hourly/daily/weekly/monthly/yearly
    backups, as btrbk defines them: the first of each hour, day (from
    preserve_hour_of_day) and week (from preserve_day_of_week); the first *weekly*
    backup of each month; the first *monthly* backup of each year."""
    out: dict[str, set[str]] = {}
    pool = past  # oldest first
    for unit in UNITS:
        seen: dict[int, str] = {}
        for s in pool:
            seen.setdefault(buckets[s.name][unit], s.name)
        out[unit] = set(seen.values())
        if unit in ("w", "m"):  # months choose among weeklies, years among monthlies
            pool = [s for s in pool if s.name in out[unit]]
    return out


def _by_policy(name: str, buckets: dict[str, int], policy: RetentionPolicy,
               counts: dict[str, int | None], now_buckets: dict[str, int],
               firsts: dict[str, set[str]]) -> tuple[bool, str]:
    keep_min = policy.min_keep
    if keep_min == "all":
        return True, "min_keep all"
    if keep_min not in ("latest", "no"):
        count, unit = int(keep_min[:-1]), keep_min[-1]
        if now_buckets[unit] - buckets[unit] <= count:
            return True, f"inside min_keep {keep_min}"
    for unit in UNITS:
        count = counts[unit]
        delta = now_buckets[unit] - buckets[unit]
        if count != 0 and name in firsts[unit] and (count is None or delta <= count):
            return True, f"{UNIT_NAMES[unit]}: {_WHAT[unit]}, {delta} back"
    return False, f"outside retention (preserve '{policy.preserve}', min_keep {keep_min})"


_WHAT = {"h": "first of its hour", "d": "first of its day", "w": "first of its week",
         "m": "first weekly of its month", "y": "first monthly of its year"}


def _buckets(ts: datetime, policy: RetentionPolicy, reference: bool = False
             ) -> dict[str, int]:
    """Bucket number per class; consecutive buckets differ by one.

    As btrbk's ``schedule()`` computes them: days start at ``preserve_hour_of_day``,
    weeks on ``preserve_day_of_week``, and a month (so a year) starts on the first
    ``preserve_day_of_week`` of the month: a snapshot whose week began in the previous
    month counts towards that month. btrbk finds that by comparing the calendar day
    of the month with the days since the week began (counted from the hour of day),
    which is: the calendar date that many days back lies in the previous month. The
    ``reference`` time (now) is taken by its plain calendar month and year, as btrbk
    does."""
    shifted = ts - timedelta(hours=policy.preserve_hour_of_day)
    day = shifted.date().toordinal()  # ordinal 1 is a Monday
    into_week = (day - 1 - policy.weekday) % 7
    month = ts.date() if reference else ts.date() - timedelta(days=into_week)
    return {
        "h": ts.toordinal() * 24 + ts.hour,
        "d": day,
        "w": (day - 1 - policy.weekday) // 7,
        "m": month.year * 12 + month.month - 1,
        "y": month.year,
    }
