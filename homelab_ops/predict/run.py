"""The thin I/O layer: read history from the store, run the pure predictors, write
the results to the cache.

Cache keys (scope ``predictions``), all JSON of the pydantic models:
``prediction:disk:{host}:{mountpoint}`` (read by backup rotation),
``prediction:leak:{host}:{container}`` and ``prediction:all`` (the whole report,
what ``homelab-ops predict`` and ``ask`` show without recomputing).
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from homelab_ops.models.prediction import (
    REPORT_KEY,
    CapacityReport,
    CapacityRequirements,
    DiskPrediction,
    LeakPrediction,
    PredictionReport,
    disk_key,
    leak_key,
)
from homelab_ops.models.settings import Settings
from homelab_ops.predict.disk import MIN_SPAN as DISK_MIN_SPAN
from homelab_ops.predict.disk import predict_disk
from homelab_ops.predict.forecast import Resource, capacity_check, forecast
from homelab_ops.predict.memory import MIN_SPAN as LEAK_MIN_SPAN
from homelab_ops.predict.memory import detect_leak, restart_time
from homelab_ops.predict.segments import DAY
from homelab_ops.store import SeriesKey, Store

Points = list[tuple[float, float]]

SCOPE = "predictions"
TTL = 3600.0
DISK_LOOKBACK = 45 * DAY
MEM_LOOKBACK = 14 * DAY


def predict_all(store: Store, settings: Settings, now: float | None = None,
                ttl: float = TTL, thresholds: Mapping[str, float] | None = None,
                ) -> PredictionReport:
    """Recompute every disk and container prediction and cache them for ``ttl``.

    ``thresholds`` maps a mountpoint to its own critical percentage; others use the
    settings (``disk_crit_pct_by_mount``, else ``disk_crit_pct``).
    """
    now = time.time() if now is None else now
    thresholds = thresholds or {}
    source, notes = history(store, settings, now)
    disks = [
        predict_filesystem(source, host, mount, now,
                           thresholds.get(mount, settings.thresholds.crit_pct_for(mount)))
        for host, mount in source.subjects("filesystem", ("used_bytes", "used_pct"))
    ]
    leaks = [predict_container(source, host, name, now)
             for host, name in source.subjects("container", ("mem_bytes",))]
    report = PredictionReport(generated_at=now, disks=disks, leaks=leaks, notes=notes)
    with store.transaction():
        for d in disks:
            store.cache_put(disk_key(d.host, d.mountpoint), d.model_dump(), ttl, SCOPE, now)
        for m in leaks:
            store.cache_put(leak_key(m.host, m.container), m.model_dump(), ttl, SCOPE, now)
        store.cache_put(REPORT_KEY, report.model_dump(), ttl, SCOPE, now)
    return report


def cached_predictions(store: Store, settings: Settings, now: float | None = None,
                       ttl: float = TTL) -> tuple[PredictionReport, bool]:
    """The cached report while it is fresh, else a recomputed one; the flag says
    whether it came from the cache."""
    now = time.time() if now is None else now
    hit = store.cache_get(REPORT_KEY, now)
    if hit is not None:
        return PredictionReport.model_validate(hit), True
    return predict_all(store, settings, now, ttl), False


class History:
    """What prediction reads: the store, and Prometheus's series when ``prometheus_url``
    is set (they win for the keys Prometheus has; restarts and limits stay the store's)."""

    def __init__(self, store: Store, remote: Mapping[SeriesKey, Points] | None = None) -> None:
        self.store, self.remote = store, dict(remote or {})

    def read_series(self, key: SeriesKey, since: float = 0.0,
                    until: float = float("inf")) -> Points:
        if key in self.remote:
            return [p for p in self.remote[key] if since <= p[0] <= until]
        return self.store.read_series(key, since, until)

    def events(self, *args, **kwargs):
        return self.store.events(*args, **kwargs)

    def subjects(self, kind: str, metrics: tuple[str, ...]) -> list[tuple[str, str]]:
        found = {(k.host, k.subject) for m in metrics
                 for k in self.store.find_series(kind=kind, metric=m)}
        found |= {(k.host, k.subject) for k in self.remote
                  if k.kind == kind and k.metric in metrics}
        return sorted(found)


def history(store: Store, settings: Settings, now: float) -> tuple[History, list[str]]:
    """The history to predict from, and why Prometheus is not part of it when it is set
    but does not answer (predictions then come from the store alone)."""
    if settings.prometheus_url is None:
        return History(store), []
    from homelab_ops.predict.prometheus import PrometheusError, fetch_history

    try:
        remote = fetch_history(settings.prometheus_url, settings.prometheus, now,
                               now - DISK_LOOKBACK, now - MEM_LOOKBACK)
    except PrometheusError as exc:
        return History(store), [f"{exc}; history from the store only"]
    return History(store, remote), []


def predict_filesystem(store: Store | History, host: str, mount: str, now: float,
                       threshold_pct: float) -> DiskPrediction:
    since = now - DISK_LOOKBACK
    used = store.read_series(SeriesKey(host, "filesystem", mount, "used_bytes"), since, now)
    size: list[tuple[float, float]] | float = store.read_series(
        SeriesKey(host, "filesystem", mount, "size_bytes"), since, now)
    if not used:  # only percentages observed
        used = store.read_series(SeriesKey(host, "filesystem", mount, "used_pct"), since, now)
        size = 100.0
    return predict_disk(used, size, now, threshold_pct, host=host, mountpoint=mount)


def predict_container(store: Store | History, host: str, name: str, now: float) -> LeakPrediction:
    since = now - MEM_LOOKBACK
    started = store.read_series(SeriesKey(host, "container", name, "started_at"), since, now)
    events = store.events(host, name, kinds=["restarted", "started"], since=since, limit=1)
    restart = restart_time(started[-1:], [e.ts for e in events], now)
    mem = store.read_series(SeriesKey(host, "container", name, "mem_bytes"),
                            max(since, restart or since), now)
    limit = store.read_series(SeriesKey(host, "container", name, "mem_limit_bytes"),
                              since, now)
    return detect_leak(mem, now, since=restart, limit_bytes=limit[-1][1] if limit else 0.0,
                       host=host, container=name)


def capacity_check_for(store: Store, settings: Settings, requirements: CapacityRequirements,
                       now: float | None = None) -> CapacityReport:
    """``capacity_check`` with the host's resources and forecasts read from the store."""
    now = time.time() if now is None else now
    horizon = requirements.horizon_days * DAY
    host = requirements.host

    def resource(kind: str, subject: str, used: str, total: str, pct: float, min_span: float):
        hist = store.read_series(SeriesKey(host, kind, subject, used), now - 30 * DAY, now)
        size = store.read_series(SeriesKey(host, kind, subject, total), now - 30 * DAY, now)
        if not hist or not size:
            return None
        return Resource(total=size[-1][1], used=forecast(hist, now, horizon, min_span=min_span),
                        limit_pct=pct)

    # the same minimum history as the predictors: memory as leaks, disks as disk-full
    memory = resource("host", "", "mem_used_bytes", "mem_total_bytes",
                      settings.thresholds.memory_pressure_pct, LEAK_MIN_SPAN)
    disks = {m: r for m in requirements.disk_bytes
             if (r := resource("filesystem", m, "used_bytes", "size_bytes",
                               settings.thresholds.crit_pct_for(m), DISK_MIN_SPAN)) is not None}
    return capacity_check(requirements, memory, disks)
