"""The loop's safety state, derived from the decision log (so it survives crashes
and is never out of step with what really happened): pause/stop, the circuit
breaker, cooldowns, restart budgets and maintenance windows; plus the one-cycle lock.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel

from homelab_ops.loop import log as decision_log
from homelab_ops.models.decision import Decision
from homelab_ops.models.settings import LoopSettings

CONTROL_ACTIONS = ("pause", "stop", "resume")
RESTARTS = ("restart", "restart-leaking")
LOCK_NAME = "cycle.lock"


class ControlState(BaseModel):
    paused: bool = False
    stopped: bool = False
    since: float | None = None  # when the pause/stop was set
    reason: str = ""
    consecutive_failures: int = 0
    breaker_open: bool = False

    @property
    def halted(self) -> str | None:
        """Why nothing may act now, or None."""
        if self.stopped:
            return "stopped"
        if self.breaker_open:
            return "breaker"
        if self.paused:
            return "paused"
        return None


def control_state(log: Sequence[Decision], breaker_failures: int) -> ControlState:
    """Pause/stop from the newest control entry; the breaker from the failures since
    the newest resume (a success resets the count)."""
    state = ControlState()
    resumed_at = 0
    for d in log:
        if d.verdict == "control" and d.action in CONTROL_ACTIONS:
            state = ControlState(paused=d.action == "pause", stopped=d.action == "stop",
                                 since=d.ts if d.action != "resume" else None,
                                 reason=d.reason if d.action != "resume" else "")
            if d.action == "resume":
                resumed_at = d.id or 0
    failures = 0
    for d in log:
        if (d.id or 0) <= resumed_at or d.ref is None or d.outcome in (None, "dry-run"):
            continue
        failures = failures + 1 if d.outcome == "failed" else 0
    state.consecutive_failures = failures
    state.breaker_open = failures >= breaker_failures
    return state


class Cooldown(BaseModel):
    until: float | None = None  # acting is blocked until then
    why: str = ""


def cooldown(log: Sequence[Decision], host: str, service: str, playbook: str,
             now: float, settings: LoopSettings) -> Cooldown:
    """The later of the per-action-type and the per-service cooldowns still running.

    An action that was interrupted before it finished starts no cooldown: if its
    finding still holds, it is retried. An action refused at the moment of acting (no
    pre-action snapshot) holds that action type like a cooldown, so the same refusal
    is not made again every cycle."""
    per_type = settings.cooldown_minutes.get(playbook, 0.0) * 60
    per_service = settings.service_cooldown_minutes * 60
    best = Cooldown()
    for d, out in [*decision_log.acted(log), *decision_log.refused(log)]:
        if d.host != host or d.subject != service or (out and out.outcome == "interrupted"):
            continue
        if d.verdict == "refused":
            if d.action != playbook:
                continue
            span, why = per_type, (f"held after the refusal of {playbook} of {service} "
                                   f"at {clock(d.ts)} ({d.reason})")
        elif d.action == playbook:
            span, why = per_type, f"cooldown after {playbook} of {service} at {clock(d.ts)}"
        else:
            span, why = per_service, f"cooldown after an action on {service} at {clock(d.ts)}"
        until = d.ts + span
        if until > now and (best.until is None or until > best.until):
            best = Cooldown(until=until, why=f"{why}, until {clock(until)}")
    return best


def restart_times(log: Sequence[Decision], host: str, service: str, now: float,
                  settings: LoopSettings) -> list[float]:
    """When the restarts of ``service`` that count against its budget right now ran."""
    since = now - settings.restart_budget_hours * 3600
    return [d.ts for d, out in decision_log.acted(log)
            if d.host == host and d.subject == service and d.action in RESTARTS
            and d.ts >= since and not (out and out.outcome == "interrupted")]


def restarts_in_budget(log: Sequence[Decision], host: str, service: str, now: float,
                       settings: LoopSettings) -> int:
    """Restarts of ``service`` that count against its budget right now."""
    return len(restart_times(log, host, service, now, settings))


def in_window(windows: Sequence[str], now: float) -> bool:
    """Inside one of the local-time maintenance windows (none set: always)."""
    if not windows:
        return True
    t = datetime.fromtimestamp(now)
    minute = t.hour * 60 + t.minute
    for w in windows:
        start, end = (int(p[:2]) * 60 + int(p[3:]) for p in w.split("-"))
        inside = start <= minute < end if start <= end else minute >= start or minute < end
        if inside:
            return True
    return False


class Busy(Exception):
    """Another cycle holds the lock."""


@contextmanager
def cycle_lock(state_dir: Path) -> Iterator[None]:
    """One cycle at a time per state directory. The kernel drops the lock when the
    holder dies, so a SIGKILLed cycle never blocks the next one."""
    path = state_dir / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise Busy(f"another cycle is running (pid {holder})") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)


def clock(ts: float) -> str:
    """A moment as a person reads it in a reason."""
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


def set_control(store, action: str, reason: str, now: float) -> Decision:
    """Record pause / stop / resume in the decision log (the loop reads it from there)."""
    from homelab_ops.loop.log import append

    d = Decision(ts=now, cycle="", action=action, verdict="control", reason=reason)
    d.id = append(store, d)
    return d


def overview(log: Sequence[Decision], settings: LoopSettings, now: float,
             pending: int) -> dict:
    """Everything in force right now: pause/stop, the breaker, running cooldowns and
    the restart budgets being used (for `ops status`)."""
    state = control_state(log, settings.breaker_failures)
    cools, budgets, seen = [], [], set()
    for d, _ in [*decision_log.acted(log), *decision_log.refused(log)]:
        key = (d.host, d.subject, d.action)
        if key in seen:
            continue
        seen.add(key)
        c = cooldown(log, d.host, d.subject, d.action, now, settings)
        if c.until is not None:
            cools.append({"host": d.host, "service": d.subject, "until": c.until, "why": c.why})
        if d.action in RESTARTS:
            used = restarts_in_budget(log, d.host, d.subject, now, settings)
            if used:
                budgets.append({"host": d.host, "service": d.subject, "used": used,
                                "budget": settings.restart_budget})
    return {"control": state.model_dump(), "breaker_failures": settings.breaker_failures,
            "cooldowns": cools, "budgets": budgets, "pending": pending}
