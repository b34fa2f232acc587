"""Robust trend statistics in plain Python: Theil-Sen slopes with Sen's confidence
interval and the Mann-Kendall trend test, optionally by season.

Why these: a least-squares line (what Prometheus ``predict_linear`` fits) is pulled
around by spikes and by the phase of a daily cycle; the median of pairwise slopes is
not. Comparing only points of the same *season* (the same hour of day) cancels a daily
cycle exactly (Hirsch, Slack & Smith 1982, the seasonal Kendall slope). The series we
fit are downsampled to at most a few hundred points, so the O(n^2) pairs are cheap and
numpy would not earn its place.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from statistics import NormalDist, median

Point = tuple[float, float]
_NORMAL = NormalDist()


def clean(points: Iterable[Sequence[float]]) -> list[Point]:
    """Finite points in time order; duplicate timestamps are averaged.

    Input may be unsorted, contain NaN/inf or repeat timestamps (clock steps, retries):
    none of that may raise or skew a fit.
    """
    by_ts: dict[float, list[float]] = {}
    for p in points:
        t, v = float(p[0]), float(p[1])
        if math.isfinite(t) and math.isfinite(v):
            by_ts.setdefault(t, []).append(v)
    return [(t, sum(vs) / len(vs)) for t, vs in sorted(by_ts.items())]


def buckets(points: Sequence[Point], width: float) -> list[Point]:
    """Median value per ``width``-second bucket (aligned to the epoch), placed at the
    mean time of its points: spikes shorter than half a bucket vanish, uneven sampling
    does not move the bucket."""
    out: list[Point] = []
    current: int | None = None
    ts: list[float] = []
    vs: list[float] = []
    for t, v in points:
        b = math.floor(t / width)
        if b != current and ts:
            out.append((sum(ts) / len(ts), median(vs)))
            ts, vs = [], []
        current = b
        ts.append(t)
        vs.append(v)
    if ts:
        out.append((sum(ts) / len(ts), median(vs)))
    return out


@dataclass(frozen=True)
class Trend:
    """A robust linear trend ``value = level + slope * (t - at)``.

    ``slope_low``/``slope_high`` bound the slope at confidence ``conf`` (Sen's
    distribution-free interval); ``p_up`` is the one-sided Mann-Kendall p-value for
    an upward trend and ``max_z`` the largest z the data could have produced at all,
    so "no trend" can be told apart from "too little data to see one".
    """

    slope: float
    slope_low: float
    slope_high: float
    level: float
    at: float
    z: float
    p_up: float
    max_z: float
    pairs: int
    n: int
    conf: float

    def value_at(self, t: float, slope: float | None = None) -> float:
        return self.level + (self.slope if slope is None else slope) * (t - self.at)


def kendall_trend(groups: Sequence[Sequence[Point]], conf: float = 0.8) -> Trend | None:
    """Theil-Sen slope, Sen's interval and Mann-Kendall test pooled over ``groups``
    (seasons; pass one group for the plain test). Pairs are only formed inside a group.

    Returns None when no pair of points exists.
    """
    slopes: list[float] = []
    s_total = 0
    var_total = 0.0
    n_total = 0
    for group in groups:
        pts = sorted(group)
        n = len(pts)
        n_total += n
        if n < 2:
            continue
        for i in range(n - 1):
            ti, vi = pts[i]
            for j in range(i + 1, n):
                tj, vj = pts[j]
                if tj > ti:
                    slopes.append((vj - vi) / (tj - ti))
                    s_total += (vj > vi) - (vj < vi)
        var_total += _mk_variance([v for _, v in pts])
    if not slopes:
        return None
    slopes.sort()
    n_pairs = len(slopes)
    slope = _quantile_sorted(slopes, 0.5)
    if var_total > 0:
        sd = math.sqrt(var_total)
        z = (s_total - math.copysign(1, s_total)) / sd if s_total else 0.0
        max_z = (n_pairs - 1) / sd
        c = _NORMAL.inv_cdf(0.5 + conf / 2) * sd
        lo = _rank(slopes, (n_pairs - c) / 2 - 1)
        hi = _rank(slopes, (n_pairs + c) / 2)
    else:  # every value tied: a perfectly flat series
        z, max_z, lo, hi = 0.0, 0.0, slope, slope
    all_pts = [p for g in groups for p in g]
    at = max(t for t, _ in all_pts)
    level = median(v - slope * (t - at) for t, v in all_pts)
    return Trend(slope=slope, slope_low=min(lo, slope), slope_high=max(hi, slope),
                 level=level, at=at, z=z, p_up=1 - _NORMAL.cdf(z), max_z=max_z,
                 pairs=n_pairs, n=n_total, conf=conf)


def relevel(trend: Trend, points: Sequence[Point]) -> Trend:
    """The same slope through ``points`` (e.g. only those after a cleanup)."""
    at = max(t for t, _ in points)
    level = median(v - trend.slope * (t - at) for t, v in points)
    return replace(trend, level=level, at=at)


def seasons(points: Sequence[Point], period: float, width: float) -> list[list[Point]]:
    """Split points into ``period / width`` seasons by phase (e.g. 24 hours of day)."""
    count = max(1, round(period / width))
    out: list[list[Point]] = [[] for _ in range(count)]
    for t, v in points:
        out[math.floor(t / width) % count].append((t, v))
    return [g for g in out if g]


def daily_groups(hourly: Sequence[Point]) -> list[list[Point]]:
    """Hour-of-day seasons of hourly medians when the hours are densely covered
    (a daily cycle then cancels), else one group: sparse observations show no cycle."""
    span_hours = (hourly[-1][0] - hourly[0][0]) / 3600 if hourly else 0.0
    if span_hours >= 36 and len(hourly) >= 0.75 * span_hours:
        return seasons(hourly, 86400.0, 3600.0)
    return [list(hourly)]


def robust_scale(values: Sequence[float]) -> float:
    """Standard deviation estimated from the median absolute deviation (0 if < 2)."""
    if len(values) < 2:
        return 0.0
    m = median(values)
    return 1.4826 * median(abs(v - m) for v in values)


def _mk_variance(values: Sequence[float]) -> float:
    n = len(values)
    ties: dict[float, int] = {}
    for v in values:
        ties[v] = ties.get(v, 0) + 1
    tie_term = sum(t * (t - 1) * (2 * t + 5) for t in ties.values() if t > 1)
    return (n * (n - 1) * (2 * n + 5) - tie_term) / 18


def _rank(sorted_values: Sequence[float], index: float) -> float:
    """Value at a fractional 0-based rank, clamped to the ends."""
    return _quantile_sorted(sorted_values, index / max(1, len(sorted_values) - 1))


def _quantile_sorted(sorted_values: Sequence[float], q: float) -> float:
    q = min(1.0, max(0.0, q))
    pos = q * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)
