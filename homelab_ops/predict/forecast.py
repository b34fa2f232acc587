"""Forecast of any stored series, and the pre-deployment capacity check.

``forecast`` extrapolates the robust trend since the last lasting drop (the same
reasoning as for disks: a drop starts a new regime) and widens the range by the
spread of the recent values around it, so a noisy flat series gets an honest band
and a rising one a band that grows with the horizon.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist

from homelab_ops.models.prediction import (
    CapacityItem,
    CapacityReport,
    CapacityRequirements,
    Forecast,
)
from homelab_ops.predict.robust import buckets, clean, kendall_trend, robust_scale
from homelab_ops.predict.segments import DAY, HOUR, lasting_drops

GIB = 2.0**30


def forecast(points: Sequence[Sequence[float]], now: float, horizon: float,
             interval: float = 0.8, lookback: float = 30 * DAY,
             min_span: float = 0.0) -> Forecast:
    """Value of the series at ``now + horizon`` (seconds) with an ``interval`` range.
    Less than ``min_span`` of history since the last drop gives no value ("too little
    history"): minutes of samples extrapolated over days say nothing."""
    at = now + horizon
    pts = [p for p in clean(points) if now - lookback <= p[0] <= now]
    if len(pts) < 2:
        return Forecast(at=at, interval=interval, basis="fewer than two samples")
    scale = max(abs(v) for _, v in pts)
    drops = lasting_drops(pts, 0.05 * scale)
    if drops:
        pts = [p for p in pts if p[0] >= drops[-1].start]
    span = pts[-1][0] - pts[0][0]
    if span < min_span:
        return Forecast(at=at, current=pts[-1][1], interval=interval,
                        basis=f"too little history: {span / HOUR:.1f} hours, need at least "
                              f"{min_span / HOUR:g} hours")
    width = HOUR if span >= 12 * HOUR else max(span / 12, 1.0)
    trend = kendall_trend([buckets(pts, width)], interval) if span > 0 else None
    since = "since the last drop" if drops else "of history"
    if trend is None:
        v = pts[-1][1]
        return Forecast(at=at, value=v, low=v, high=v, current=v, interval=interval,
                        basis="all samples at one time: no trend to extrapolate")
    z = NormalDist().inv_cdf(0.5 + interval / 2)
    resid = robust_scale([v - trend.value_at(t) for t, v in pts])
    value = trend.value_at(at)
    low = trend.value_at(at, trend.slope_low) - z * resid
    high = trend.value_at(at, trend.slope_high) + z * resid
    return Forecast(at=at, value=value, low=min(low, value), high=max(high, value),
                    current=buckets(pts, width)[-1][1], interval=interval,
                    slope_per_day=trend.slope * DAY,
                    basis=f"based on {span / HOUR:.0f} hours {since}, "
                          f"trend {trend.slope * DAY:+.4g}/day")


@dataclass(frozen=True)
class Resource:
    """One resource of a host: its total, a forecast of its use at the horizon and
    the percentage of the total that may be used (the critical threshold)."""

    total: float
    used: Forecast
    limit_pct: float = 90.0


def capacity_check(requirements: CapacityRequirements, memory: Resource | None,
                   disks: Mapping[str, Resource]) -> CapacityReport:
    """Will ``requirements`` fit on the host over its horizon?

    A need fits when it fits under the *high* end of the forecast range of use at
    the horizon, so a growing disk or a leaking container counts against the new
    stack. A resource without history never "fits": we cannot promise it.
    """
    items: list[CapacityItem] = []
    if requirements.memory_bytes > 0:
        items.append(_item("memory", requirements.memory_bytes, memory))
    for mount, need in sorted(requirements.disk_bytes.items()):
        items.append(_item(f"disk {mount}", need, disks.get(mount)))
    return CapacityReport(host=requirements.host, fits=all(i.fits for i in items),
                          horizon_days=requirements.horizon_days, items=items)


def _item(name: str, need: float, res: Resource | None) -> CapacityItem:
    if res is None:
        return CapacityItem(resource=name, need_bytes=need, fits=False,
                            basis="no history for this resource: cannot promise it fits")
    if res.used.high is None or res.used.current is None:
        return CapacityItem(resource=name, need_bytes=need, fits=False,
                            basis=f"{res.used.basis}: cannot promise it fits")
    allowed = res.total * res.limit_pct / 100
    free_now = allowed - res.used.current
    free_then = allowed - res.used.high
    return CapacityItem(
        resource=name, need_bytes=need, free_now_bytes=free_now,
        free_at_horizon_bytes=free_then, fits=need <= min(free_now, free_then),
        basis=(f"needs {need / GIB:.2f} GiB; {min(free_now, free_then) / GIB:.2f} GiB "
               f"stays free below {res.limit_pct:g} % at the high end of the forecast "
               f"({res.used.basis})"))
