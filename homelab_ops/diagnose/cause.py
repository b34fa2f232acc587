"""Name a service's trouble from its evidence. Pure: the diagnosis gathers, this judges.

Findings come out most telling first, and the first one is the cause: a kernel OOM
kill explains a death better than its exit code, a crash loop better than a failing
healthcheck (a container that dies cannot pass one), and both better than a leak
that is only coming or a drift that may be harmless.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass, field

from homelab_ops.models.diagnosis import HealthRun
from homelab_ops.models.finding import Finding
from homelab_ops.models.observation import ContainerObs

MiB = 2**20


@dataclass(frozen=True)
class Evidence:
    container: ContainerObs
    last_exit_code: int | None = None
    log_tail: list[str] = field(default_factory=list)
    health_log: list[HealthRun] = field(default_factory=list)
    restarts_1h: int = 0  # from the store's events
    ooms_1h: int = 0
    died_codes: list[int] = field(default_factory=list)  # exit codes of deaths, 1 h
    leak: dict | None = None  # a cached LeakPrediction
    drift: list[str] = field(default_factory=list)
    restart_loop_count: int = 3


def findings(ev: Evidence) -> list[Finding]:
    """Everything wrong, most telling first; empty when nothing is."""
    rules = (_oom, _crash, _unhealthy, _restarts, _leak, _drift, _stopped)
    out = []
    for rule in rules:
        found = rule(ev)
        if found is not None and not any(f.code == found.code for f in out):
            out.append(found)
    return out


def cause(ev: Evidence) -> str | None:
    found = findings(ev)
    return found[0].message if found else None


def last_line(lines: list[str]) -> str | None:
    return next((ln.strip() for ln in reversed(lines) if ln.strip()), None)


def exit_meaning(code: int) -> str:
    """``code 3``, or ``code 137 (SIGKILL)`` for a death by signal."""
    if code > 128:
        try:
            return f"code {code} ({signal.Signals(code - 128).name})"
        except ValueError:
            pass
    return f"code {code}"


def _said(ev: Evidence) -> str:
    line = last_line(ev.log_tail)
    return f": last log line {line!r}" if line else ": it logged nothing"


def _f(code: str, ev: Evidence, message: str, **evidence) -> Finding:
    return Finding(code=code, subject=ev.container.name, message=message, evidence=evidence)


def _oom(ev: Evidence) -> Finding | None:
    c = ev.container
    if not (c.oom_killed or ev.ooms_1h):
        return None
    limit = f"its limit {c.mem_limit_bytes / MiB:.0f} MiB" if c.mem_limit_bytes else "no limit"
    times = f"{ev.ooms_1h} time{'s' if ev.ooms_1h != 1 else ''} in 1 h" if ev.ooms_1h \
        else "on its last run"
    return _f("oom_killed", ev, f"OOM-killed {times} ({limit})", ooms_1h=ev.ooms_1h,
              mem_limit_bytes=c.mem_limit_bytes)


def _crash(ev: Evidence) -> Finding | None:
    """A non-zero exit: a loop when podman or the store saw it restart again and again."""
    c = ev.container
    code = ev.last_exit_code or c.exit_code or next(
        (d for d in reversed(ev.died_codes) if d), None)  # caught running again: the log's
    if not code:
        return None
    looping = (c.state == "restarting" or c.restart_count >= ev.restart_loop_count
               or ev.restarts_1h >= ev.restart_loop_count)
    if looping:
        same = not ev.died_codes or all(d == code for d in ev.died_codes)
        how = "on every start" if same else "again and again"
        n = max(c.restart_count, ev.restarts_1h)
        return _f("crash_loop", ev, f"exits with {exit_meaning(code)} {how} "
                  f"({n} restarts){_said(ev)}", exit_code=code, restarts=n)
    if c.running:
        return None  # it died once and runs again: the restart rule says so if it matters
    when = f" at {c.finished_at:%Y-%m-%d %H:%M:%S} UTC" if c.finished_at else ""
    return _f("exited", ev, f"exited with {exit_meaning(code)}{when}{_said(ev)}",
              exit_code=code)


def _unhealthy(ev: Evidence) -> Finding | None:
    c = ev.container
    runs = ev.health_log
    failed = [r for r in runs if r.exit_code != 0]
    if not c.running or not (c.health == "unhealthy" or (runs and runs[-1].exit_code)):
        return None
    last = runs[-1] if runs else None
    why = (last.output or f"exit {last.exit_code}") if last and last.exit_code else "unhealthy"
    return _f("unhealthy", ev, f"healthcheck failing: {why} ({len(failed)} of the last "
              f"{len(runs)} checks failed)", failed=len(failed), checks=len(runs))


def _restarts(ev: Evidence) -> Finding | None:
    if ev.restarts_1h < ev.restart_loop_count:
        return None
    return _f("restart_loop", ev, f"restarted {ev.restarts_1h} times in 1 h",
              restarts_1h=ev.restarts_1h)


def _leak(ev: Evidence) -> Finding | None:
    m = ev.leak
    if not m or not m.get("leak"):
        return None
    until = m.get("hours_until_limit")
    reach = f", reaches its limit in {until:.1f} h" if until is not None else ""
    return _f("memory_leak", ev, f"memory grows {m['mb_per_hour']:.1f} MB/h since its last "
              f"restart{reach}", mb_per_hour=m["mb_per_hour"], hours_until_limit=until)


def _drift(ev: Evidence) -> Finding | None:
    if not ev.drift:
        return None
    more = f" (and {len(ev.drift) - 1} more)" if len(ev.drift) > 1 else ""
    return _f("drift", ev, f"differs from its stack: {ev.drift[0]}{more}", lines=ev.drift)


def _stopped(ev: Evidence) -> Finding | None:
    c = ev.container
    if c.running or c.state == "restarting" or c.exit_code or ev.last_exit_code:
        return None  # a crash says more
    return _f("stopped", ev, f"not running ({c.state}, exit code {c.exit_code})",
              state=c.state)
