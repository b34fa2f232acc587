"""Health score per host, 0-100, with the reasons that lowered it.

All weights live in WEIGHTS so the scoring is documented and tuned in one place.
Each reason kind is capped so that one noisy stack cannot hide everything else.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from homelab_ops.models.backup_status import BackupStatus
from homelab_ops.models.finding import Finding
from homelab_ops.models.observation import HealthReason, HealthScore, Observation
from homelab_ops.models.settings import Thresholds

# penalty per finding, and the most one kind may take off in total
WEIGHTS: dict[str, tuple[int, int]] = {
    "container_down": (15, 45),  # a container that is not running (exit or stop)
    "unhealthy": (10, 30),  # its healthcheck fails
    "restart_loop": (10, 30),  # restarted restart_loop_count times or more
    "oom_killed": (10, 20),  # the kernel killed it for memory
    "disk_warn": (10, 20),  # a filesystem above disk_warn_pct
    "disk_crit": (25, 50),  # a filesystem above disk_crit_pct
    "memory_pressure": (15, 15),  # host memory used above memory_pressure_pct
    "probe_error": (5, 10),  # part of the probe failed: we may not see everything
    "backup_stale": (15, 15),  # no successful backup within the expected age
    "restore_test": (10, 10),  # the last restore test failed or is overdue
    "backup_copy_unusable": (10, 20),  # a copy on the target changed after its receive
}


def score(obs: Observation, t: Thresholds,
          extra: list[Finding] | None = None) -> HealthScore:
    """Score one observation; ``extra`` adds findings observed elsewhere (backups)."""
    if not obs.reachable:
        return HealthScore(score=0, reasons=[HealthReason(
            code="unreachable", subject=obs.host, penalty=100,
            message=f"host unreachable: {obs.error}")])
    found = [*findings(obs, t), *(extra or [])]
    taken: dict[str, int] = defaultdict(int)
    reasons = []
    for f in found:
        penalty, cap = WEIGHTS[f.code]
        penalty = min(penalty, cap - taken[f.code])
        taken[f.code] += penalty
        reasons.append(HealthReason(code=f.code, subject=f.subject, penalty=penalty,
                                    message=f.message))
    total = sum(r.penalty for r in reasons)
    return HealthScore(score=max(0, 100 - total),
                       reasons=sorted(reasons, key=lambda r: -r.penalty))


RESTORE_TEST_MAX_AGE_DAYS = 35  # monthly restore test, plus a few days of slack


def backup_findings(status: BackupStatus, host: str) -> list[Finding]:
    """Findings for ``host`` from ``backup.status.backup_status``: stale subvolumes, a
    failed or overdue restore test, and copies on the target that can never be an
    incremental parent (changed after they were received, or failed their restore test).
    A host that has never backed up anything (no backup configured) is not judged here."""
    prefix = f"{host}:"
    mine = {k: v for k, v in status.subvolumes.items() if k.startswith(prefix)}
    found = []
    for key in status.stale:
        if key in mine:
            sub, age = key[len(prefix):], mine[key].age_hours
            why = "never succeeded" if age is None else f"last good backup {age:.0f} h ago"
            found.append(_finding("backup_stale", sub, f"backup of {sub}: {why}"))
    for key, entry in sorted(mine.items()):
        sub = key[len(prefix):]
        for name, why in sorted(entry.unusable.items()):
            found.append(_finding("backup_copy_unusable", f"{sub}:{name}",
                                  f"backup copy {name} of {sub} is never an incremental "
                                  f"parent: {why}"))
    tests = [t for k, t in status.restore_tests.items() if k.startswith(prefix)]
    if mine and not tests:
        found.append(_finding("restore_test", host, "no restore test has run yet"))
    for test in sorted(tests, key=lambda t: t.subvolume):  # each volume's own latest
        if not test.ok:
            found.append(_finding("restore_test", test.subvolume,
                                  f"restore test of {test.subvolume} failed"))
        elif test.age_days > RESTORE_TEST_MAX_AGE_DAYS:
            found.append(_finding("restore_test", test.subvolume,
                                  f"restore test of {test.subvolume} overdue "
                                  f"({test.age_days:.0f} days old)"))
    return found


def _finding(code: str, subject: str, message: str) -> Finding:
    return Finding(code=code, subject=subject, message=message)


def findings(obs: Observation, t: Thresholds) -> Iterator[Finding]:
    for c in obs.containers:
        if not c.running and c.state != "paused":
            code = f" (exit {c.exit_code})" if c.exit_code is not None else ""
            yield _finding("container_down", c.name, f"{c.name} is {c.state}{code}")
        if c.health == "unhealthy":
            yield _finding("unhealthy", c.name, f"{c.name} fails its healthcheck")
        if c.restart_count >= t.restart_loop_count:
            yield _finding("restart_loop", c.name, f"{c.name} restarted {c.restart_count} times")
        if c.oom_killed:
            yield _finding("oom_killed", c.name, f"{c.name} was killed for running out of memory")
    for fs in obs.filesystems:
        pct = fs.used_pct
        if pct >= t.crit_pct_for(fs.mountpoint):
            yield _finding("disk_crit", fs.mountpoint, f"{fs.mountpoint} is {pct:.0f}% full")
        elif pct >= t.disk_warn_pct:
            yield _finding("disk_warn", fs.mountpoint, f"{fs.mountpoint} is {pct:.0f}% full")
    s = obs.stats
    if s and s.mem_total_bytes:
        pct = 100.0 * s.mem_used_bytes / s.mem_total_bytes
        if pct >= t.memory_pressure_pct:
            yield _finding("memory_pressure", obs.host, f"memory {pct:.0f}% used")
    for err in obs.probe_errors:
        yield _finding("probe_error", obs.host, f"probe: {err}")
