"""The loop watches itself: the last successful cycle (when it ended, how long it took,
how it ended) is kept in the store, and the heartbeat is missed when no cycle has
succeeded for ``MISSED_PERIODS`` periods (the cycle timer's interval, or settings
``loop.cycle_period_minutes``).

Whichever command notices a missed heartbeat first (status, metrics, report, a backup
run, or the next cycle itself) sends one alert through the notifier: the alert is
claimed in the store in the transaction that reads it, so two commands never both
send it (a claim whose every delivery failed is released for the next command to
retry), and a "resolved" follows once when cycles succeed again. A cycle that resumes
after a gap nobody noticed says so in one message instead of an alert and its
resolution back to back.
"""

from __future__ import annotations

import time
from datetime import datetime

from pydantic import BaseModel

from homelab_ops.collection.lib.timers import CYCLE_PERIOD_MINUTES
from homelab_ops.models.decision import CycleReport
from homelab_ops.models.settings import Settings
from homelab_ops.store import Store

LAST_KEY = "cycle:last"  # the last cycle that ran to its end
ALERT_KEY = "cycle:heartbeat_alert"  # the missed-heartbeat alert that went out
SCOPE = "cycle"
FOREVER = 100 * 365 * 86400.0  # kept until the next cycle replaces it
MISSED_PERIODS = 2


class Heartbeat(BaseModel):
    period_s: float
    last_ok: float | None = None  # when the last successful cycle ended
    started: float | None = None
    duration_s: float | None = None
    outcome: str | None = None  # ok, or why it halted early (it still ran)
    phases: dict[str, float] = {}
    missed: bool = False  # no successful cycle for MISSED_PERIODS periods
    alerted: float | None = None  # when the missed-heartbeat alert was claimed


def period_s(settings: Settings) -> float:
    return 60 * (settings.loop.cycle_period_minutes or CYCLE_PERIOD_MINUTES)


def record(store: Store, report: CycleReport, now: float | None = None) -> None:
    """Keep a cycle that ran to its end (one skipped for the lock is not a heartbeat)."""
    if report.skipped is not None:
        return
    now = time.time() if now is None else now
    store.cache_put(LAST_KEY, {
        "started": report.started, "finished": now, "duration_s": now - report.started,
        "outcome": f"halted: {report.halted}" if report.halted else "ok",
        "phases": report.phases}, FOREVER, SCOPE, now=now)


def state(store: Store, settings: Settings, now: float | None = None) -> Heartbeat:
    now = time.time() if now is None else now
    period = period_s(settings)
    alert = store.cache_get(ALERT_KEY, now)
    last = store.cache_get(LAST_KEY, now)
    if last is None:  # no cycle ever ran: not installed yet rather than wedged
        return Heartbeat(period_s=period, alerted=alert and alert["ts"])
    # a record from before the finish time was kept: its start is the heartbeat
    ended = last.get("finished", last["started"])
    return Heartbeat(period_s=period, last_ok=ended, started=last["started"],
                     duration_s=last.get("duration_s"), outcome=last.get("outcome"),
                     phases=last.get("phases") or {},
                     missed=now - ended > MISSED_PERIODS * period,
                     alerted=alert and alert["ts"])


def check(store: Store, settings: Settings, now: float | None = None) -> Heartbeat:
    """The heartbeat now; sends the missed-heartbeat alert if nobody has yet, or the
    "resolved" if the alert went out and a cycle has succeeded since."""
    now = time.time() if now is None else now
    with store.transaction():
        hb = state(store, settings, now)
        if hb.missed and hb.alerted is None:
            store.cache_put(ALERT_KEY, {"ts": now, "last_ok": hb.last_ok}, FOREVER,
                            SCOPE, now=now)
            send = ("homelab-ops cycle MISSED", f"{line(hb, now)}: the loop is not "
                    "remediating anything; see `systemctl status homelab-ops-cycle` and "
                    "`journalctl -u homelab-ops-cycle`", "failure")
        elif not hb.missed and hb.alerted is not None:
            store.cache_delete(ALERT_KEY)
            send = ("homelab-ops cycle resumed", f"resolved: {line(hb, now)}", "info")
        else:
            return hb
    if not _notify(settings, *send) and hb.missed:
        store.cache_delete(ALERT_KEY)  # nobody was told: the next command tries again
    return state(store, settings, now)


def beat(store: Store, settings: Settings, report: CycleReport,
         now: float | None = None) -> None:
    """Record a finished cycle. When its predecessor was overdue and nobody noticed,
    one message says the cycle resumed after the gap; an alert already sent is resolved."""
    now = time.time() if now is None else now
    before = state(store, settings, report.started)
    record(store, report, now)
    if report.skipped is not None:
        return
    if before.alerted is None and before.missed and before.last_ok is not None:
        _notify(settings, "homelab-ops cycle resumed after a gap",
                f"no successful cycle from {_clock(before.last_ok)} to "
                f"{_clock(report.started)} ({_span(report.started - before.last_ok)}, "
                f"every {_span(before.period_s)} expected); it ran again now", "warning")
    check(store, settings, now)


def line(hb: Heartbeat, now: float | None = None) -> str:
    """The heartbeat in words, for `status` and the messages."""
    now = time.time() if now is None else now
    every = f"every {_span(hb.period_s)}"
    if hb.last_ok is None:
        return f"cycle: never run ({every} expected)"
    ago = f"{_span(now - hb.last_ok)} ago"
    if hb.missed:
        return (f"cycle: MISSED — no cycle for {MISSED_PERIODS} periods (last ok {ago}, "
                f"at {_clock(hb.last_ok)}; {every})")
    took = f", took {hb.duration_s:.0f} s" if hb.duration_s is not None else ""
    halted = f", {hb.outcome}" if hb.outcome not in (None, "ok") else ""
    return f"cycle: last ok {ago} ({every}{took}{halted})"


def _notify(settings: Settings, title: str, body: str, level: str) -> bool:
    """Best effort (a failed delivery is not a crash); False when every configured
    URL failed."""
    from homelab_ops.loop.notify import notify

    result = notify(settings, title, body, level)
    return not result.deliveries or any(d.sent for d in result.deliveries)


def _span(seconds: float) -> str:
    minutes = max(0, round(seconds / 60))
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes / 60:.0f} h" if minutes < 72 * 60 else f"{minutes / 1440:.1f} days"


def _clock(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")
