"""Build the report model from the store alone: observations (health), the cached
predictions, the decision log, backup rows and events. Nothing here probes a host."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from statistics import fmean

from pydantic import MISSING

from homelab_ops.models.report import (
    Action,
    Activity,
    Attention,
    Backups,
    Control,
    DayCount,
    DiskOutlook,
    Drift,
    EarlyRotation,
    HostHealth,
    LeakOutlook,
    Lowered,
    Report,
    ResourceUser,
    RestoreTest,
    Series,
    VolumeBackup,
)
from homelab_ops.models.settings import Settings
from homelab_ops.store import SeriesKey, Store

HOUR = 3600.0
WEEK = 7 * 86400.0
TOP_USERS = 5
SOON_DAYS = 7.0  # a disk predicted to cross its threshold this soon is worth a look
LOW_SCORE = 80


def build_report(store: Store, settings: Settings, now: float | None = None,
                 window: float = WEEK) -> Report:
    """The report of the ``window`` seconds up to ``now``."""
    from homelab_ops.predict.run import cached_predictions

    now = time.time() if now is None else now
    since = now - window
    predictions, _ = cached_predictions(store, settings, now)
    hosts = host_health(store.health_history(since, now))
    disks = [DiskOutlook(prediction=d, used_pct=_hourly(
        used_pct(store, d.host, d.mountpoint, since, now), fmean))
        for d in sorted(predictions.disks, key=_disk_urgency)]
    leaks = [LeakOutlook(prediction=m, mem_mb=_hourly([(t, v / 1e6) for t, v in store.read_series(
        SeriesKey(m.host, "container", m.container, "mem_bytes"), since, now)], fmean))
        for m in predictions.leaks if m.leak]
    activity = _activity(store, settings, since, now)
    backups = _backups(store, since, now)
    report = Report(generated_at=now, since=since, until=now, hosts=hosts, disks=disks,
                    leaks=leaks, activity=activity, backups=backups,
                    drift=drift(activity.decisions), top_users=top_users(store, since, now),
                    notes=list(predictions.notes))
    return report.model_copy(update={"attention": attention(report)})


def _hourly(points: Iterable[tuple[float, float]],
            combine: Callable[[Sequence[float]], float]) -> Series:
    """One point per hour (at the hour's start): ``combine`` of its values."""
    hours: dict[float, list[float]] = defaultdict(list)
    for t, v in points:
        hours[t - t % HOUR].append(v)
    return [(t, round(float(combine(vs)), 3)) for t, vs in sorted(hours.items())]


def used_pct(store: Store, host: str, mount: str, since: float, now: float
             ) -> list[tuple[float, float]]:
    """The filesystem's used % as observed, else from its used and size bytes (history
    imported or bulk-loaded as bytes only)."""
    key = SeriesKey(host, "filesystem", mount, "used_pct")
    if points := store.read_series(key, since, now):
        return points
    sizes = store.read_series(SeriesKey(host, "filesystem", mount, "size_bytes"), 0, now)
    size = sizes[-1][1] if sizes else 0.0
    used = store.read_series(SeriesKey(host, "filesystem", mount, "used_bytes"), since, now)
    return [(t, 100.0 * v / size) for t, v in used] if size else []


def host_health(rows: Iterable[tuple[str, float, bool, dict | None]]) -> list[HostHealth]:
    """Per host: its score over the window (each hour's lowest, so a dip shows) and
    what lowered it, the most costly reason first."""
    by_host: dict[str, list[tuple[float, bool, dict | None]]] = defaultdict(list)
    for host, ts, reachable, health in rows:
        by_host[host].append((ts, reachable, health))
    out = []
    for host, obs in sorted(by_host.items()):
        scored = [(ts, h["score"]) for ts, _, h in obs if h is not None]
        tally: dict[tuple[str, str], list] = {}
        for _, _, h in obs:
            for r in (h or {}).get("reasons", []):
                entry = tally.setdefault((r["code"], r["subject"]), [r["message"], 0, 0])
                entry[0], entry[1] = r["message"], entry[1] + 1
                entry[2] = max(entry[2], r["penalty"])
        lowered = sorted((Lowered(code=c, subject=s, message=m, observations=n,
                                  worst_penalty=p) for (c, s), (m, n, p) in tally.items()),
                         key=lambda x: (-x.worst_penalty * x.observations, x.code, x.subject))
        values = [s for _, s in scored]
        out.append(HostHealth(
            host=host, score_now=values[-1] if values else None,
            score_min=min(values, default=None),
            score_avg=round(fmean(values), 1) if values else None,
            observations=len(obs), unreachable=sum(1 for _, ok, _ in obs if not ok),
            scores=_hourly(scored, min), lowered_by=lowered))
    return out


def _disk_urgency(d) -> tuple[int, float, str, str]:
    rank = {"over_threshold": 0, "fills": 1, "not_filling": 2, "insufficient_data": 3}
    return (rank[d.status], d.days_until_threshold or 0.0, d.host, d.mountpoint)


def _activity(store: Store, settings: Settings, since: float, now: float) -> Activity:
    from homelab_ops.loop import controls, incidents
    from homelab_ops.loop import log as decision_log

    entries = decision_log.entries(store)
    done = decision_log.outcomes(entries)
    actions = [_action(d, done.get(d.id)) for d in reversed(entries)
               if d.ts >= since and d.ref is None and d.verdict != "control"]
    ctl = [Control(ts=d.ts, action=d.action, reason=d.reason) for d in entries
           if d.ts >= since and d.verdict == "control"]
    check = decision_log.verify(store)
    state = controls.control_state(entries, settings.loop.breaker_failures)
    return Activity(
        decisions=actions, by_verdict=_count(a.verdict for a in actions),
        by_outcome=_count(a.outcome for a in actions if a.outcome),
        per_day=per_day(actions, since, now), controls=ctl,
        breaker_trips=sum(1 for c in ctl if c.action == "breaker"),
        incident_weeks=incidents.weekly(incidents.opened_since(entries, since)),
        pending_approvals=len(store.approvals("pending")),
        log_ok=check.ok, log_problem=check.problem,
        halted=state.halted)


def _action(d, outcome) -> Action:
    verification = (outcome.detail.get("verification") or {}) if outcome else {}
    return Action(
        id=d.id or 0, ts=d.ts, host=d.host, subject=d.subject, finding=d.finding,
        action=d.action, verdict=d.verdict, confidence=d.confidence, risk=d.risk,
        reason=d.reason, outcome=outcome.outcome if outcome else d.outcome,
        outcome_reason=outcome.reason if outcome else None,
        snapshot=list(d.detail.get("snapshot") or []),
        verified=list(verification.get("checks") or []))


def _count(values: Iterable[str | None]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for v in values:
        out[str(v)] += 1
    return dict(sorted(out.items()))


def per_day(actions: Sequence[Action], since: float, now: float) -> list[DayCount]:
    """Actions that ran (executed or notified, not dry runs), per local day, by outcome;
    every day of the window is listed, so a quiet day shows as zero."""
    days: dict[str, dict[str, int]] = {}
    day = datetime.fromtimestamp(since).date()
    while day <= datetime.fromtimestamp(now).date():
        days[day.isoformat()] = {}
        day += timedelta(days=1)
    for a in actions:
        if a.verdict in ("executed", "notified") and a.outcome != "dry-run":
            key = datetime.fromtimestamp(a.ts).date().isoformat()
            counts = days.setdefault(key, {})
            counts[a.outcome or "pending"] = counts.get(a.outcome or "pending", 0) + 1
    return [DayCount(day=k, by_outcome=v) for k, v in sorted(days.items())]


def _backups(store: Store, since: float, now: float) -> Backups:
    from homelab_ops.backup.status import backup_status

    status = backup_status(store, now)
    volumes = []
    for key, e in sorted(status.subvolumes.items()):
        host, sub = key.split(":", 1)
        volumes.append(VolumeBackup(host=host, subvolume=sub,
                                    schedule="daily" if e.schedule is MISSING else e.schedule,
                                    last_ok=None if e.last_ok is None else e.last_ok.ts,
                                    snapshot=None if e.last_ok is None else e.last_ok.snapshot,
                                    age_hours=e.age_hours, stale=key in status.stale))
    tests = [RestoreTest(host=t.host, subvolume=t.subvolume, ts=t.ts, ok=t.ok,
                         error=t.error) for _, t in sorted(status.restore_tests.items())]
    early = [EarlyRotation(host=e.host, subject=e.subject.removeprefix("backup:"), ts=e.ts,
                           reason=e.detail.get("reason", ""),
                           pruned=list(e.detail.get("pruned") or []))
             for e in store.events(kinds=["backup_early_rotation"], since=since, limit=1000)]
    return Backups(volumes=volumes, restore_tests=tests, early_rotations=early)


def drift(actions: Sequence[Action]) -> list[Drift]:
    """Drift the cycle found, oldest first; repaired when its action succeeded."""
    return [Drift(host=a.host, service=a.subject, found=a.ts, message=a.reason,
                  action=a.action, repaired=a.outcome == "success")
            for a in reversed(actions) if a.finding == "drift"]


def top_users(store: Store, since: float, now: float) -> list[ResourceUser]:
    """The containers that used the most memory on average over the window."""
    users = []
    for key in store.find_series(kind="container", metric="mem_bytes"):
        mem = [v for _, v in store.read_series(key, since, now)]
        if not mem:
            continue
        cpu = [v for _, v in store.read_series(
            SeriesKey(key.host, "container", key.subject, "cpu_pct"), since, now)]
        users.append(ResourceUser(host=key.host, container=key.subject,
                                  mem_mb_avg=round(fmean(mem) / 1e6, 1),
                                  mem_mb_max=round(max(mem) / 1e6, 1),
                                  cpu_pct_avg=round(fmean(cpu), 2) if cpu else None))
    users.sort(key=lambda u: (-(u.mem_mb_avg or 0.0), u.host, u.container))
    return users[:TOP_USERS]


def attention(r: Report) -> list[Attention]:
    """What to look at first, most urgent first: what only a person can fix."""
    out: list[Attention] = []

    def add(severity, topic, message):
        out.append(Attention(severity=severity, topic=topic, message=message))

    act = r.activity
    if not act.log_ok:
        add("critical", "log", f"the decision log does not verify: {act.log_problem}")
    if act.halted:
        add("critical", "loop", f"the cycle is {act.halted}: nothing is remediated until "
                                "`homelab-ops ops resume`")
    for a in act.decisions:
        if a.outcome in ("failed", "interrupted"):
            add("critical", "actions", f"{a.action} of {a.subject} on {a.host} "
                                       f"{a.outcome}: {a.outcome_reason or a.reason}")
    for t in r.backups.restore_tests:
        if not t.ok:
            add("critical", "backups", f"restore test of {t.subvolume} on {t.host} failed"
                                       + (f": {t.error}" if t.error else ""))
    for v in r.backups.volumes:
        if v.stale:
            why = "never succeeded" if v.age_hours is None else \
                f"last good backup {v.age_hours:.0f} h ago"
            add("critical", "backups", f"backup of {v.subvolume} on {v.host}: {why}")
    if act.pending_approvals:
        add("warning", "actions", f"{act.pending_approvals} action(s) wait for approval "
                                  "(`homelab-ops queue list`)")
    seen = set()
    for a in act.decisions:
        if a.verdict in ("alerted", "refused") and (a.host, a.finding, a.subject) not in seen:
            seen.add((a.host, a.finding, a.subject))
            add("warning", "actions", f"{a.verdict}: {a.host}: {a.subject} ({a.finding}): "
                                      f"{a.reason}")
    for d in r.disks:
        p = d.prediction
        soonest = min((x for x in (p.days_until_threshold, p.low) if x is not None),
                      default=None)
        if p.status == "over_threshold" or (soonest is not None and soonest <= SOON_DAYS):
            add("warning", "disks", f"{p.mountpoint} on {p.host}: {disk_eta(p)}")
    for m in r.leaks:
        add("warning", "memory", f"{m.prediction.container} on {m.prediction.host}: "
                                 f"{leak_rate(m.prediction)}")
    for h in r.hosts:
        if h.score_now is not None and h.score_now < LOW_SCORE:
            why = h.lowered_by[0].message if h.lowered_by else "no reason recorded"
            add("warning", "health", f"{h.host} scores {h.score_now} now ({why})")
    return out


def disk_eta(p) -> str:
    """A disk prediction in words (the Markdown, the HTML and the notice say the same)."""
    if p.status == "over_threshold":
        return f"over its {p.threshold_pct:g}% threshold now"
    if p.status != "fills" or p.days_until_threshold is None:
        return p.basis
    low = "?" if p.low is None else f"{p.low:.1f}"
    high = "never" if p.high is None else f"{p.high:.1f}"
    return (f"crosses {p.threshold_pct:g}% in {p.days_until_threshold:.1f} days "
            f"({low}-{high} days)")


def leak_rate(m) -> str:
    low = "?" if m.mb_per_hour_low is None else f"{m.mb_per_hour_low:.1f}"
    high = "?" if m.mb_per_hour_high is None else f"{m.mb_per_hour_high:.1f}"
    limit = "" if m.hours_until_limit is None else \
        f", reaches its limit in {m.hours_until_limit:.1f} h"
    return f"leaks {m.mb_per_hour:.1f} MB/h ({low}-{high}){limit}"
