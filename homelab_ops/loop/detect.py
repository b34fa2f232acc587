"""DETECT: observations + predictions + history -> findings with their evidence.

Pure functions. The container, disk and backup findings are health.py's own (the
health score and the loop judge the same things the same way); the detectors add
what only history and predictions can tell — how long it has lasted, whether it
keeps coming back, what is about to happen — and how clear the evidence is.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, Field

from homelab_ops import health
from homelab_ops.models.finding import Finding
from homelab_ops.models.observation import ContainerObs, Observation
from homelab_ops.models.prediction import PredictionReport
from homelab_ops.models.settings import Settings

STACK_LABEL, SERVICE_LABEL, PATTERN_LABEL = (
    "homelab-ops.stack", "homelab-ops.service", "homelab-ops.pattern")


class History(BaseModel):
    """ORIENT's view of one host: what came before the newest observation."""

    recent: list[Observation] = Field(default_factory=list)  # newest first, current too
    restarts: dict[str, int] = Field(default_factory=dict)  # container -> restarts, 24 h
    backup_targets: list[str] = Field(default_factory=list)  # mounts holding backup copies


def detect(obs: Observation, history: History, predictions: PredictionReport,
           settings: Settings, backup: Sequence[Finding] = (),
           drift: Sequence[Finding] = ()) -> list[Finding]:
    """Every finding for one host, at most one per (code, subject)."""
    if not obs.reachable:
        return [Finding(code="host_unreachable", subject=obs.host, host=obs.host,
                        message=f"{obs.host} is unreachable: {obs.error}", clarity=0.5,
                        evidence={"error": obs.error})]
    found: dict[tuple[str, str], Finding] = {}
    drift = _failed_units(obs, drift)
    for f in [*_containers(obs, history, settings),
              *_disks(obs, history, predictions, settings),
              *_leaks(obs, predictions, settings), *backup, *drift]:
        f = f.model_copy(update={"host": obs.host})
        found.setdefault((f.code, f.subject), f)
    return sorted(found.values(), key=lambda f: (f.code, f.subject))


def with_failed_units(obs: Observation, earlier: Sequence[Observation]) -> Observation:
    """This view of a systemd host with the containers of its failed units put back.

    A quadlet container whose unit systemd gave up on (``failed``: its start limit hit,
    or a start that failed) is gone from podman (quadlet runs it with ``--rm``), so no
    container detector would see it. It is put back as it was last seen (``earlier``,
    newest first), in state ``failed``: found down and acted on like any stopped
    container, with its labels, mounts and dependents known. A failed unit that never
    ran a container seen here is left alone: nothing says it is one."""
    if not obs.systemd or not obs.reachable:
        return obs
    present = {c.name for c in obs.containers}
    back: list[ContainerObs] = []
    for unit in obs.units:
        name = unit.name.removesuffix(".service")
        if unit.active != "failed" or name == unit.name or name in present:
            continue
        seen = next((c for o in earlier for c in o.containers if c.name == name), None)
        if seen is not None and name not in {c.name for c in back}:
            back.append(seen.model_copy(update={
                "state": "failed", "health": None, "log_tail": [], "exit_code": None,
                "finished_at": None, "mem_bytes": None, "cpu_pct": None}))
    return obs.model_copy(update={"containers": [*obs.containers, *back]}) if back else obs


def _containers(obs: Observation, history: History, settings: Settings) -> list[Finding]:
    t = settings.thresholds
    out = []
    for f in health.findings(obs, t):
        c = obs.container(f.subject)
        if c is None:
            continue
        restarts = history.restarts.get(c.name, 0)
        if f.code == "container_down":
            # a crash loop is not fixed by one more restart: say what it is instead
            if restarts >= t.restart_loop_count:
                continue
            out.append(_down(f, c, history))
        elif f.code == "unhealthy":
            streak = _unhealthy_streak(c.name, history.recent)
            if streak >= settings.loop.unhealthy_observations and c.running:
                extra = streak - settings.loop.unhealthy_observations
                out.append(f.model_copy(update={
                    "message": f"{c.name} failed its healthcheck in {streak} observations "
                               "in a row",
                    "clarity": min(0.98, 0.9 + 0.03 * extra),
                    "evidence": {**_facts(c), "unhealthy_observations": streak}}))
        elif f.code in ("restart_loop", "oom_killed"):
            out.append(f.model_copy(update={"clarity": 0.9, "evidence": {
                **_facts(c), "restarts_24h": restarts}}))
    for c in obs.containers:
        restarts = history.restarts.get(c.name, 0)
        if restarts >= t.restart_loop_count and not any(
                f.code == "restart_loop" and f.subject == c.name for f in out):
            out.append(Finding(code="restart_loop", subject=c.name, clarity=0.9,
                               message=f"{c.name} restarted {restarts} times in 24 h",
                               evidence={**_facts(c), "restarts_24h": restarts}))
    return out


