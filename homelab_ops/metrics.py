"""homelab-ops as Prometheus sees it: a node_exporter textfile-collector file built
with prometheus-client from what the store already holds (health scores, cached
predictions, the decision log, backup rows), so a homelab's existing Prometheus and
Grafana show it beside everything else.

Metric names follow Prometheus's conventions: base units in the name (``_seconds``,
``_bytes_per_second``), ``_total`` for counters, booleans as 0/1 gauges.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, write_to_textfile
from prometheus_client.metrics import disable_created_metrics
from prometheus_client.utils import floatToGoString

from homelab_ops.errors import HomelabError
from homelab_ops.models.decision import CycleReport
from homelab_ops.models.settings import Settings
from homelab_ops.store import Store

NS = "homelab_ops"
DAY = 86400.0


def refresh(store: Store, settings: Settings, report: CycleReport | None = None) -> None:
    """What the cycle and backup runs call when they finish: record the cycle's
    heartbeat (a backup run checks it instead: it may be the first to notice a missed
    one), and rewrite the settings' ``metrics_textfile`` when one is set."""
    from homelab_ops.loop import heartbeat

    if report is not None:
        heartbeat.beat(store, settings, report)
    else:
        heartbeat.check(store, settings)
    if settings.metrics_textfile is not None:
        write_textfile(collect(store, settings), settings.metrics_textfile)


def write_textfile(registry: CollectorRegistry, path: Path) -> None:
    """Write the metrics to ``path`` atomically (prometheus-client writes a temporary
    file beside it and renames it, so node_exporter never reads half a file)."""
    if path.suffix != ".prom":
        raise HomelabError(f"{path}: the textfile collector reads only *.prom files")
    if not path.parent.is_dir():
        raise HomelabError(f"{path.parent}: no such directory")
    try:
        write_to_textfile(str(path), registry)
    except OSError as exc:
        raise HomelabError(f"{path}: cannot write: {exc.strerror}") from None


def collect(store: Store, settings: Settings, now: float | None = None) -> CollectorRegistry:
    """Every metric, in a registry of its own (never the process-global one)."""
    # a `_created` sample would be this run's time, not the counter's start: leave it out
    disable_created_metrics()
    now = time.time() if now is None else now
    registry = CollectorRegistry()
    _health(registry, store)
    _predictions(registry, store, settings, now)
    _controls(registry, store, settings)
    _decisions(registry, store)
    _backups(registry, store, now)
    _cycle(registry, store, settings, now)
    return registry


def families(registry: CollectorRegistry) -> list[dict]:
    """The registry as plain data for ``--json`` (+Inf as the string Prometheus writes)."""
    return [{"name": f.name, "type": f.type, "help": f.documentation,
             "samples": [{"name": s.name, "labels": s.labels,
                          "value": s.value if math.isfinite(s.value) else floatToGoString(s.value)}
                         for s in f.samples]}
            for f in registry.collect()]


def _gauge(registry: CollectorRegistry, name: str, doc: str, labels: tuple[str, ...] = ()):
    return Gauge(f"{NS}_{name}", doc, labels, registry=registry)


def _health(registry: CollectorRegistry, store: Store) -> None:
    score = _gauge(registry, "health_score", "Health score of the host (0-100) at its "
                   "latest observation.", ("host",))
    reachable = _gauge(registry, "host_reachable", "1 when the latest probe reached the "
                       "host.", ("host",))
    for host, doc in store.latest_observations().items():
        reachable.labels(host).set(1 if doc.get("reachable") else 0)
        if doc.get("health") is not None:
            score.labels(host).set(doc["health"]["score"])


def _predictions(registry: CollectorRegistry, store: Store, settings: Settings,
                 now: float) -> None:
    from homelab_ops.predict.run import cached_predictions

    labels = ("host", "mountpoint")
    eta = _gauge(registry, "filesystem_threshold_eta_seconds", "Predicted time until the "
                 "filesystem crosses its critical threshold.", labels)
    low = _gauge(registry, "filesystem_threshold_eta_low_seconds", "Lower bound of that "
                 "time (the prediction's interval).", labels)
    high = _gauge(registry, "filesystem_threshold_eta_high_seconds", "Upper bound of that "
                  "time; +Inf when the slowest plausible growth is zero.", labels)
    growth = _gauge(registry, "container_memory_growth_bytes_per_second", "Memory growth "
                    "of the container since its last restart.", ("host", "container"))
    leak = _gauge(registry, "container_memory_leak", "1 when the growth is a suspected "
                  "leak.", ("host", "container"))
    report, _ = cached_predictions(store, settings, now)
    for d in report.disks:
        if d.days_until_threshold is None:
            continue
        eta.labels(d.host, d.mountpoint).set(d.days_until_threshold * DAY)
        low.labels(d.host, d.mountpoint).set((d.low if d.low is not None else 0.0) * DAY)
        high.labels(d.host, d.mountpoint).set(
            float("inf") if d.high is None else d.high * DAY)
    for m in report.leaks:
        if m.mb_per_hour is None:
            continue
        growth.labels(m.host, m.container).set(m.mb_per_hour * 1e6 / 3600)
        leak.labels(m.host, m.container).set(1 if m.leak else 0)


