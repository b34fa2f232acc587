"""Incidents: the decisions about one problem of one service, grouped from the first
finding until the service has been healthy (no finding) for ``loop.healthy_minutes``.

An incident is what the backoff, the restart budget and the escalation count within:
attempts are spaced by the backoff of their incident, the budget is spent per
incident, exactly one escalation is made per incident, and a failure after the
service was healthy for H starts a new incident at the base delay. Its life is
written to the decision log as ``incident`` rows — opened, cleared (no finding this
cycle), reopened (a finding again before H), resolved (healthy for H) — so, like every
other gate, it is derived from the log alone and survives a crash.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from datetime import datetime

from pydantic import BaseModel

from homelab_ops.loop import log as decision_log
from homelab_ops.models.decision import Decision, IncidentWeek
from homelab_ops.models.finding import Finding
from homelab_ops.models.settings import LoopSettings

VERDICT = "incident"
Key = tuple[str, str]  # (host, subject)


class Incident(BaseModel):
    id: int  # the log row that opened it
    host: str
    subject: str
    finding: str  # the finding that opened it
    opened: float
    cleared: float | None = None  # no finding since then (healthy so far)
    resolved: float | None = None
    escalated: float | None = None  # the one escalation (queue + alert) it got
    actions: int = 0  # remediation attempts made in it
    last_outcome: str | None = None  # the verified outcome of its last attempt

    @property
    def state(self) -> str:
        return "resolved" if self.resolved else "clear" if self.cleared else "open"

    @property
    def mttr(self) -> float | None:
        """Seconds from its first finding to the last finding before it ended (the
        healthy period H that confirms the end is not counted)."""
        return (self.cleared or 0) - self.opened if self.resolved else None

    @property
    def key(self) -> Key:
        return (self.host, self.subject)


def history(log: Iterable[Decision]) -> list[Incident]:
    """Every incident in the log, oldest first, with its actions counted."""
    every: list[Incident] = []
    newest: dict[Key, int] = {}  # (host, subject) -> index in every
    for d in log:
        key = (d.host, d.subject)
        at = newest.get(key)
        if d.verdict == VERDICT:
            if d.action == "opened":
                newest[key] = len(every)
                every.append(Incident(id=d.id or 0, host=d.host, subject=d.subject,
                                      finding=d.finding, opened=d.ts))
            elif at is not None:
                every[at] = every[at].model_copy(update=_moved(d))
            continue
        if at is None or every[at].resolved is not None:
            continue
        inc = every[at]
        if inc.escalated is None and _escalation(d):
            every[at] = inc.model_copy(update={"escalated": d.ts})
        elif d.acts and d.ref is None and not d.detail.get("dry_run"):
            every[at] = inc.model_copy(update={"actions": inc.actions + 1})
        elif d.ref is not None and d.outcome in ("success", "failed"):
            every[at] = inc.model_copy(update={"last_outcome": d.outcome})
    return every


def incidents(log: Iterable[Decision]) -> dict[Key, Incident]:
    """The newest incident of every (host, subject), from the log."""
    return {inc.key: inc for inc in history(log)}


def _moved(d: Decision) -> dict:
    return {"opened": {}, "cleared": {"cleared": d.ts}, "reopened": {"cleared": None},
            "resolved": {"resolved": d.ts}}[d.action]


def _escalation(d: Decision) -> bool:
    """The budget was spent, or a rollback failed, and the action was queued for a
    person (and told)."""
    held = d.detail.get("held_by") or {}
    return d.verdict == "queued" and held.get("gate") in ("budget", "rollback")


def open_incident(found: dict[Key, Incident], host: str, subject: str) -> Incident | None:
    inc = found.get((host, subject))
    return inc if inc is not None and inc.resolved is None else None


def transitions(found: dict[Key, Incident], findings: Sequence[Finding],
                reachable: set[str], now: float, settings: LoopSettings,
                cycle: str) -> list[Decision]:
    """The incident rows this cycle writes: an incident opens for a subject with a
    finding and none open; it is cleared when a cycle sees no finding about it (on a
    host that answered), reopened if one comes back, resolved after H clear."""
    rows = []
    held = {(f.host, f.subject): f for f in findings}
    healthy = settings.healthy_minutes * 60
    for key, f in sorted(held.items()):
        inc = open_incident(found, *key)
        if inc is None:
            rows.append(_row(now, cycle, f.host, f.subject, f.code, "opened",
                             f"incident opened: {f.message}"))
        elif inc.cleared is not None:
            rows.append(_row(now, cycle, f.host, f.subject, f.code, "reopened",
                             f"incident #{inc.id} again: {f.message}", inc.id))
    for key, inc in sorted(found.items()):
        if inc.resolved is not None or key in held or inc.host not in reachable:
            continue
        if inc.cleared is None:
            rows.append(_row(now, cycle, inc.host, inc.subject, inc.finding, "cleared",
                             f"incident #{inc.id}: no finding about {inc.subject} now",
                             inc.id))
        elif now - inc.cleared >= healthy:
            rows.append(_row(now, cycle, inc.host, inc.subject, inc.finding, "resolved",
                             f"incident #{inc.id} resolved: {inc.subject} has been "
                             f"healthy for {settings.healthy_minutes:g} min", inc.id))
    return rows


def _row(now: float, cycle: str, host: str, subject: str, finding: str, action: str,
         reason: str, incident: int | None = None) -> Decision:
    return Decision(ts=now, cycle=cycle, host=host, subject=subject, finding=finding,
                    action=action, verdict=VERDICT, reason=reason,
                    detail={"incident": incident} if incident else {})


def attempts(log: Iterable[Decision], inc: Incident | None, host: str,
             subject: str) -> list[float]:
    """When the remediation attempts of the incident ran (all of the subject's when
    there is no incident yet); an interrupted one does not count."""
    since = inc.opened if inc else 0.0
    return [d.ts for d, out in decision_log.acted(log)
            if d.host == host and d.subject == subject and d.ts >= since
            and not (out and out.outcome == "interrupted")]


def backoff_until(times: Sequence[float], settings: LoopSettings) -> float | None:
    """After n attempts the next waits base x 2^(n-1), at most cap, from the last."""
    if not times:
        return None
    delay = min(settings.backoff_cap_minutes,
                settings.backoff_base_minutes * 2 ** (len(times) - 1))
    return max(times) + delay * 60


def opened_since(log: Iterable[Decision], since: float, service: str | None = None
                 ) -> list[Incident]:
    """The incidents opened at or after ``since`` (of one service when given), oldest
    first: what `incidents`, `decisions` and the report count their weeks over."""
    return [i for i in history(log)
            if i.opened >= since and (service is None or i.subject == service)]


def weekly(every: Sequence[Incident]) -> list[IncidentWeek]:
    """Per ISO week of opening (local time): the incidents, the share resolved without
    a person (auto-resolved: ended and never escalated), the share escalated, and the
    median MTTR of the resolved ones."""
    weeks: dict[str, list[Incident]] = {}
    for inc in every:
        year, week, _ = datetime.fromtimestamp(inc.opened).isocalendar()
        weeks.setdefault(f"{year}-W{week:02d}", []).append(inc)
    out = []
    for week, items in sorted(weeks.items()):
        auto = sum(1 for i in items if i.resolved and i.escalated is None)
        escalated = sum(1 for i in items if i.escalated is not None)
        times = [m for i in items if (m := i.mttr) is not None]
        out.append(IncidentWeek(
            week=week, incidents=len(items), auto_resolved=auto, escalated=escalated,
            open=len(items) - auto - escalated,
            auto_resolved_pct=round(100 * auto / len(items), 1),
            escalated_pct=round(100 * escalated / len(items), 1),
            median_mttr_s=statistics.median(times) if times else None))
    return out
