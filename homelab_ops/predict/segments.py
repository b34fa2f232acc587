"""Where the current trend starts: after the last lasting drop (a cleanup, a log
rotation, a restart that freed memory) or the last change of capacity.

A fit across a cleanup averages two regimes and is wrong for both; the rate after a
drop is what predicts the future. A drop counts only when it lasts: the median of the
day after it must stay clearly below the median of the day before, so a temporary
spike (up and back down), a one-sample glitch or a daily cycle does not count.
"""

from __future__ import annotations

import itertools
import math
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import median

from homelab_ops.predict.robust import Point, buckets, robust_scale

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
    """Every lasting drop larger than ``min_drop`` (and than 4 noise standard
    deviations of the hourly medians), oldest first. A drop must have lasted
    ``min_after`` to count."""
    hourly = buckets(points, HOUR)
    if len(hourly) < 4:
        return []
    ts = [t for t, _ in hourly]
    vs = [v for _, v in hourly]
    diffs = [b - a for a, b in itertools.pairwise(vs)]
    threshold = max(min_drop, 4 * robust_scale(diffs) / math.sqrt(2))
    clusters: list[tuple[float, int]] = []  # (size, index) of each cluster's deepest drop
    best: tuple[float, int] | None = None
    for i in range(1, len(hourly)):
        if ts[-1] - ts[i] < min_after:
            break
        pre = vs[bisect_left(ts, ts[i] - window):i]
        post = vs[i:bisect_left(ts, ts[i] + window)]
        size = median(pre) - median(post) if pre else 0.0  # no day before: a gap
        if size > threshold:
            if best is None or size > best[0]:
                best = (size, i)
        elif best is not None:
            clusters.append(best)
            best = None
    if best is not None:
        clusters.append(best)
    drops = []
    for size, i in clusters:
        lo, hi = bisect_left(ts, ts[i] - 6 * HOUR), bisect_left(ts, ts[i] + 6 * HOUR)
        bottom = min(range(lo, hi), key=lambda k: vs[k])
        # the new trend starts where the lowest hour around the drop starts
        drops.append(Drop(ts=ts[i], start=math.floor(ts[bottom] / HOUR) * HOUR, size=size))
    return drops


def last_change(points: Sequence[Point], rel: float = 0.005) -> float | None:
    """Time of the last sample whose value differs from the one before it by more
    than ``rel`` (relative): a resize of a filesystem, a new memory limit."""
    for (_, a), (t, b) in zip(reversed(points[:-1]), reversed(points[1:]), strict=False):
        if abs(b - a) > rel * max(abs(a), abs(b), 1e-12):
            return t
    return None