def _failed_units(obs: Observation, drift: Sequence[Finding]) -> list[Finding]:
    """``drift`` without the ``missing`` of a container whose quadlet unit failed (put
    back in the view by ``with_failed_units``): it is a stopped container, restarted
    like any other; a redeploy would only start the unit systemd refuses."""
    failed = {c.name for c in obs.containers if c.state == "failed"}
    return [d for d in drift if not (d.code == "drift" and d.subject in failed
                                     and d.evidence.get("kinds") == ["missing"])]


def _down(f: Finding, c: ContainerObs, history: History) -> Finding:
    """A stopped container: clearest when a stack declares it (it must run), less so
    when nobody declared it and it exited cleanly (it may be a finished job)."""
    managed = STACK_LABEL in c.labels
    clean_exit = c.exit_code == 0
    clarity = 1.0 if managed else 0.6 if clean_exit else 0.93
    down_for = sum(1 for o in history.recent
                   if (x := o.container(c.name)) is not None and not x.running)
    return f.model_copy(update={"clarity": clarity, "evidence": {
        **_facts(c), "managed": managed, "observations_down": down_for}})


def _unhealthy_streak(name: str, recent: Sequence[Observation]) -> int:
    streak = 0
    for o in recent:
        c = o.container(name)
        if c is None or c.health != "unhealthy":
            break
        streak += 1
    return streak


def _disks(obs: Observation, history: History, predictions: PredictionReport,
           settings: Settings) -> list[Finding]:
    """Over the critical level now (observed, or by the trend), or predicted to cross
    it within the horizon."""
    horizon = settings.loop.disk_horizon_days
    out = [Finding(code="disk_full", subject=f.subject, message=f.message, clarity=0.97,
                   evidence={"status": "over_threshold", "observed": True,
                             "backup_target": f.subject in history.backup_targets})
           for f in health.findings(obs, settings.thresholds) if f.code == "disk_crit"]
    for d in predictions.disks:
        if d.host != obs.host or d.status not in ("fills", "over_threshold"):
            continue
        days = d.days_until_threshold or 0.0
        if d.status == "fills" and days > horizon:
            continue
        over = d.status == "over_threshold"
        clarity = 0.97 if over else max(0.0, min(0.97, 1.0 - (d.p_value or 0.05) * 2))
        message = (f"{d.mountpoint} is over its {d.threshold_pct:.0f}% threshold" if over
                   else f"{d.mountpoint} is predicted to cross {d.threshold_pct:.0f}% in "
                        f"{days:.1f} days ({_range(d.low, d.high)} days)")
        out.append(Finding(code="disk_full", subject=d.mountpoint, message=message,
                           clarity=clarity, evidence={
                               "status": d.status, "days": d.days_until_threshold,
                               "low": d.low, "high": d.high, "used_pct": d.used_pct,
                               "growth_bytes_per_day": d.growth_bytes_per_day,
                               "basis": d.basis,
                               "backup_target": d.mountpoint in history.backup_targets}))
    return out


def _leaks(obs: Observation, predictions: PredictionReport,
           settings: Settings) -> list[Finding]:
    """A leak that reaches the container's memory limit within the horizon."""
    out = []
    for m in predictions.leaks:
        if m.host != obs.host or not m.leak or m.hours_until_limit is None:
            continue
        c = obs.container(m.container)
        if c is None or not c.running or m.hours_until_limit > settings.loop.leak_horizon_hours:
            continue
        out.append(Finding(
            code="memory_leak", subject=m.container, clarity=m.confidence,
            message=f"{m.container} leaks {m.mb_per_hour:.1f} MB/h and reaches its limit "
                    f"in {m.hours_until_limit:.1f} h",
            evidence={**_facts(c), "mb_per_hour": m.mb_per_hour,
                      "hours_until_limit": m.hours_until_limit,
                      "hours_low": m.hours_until_limit_low, "basis": m.basis}))
    return out


def _facts(c: ContainerObs) -> dict:
    return {"state": c.state, "health": c.health, "exit_code": c.exit_code,
            "oom_killed": c.oom_killed, "restart_count": c.restart_count,
            "image": c.image, "stack": c.labels.get(STACK_LABEL),
            "service": c.labels.get(SERVICE_LABEL),
            "pattern": c.labels.get(PATTERN_LABEL),
            "finished_at": c.finished_at.isoformat() if c.finished_at else None}


def _range(low: float | None, high: float | None) -> str:
    lo = "?" if low is None else f"{low:.1f}"
    hi = "never" if high is None else f"{high:.1f}"
    return f"{lo}-{hi}"
