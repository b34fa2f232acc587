"""Where the current trend starts: after the last lasting drop (a cleanup, a log
rotation, a restart that freed memory) or the last change of capacity.

A fit across a cleanup averages two regimes and is wrong for both; the rate after a
drop is what predicts the future. A drop counts only when it lasts: the day after it
must stay clearly below the day before (allowing for growth), so a temporary spike
(up and back down), a one-sample glitch or a daily cycle does not count.
"""

from __future__ import annotations

import itertools
import math
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import median

from homelab_ops.predict.robust import (
    Point,
    buckets,
    daily_groups,
    kendall_trend,
    robust_scale,
)

HOUR = 3600.0
DAY = 86400.0


@dataclass(frozen=True)
class Drop:
    """A lasting drop: the level fell by ``size`` around ``ts``; the new trend
    starts at ``start`` (the bottom of the drop)."""

    ts: float
    start: float
    size: float


def lasting_drops(points: Sequence[Point], min_drop: float, window: float = DAY,
                  min_after: float = 3 * HOUR) -> list[Drop]:
    """Every lasting drop larger than ``min_drop``, than 4 standard deviations of
    the hour-to-hour steps and than 3 of the day-to-day changes, oldest first.

    Candidates are runs of falling hourly medians. Each hour after a run is compared
    with the same hour one ``window`` (a day) earlier, before the run, carried
    forward along the slope of the days before: the median shortfall is the drop.
    Comparing the same hour of day cancels a daily cycle's downswing, allowing for
    the slope keeps growth from hiding a cleanup, and a spike's way down (back to
    where the level was a day before) falls short of nothing. A run must have
    lasted ``min_after`` to count; runs less than a window apart are one cleanup.
    """
    hourly = buckets(points, HOUR)
    if len(hourly) < 4:
        return []
    ts = [t for t, _ in hourly]
    vs = [v for _, v in hourly]
    steps = [b - a for a, b in itertools.pairwise(vs)]
    threshold = max(min_drop, 4 * robust_scale(steps))
    runs = _falling_runs(vs, threshold)
    falls = [(ts[first - 1], ts[last]) for first, last in runs]
    threshold = max(threshold, 3 * _day_to_day(hourly, window, falls))
    drops: list[Drop] = []
    for first, last in runs:
        if vs[first - 1] - vs[last] <= threshold:
            continue
        start, end = ts[first - 1], ts[last]
        if ts[-1] - end < min_after:
            break
        # the slope of up to three windows before, pairing equal hours of day so a
        # daily cycle does not tilt it; without a full window before, no comparison
        before = hourly[bisect_left(ts, start - 3 * window):first]
        if start - before[0][0] < window:
            continue
        trend = kendall_trend(daily_groups(before))
        if trend is None:
            continue
        shortfalls = []
        for t, v in hourly[last:bisect_left(ts, end + window)]:
            j = bisect_left(ts, t - window - HOUR / 2)
            if j < first and abs(ts[j] - (t - window)) <= HOUR / 2 + 1:
                shortfalls.append(vs[j] + trend.slope * (t - ts[j]) - v)
        if len(shortfalls) < 3 or (size := median(shortfalls)) <= threshold:
            continue
        drop = Drop(ts=start, start=math.floor(end / HOUR) * HOUR, size=size)
        if drops and drop.ts - drops[-1].start < window:
            drop = Drop(ts=drops[-1].ts, start=drop.start, size=max(size, drops[-1].size))
            drops.pop()
        drops.append(drop)
    return drops


def _day_to_day(hourly: Sequence[Point], window: float,
                falls: Sequence[tuple[float, float]]) -> float:
    """How much a window's growth itself varies: the robust spread of the change
    between one window's growth and the next one's (divided by sqrt 2), leaving
    out windows with a fall in them. Growth that wanders must not read as a
    cleanup; a lasting change of the growth rate, which shifts every window's
    growth alike, does not count as wandering."""
    growth = [(t, g) for t, g in _lagged(hourly, window)
              if not any(t < b and a < t + window for a, b in falls)]
    return robust_scale([v for _, v in _lagged(growth, window)]) / math.sqrt(2)


def _lagged(series: Sequence[Point], lag: float) -> list[Point]:
    """(t, value at t + lag - value at t) wherever a point lies ``lag`` later."""
    ts = [t for t, _ in series]
    out = []
    for t, v in series:
        j = bisect_left(ts, t + lag - HOUR / 2)
        if j < len(ts) and abs(ts[j] - (t + lag)) <= HOUR / 2 + 1:
            out.append((t, series[j][1] - v))
    return out


def _falling_runs(vs: Sequence[float], threshold: float) -> list[tuple[int, int]]:
    """(first, last) bucket indexes of each run of falling values (from ``first - 1``
    down to ``last``, its lowest point) that falls by more than ``threshold``."""
    runs, i = [], 1
    while i < len(vs):
        if vs[i] >= vs[i - 1]:
            i += 1
            continue
        first = i
        while i + 1 < len(vs) and vs[i + 1] < vs[i]:
            i += 1
        if vs[first - 1] - vs[i] > threshold:
            runs.append((first, i))
        i += 1
    return runs


def last_change(points: Sequence[Point], rel: float = 0.005) -> float | None:
    """Time of the last sample whose value differs from the one before it by more
    than ``rel`` (relative): a resize of a filesystem, a new memory limit."""
    for (_, a), (t, b) in zip(reversed(points[:-1]), reversed(points[1:]), strict=False):
        if abs(b - a) > rel * max(abs(a), abs(b), 1e-12):
            return t
    return None