def _controls(registry: CollectorRegistry, store: Store, settings: Settings) -> None:
    from homelab_ops.loop import controls
    from homelab_ops.loop import log as decision_log

    state = controls.control_state(decision_log.entries(store), settings.loop.breaker_failures)
    for name, value, doc in (
            ("loop_paused", state.paused, "1 while the cycle is paused (`ops pause`)."),
            ("loop_stopped", state.stopped, "1 after an emergency stop (`ops stop`)."),
            ("loop_breaker_open", state.breaker_open, "1 while the circuit breaker is open."),
            ("loop_consecutive_failures", state.consecutive_failures,
             "Failed actions in a row since the last success or resume.")):
        _gauge(registry, name, doc).set(int(value))


def _decisions(registry: CollectorRegistry, store: Store) -> None:
    """Counters over the append-only log: a decision counts once by its verdict, and
    once more by its outcome when that arrives, so both only ever grow."""
    made = Counter(f"{NS}_decisions", "Decisions of the cycle by verdict.", ("verdict",),
                   registry=registry)
    ended = Counter(f"{NS}_decision_outcomes", "Outcomes of decisions by verdict and "
                    "outcome.", ("verdict", "outcome"), registry=registry)
    for row in store.decisions(limit=-1):
        made.labels(row["verdict"]).inc()
        if row["outcome"] is not None:
            ended.labels(row["verdict"], row["outcome"]).inc()


def _backups(registry: CollectorRegistry, store: Store, now: float) -> None:
    from homelab_ops.backup.status import backup_status

    labels = ("host", "subvolume")
    last_ok = _gauge(registry, "backup_last_success_timestamp_seconds", "When the last "
                     "good backup of the subvolume finished.", labels)
    age = _gauge(registry, "backup_age_seconds", "Age of the last good backup when this "
                 "file was written.", labels)
    stale = _gauge(registry, "backup_stale", "1 when the last good backup is older than "
                   "its schedule allows (or none succeeded).", labels)
    status = backup_status(store, now)
    for key, entry in status.subvolumes.items():
        host, sub = key.split(":", 1)
        stale.labels(host, sub).set(1 if key in status.stale else 0)
        if entry.last_ok is not None:
            last_ok.labels(host, sub).set(entry.last_ok.ts)
            age.labels(host, sub).set(now - entry.last_ok.ts)
    test_age = _gauge(registry, "restore_test_age_seconds", "Age of the last restore test "
                      "of the subvolume.", labels)
    test_ok = _gauge(registry, "restore_test_ok", "1 when the last restore test of the "
                     "subvolume passed.", labels)
    for test in status.restore_tests.values():  # each volume's own latest
        test_age.labels(test.host, test.subvolume).set(now - test.ts)
        test_ok.labels(test.host, test.subvolume).set(1 if test.ok else 0)


def _cycle(registry: CollectorRegistry, store: Store, settings: Settings,
           now: float) -> None:
    """The heartbeat: Prometheus can alert on ``cycle_heartbeat_missed`` itself, or on
    ``time() - cycle_last_success_timestamp_seconds > 2 * cycle_period_seconds``."""
    from homelab_ops.loop import heartbeat

    hb = heartbeat.state(store, settings, now)
    phase = _gauge(registry, "cycle_phase_duration_seconds", "How long each phase of the "
                   "last cycle took.", ("phase",))
    _gauge(registry, "cycle_period_seconds", "How often the cycle is expected to run.").set(
        hb.period_s)
    _gauge(registry, "cycle_heartbeat_missed", "1 when no cycle has succeeded for "
           f"{heartbeat.MISSED_PERIODS} periods.").set(1 if hb.missed else 0)
    if hb.last_ok is None:  # no cycle has run: no time rather than 1970
        return
    _gauge(registry, "cycle_last_start_timestamp_seconds",
           "When the last cycle started.").set(hb.started or hb.last_ok)
    _gauge(registry, "cycle_last_success_timestamp_seconds",
           "When the last cycle that ran to its end finished.").set(hb.last_ok)
    if hb.duration_s is not None:
        _gauge(registry, "cycle_last_duration_seconds",
               "How long the last successful cycle took.").set(hb.duration_s)
    for name, seconds in hb.phases.items():
        phase.labels(name).set(seconds)
