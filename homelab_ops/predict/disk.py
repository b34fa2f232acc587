"""Days until a filesystem crosses its critical threshold.

Method: keep the recent history (``lookback``); start the trend after the last
lasting drop (a cleanup) or capacity change; take hourly medians (spikes vanish);
fit a seasonal Theil-Sen slope (pairs only at the same hour of day, so a daily cycle
cancels); give a date only when the seasonal Mann-Kendall test finds a significant
upward trend. The level always restarts after a cleanup. The *rate* of an earlier
stretch between cleanups is pooled in only when it agrees with the rate since the
last one: a cleanup frees space but rarely changes how fast data arrives, and a few
days after a cleanup are too few to measure that rate well.

The range combines how well the rate is measured with how much a day's growth varies
around it (the future wanders like a random walk around the line). Below
``min_span`` of usable history, or when the data could not show a trend at all, the
answer is "insufficient data", never a guess.
"""

from __future__ import annotations

import datetime as dt
import math
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist, median

from homelab_ops.models.prediction import DiskPrediction
from homelab_ops.predict.robust import (
    Point,
    Trend,
    buckets,
    clean,
    daily_groups,
    kendall_trend,
    relevel,
    robust_scale,
)
from homelab_ops.predict.segments import DAY, HOUR, last_change, lasting_drops

ALPHA = 0.05
MAX_DAYS = 100 * 365.0
GIB = 2.0**30
MIN_SPAN = 2 * DAY  # less history than this is insufficient data
# A Theil-Sen line through a random walk measures its rate less well than the mean of
# its daily steps does (day_sd / sqrt(days)); calibrated on bench/predict.py's tuning
# families so the 80 % range covers 70-90 % on each, and checked on the held-out
# clean-linear family.
WALK_SLOPE = 1.3


def predict_disk(used: Sequence[Sequence[float]], size: Sequence[Sequence[float]] | float,
                 now: float, threshold_pct: float = 90.0, *, host: str = "",
                 mountpoint: str = "", interval: float = 0.8, min_span: float = MIN_SPAN,
                 lookback: float = 45 * DAY) -> DiskPrediction:
    """Predict when ``used`` (bytes, or percent with ``size=100``) reaches
    ``threshold_pct`` of ``size`` (a series of capacities or one number)."""
    base = {"host": host, "mountpoint": mountpoint, "threshold_pct": threshold_pct,
            "interval": interval}
    pts = [p for p in clean(used) if now - lookback <= p[0] <= now]
    sizes = ([(now, float(size))] if isinstance(size, int | float)
             else [p for p in clean(size) if p[0] <= now])
    if not pts:
        return DiskPrediction(status="insufficient_data", basis="no usage samples", **base)
    capacity = sizes[-1][1] if sizes else 0.0
    if not capacity > 0:
        return DiskPrediction(status="insufficient_data", basis="capacity unknown", **base)
    threshold = capacity * threshold_pct / 100

    history = _History.split(pts, sizes, capacity)
    segment = history.segments[-1]
    if not segment:
        return DiskPrediction(status="insufficient_data",
                              basis=f"no usage samples since {history.since}", **base)
    span = segment[-1][0] - segment[0][0]
    base.update(trend_start=segment[0][0], span_days=span / DAY,
                used_pct=100 * segment[-1][1] / capacity)
    basis = f"based on {span / DAY:.1f} days since {history.since}"
    if span < min_span:
        return DiskPrediction(
            status="insufficient_data",
            basis=f"{basis}; need at least {min_span / DAY:g} days", **base)
    fit = _fit(history.segments, interval)
    if fit is None or fit.trend.max_z < NormalDist().inv_cdf(1 - ALPHA):
        return DiskPrediction(status="insufficient_data",
                              basis=f"{basis}; too few samples to test a trend", **base)
    if fit.pooled_days:
        basis += (f" (growth rate also from {fit.pooled_days:.1f} earlier days that grew"
                  " alike)")
    trend = fit.trend
    level = trend.value_at(now)
    base.update(used_pct=100 * level / capacity, p_value=trend.p_up,
                growth_bytes_per_day=trend.slope * DAY,
                growth_low=fit.slope_low * DAY, growth_high=fit.slope_high * DAY)
    growth = f"growth {_bytes(trend.slope * DAY)}/day"
    if level >= threshold:
        return DiskPrediction(status="over_threshold", days_until_threshold=0.0, low=0.0,
                              high=0.0, basis=f"{basis}; already at the threshold", **base)
    if trend.p_up >= ALPHA or trend.slope <= 0:
        return DiskPrediction(
            status="not_filling",
            basis=f"{basis}; no significant growth ({growth}, p={trend.p_up:.2f})", **base)
    room = threshold - level
    return DiskPrediction(
        status="fills", days_until_threshold=room / trend.slope / DAY,
        low=fit.first_day(room, +1), high=fit.first_day(room, -1),
        basis=f"{basis}; {growth}", **base)


@dataclass(frozen=True)
class _History:
    """The usable history cut into stretches between lasting drops; the last one is
    the current trend, ``since`` says where it starts."""

    segments: list[list[Point]]
    since: str

    @classmethod
    def split(cls, pts: list[Point], sizes: list[Point], capacity: float) -> _History:
        start, since = pts[0][0], "the first sample"
        resized = last_change(sizes)
        if resized is not None and resized > start:
            start, since = resized, f"the resize on {_date(resized)}"
        if since == "the first sample":
            since = f"{_date(start)} (all history kept)"
        cuts = [start]
        for drop in lasting_drops([p for p in pts if p[0] >= start], 0.005 * capacity):
            if drop.start > cuts[-1]:
                cuts.append(drop.start)
                since = f"the cleanup on {_date(drop.ts)} (freed {_bytes(drop.size)})"
        ends = [*cuts[1:], math.inf]
        segments = [[p for p in pts if a <= p[0] < b] for a, b in zip(cuts, ends, strict=True)]
        return cls([s for s in segments[:-1] if s] + [segments[-1]], since)


@dataclass(frozen=True)
class _Fit:
    """The trend to extrapolate and the spread of the future around it: the rate's
    uncertainty grows with t, the day-to-day variation of growth with sqrt(t), the
    uncertainty of today's level stays.

    The level is the median of the last day's hourly values carried to now along the
    slope: growth wanders like a random walk, so where the line through the whole
    stretch ends is a worse guess of today than the last day; a full day still
    averages out a daily cycle."""

    trend: Trend
    slope_sd: float  # per second
    day_sd: float  # bytes per day
    level_sd: float  # bytes
    z: float
    pooled_days: float

    @property
    def slope_low(self) -> float:
        return self.trend.slope - self.z * self.slope_sd

    @property
    def slope_high(self) -> float:
        return self.trend.slope + self.z * self.slope_sd

    def first_day(self, room: float, sign: int) -> float | None:
        """First day the optimistic (sign=+1) or pessimistic (-1) level reaches
        ``room``; None when the pessimistic level does not get there within a
        century (or ten times the central estimate)."""
        slope, slope_sd = self.trend.slope * DAY, self.slope_sd * DAY

        def reached(days: float) -> bool:
            spread = self.z * math.sqrt((slope_sd * days) ** 2 + self.day_sd**2 * days
                                        + self.level_sd**2)
            return slope * days + sign * spread >= room

        hi = max(MAX_DAYS, 10 * room / slope)
        if not reached(hi):
            return None
        lo = 0.0
        for _ in range(60):
            mid = (lo + hi) / 2
            lo, hi = (lo, mid) if reached(mid) else (mid, hi)
        return hi


def _fit(segments: list[list[Point]], interval: float) -> _Fit | None:
    z = NormalDist().inv_cdf(0.5 + interval / 2)
    current = segments[-1]
    trend = kendall_trend(_groups(current), interval)
    if trend is None:
        return None
    day_sd = daily_variation(current, trend.slope)
    own_sd = _slope_sd(trend, day_sd, current, z)
    groups, pooled = _groups(current), 0.0
    for earlier in segments[:-1]:
        span = earlier[-1][0] - earlier[0][0]
        other = kendall_trend(_groups(earlier), interval) if span >= DAY else None
        if other is None:
            continue
        other_sd = _slope_sd(other, daily_variation(earlier, other.slope), earlier, z)
        if abs(other.slope - trend.slope) <= 1.96 * math.hypot(own_sd, other_sd):
            groups += _groups(earlier)
            pooled += span / DAY
    if pooled:
        own = trend
        trend = kendall_trend(groups, interval)
        days = pooled + (current[-1][0] - current[0][0]) / DAY
        # pooling buys precision only as far as the stretches really agree
        own_sd = math.hypot(max((trend.slope_high - trend.slope_low) / (2 * z),
                                WALK_SLOPE * day_sd / DAY / math.sqrt(max(1.0, days))),
                            trend.slope - own.slope)
    last_day = [p for p in buckets(current, HOUR) if p[0] >= current[-1][0] - DAY]
    trend = relevel(trend, last_day)
    resid = robust_scale([v - trend.value_at(t) for t, v in last_day])
    level_sd = math.sqrt(resid**2 / len(last_day) + day_sd**2 / 2)
    return _Fit(trend, own_sd, day_sd, level_sd, z, pooled)


def _slope_sd(trend: Trend, day_sd: float, segment: Sequence[Point], z: float) -> float:
    """Standard error of the slope (per second): Sen's interval, but never less than
    what day-to-day variation allows (the mean of n daily steps is known to
    day_sd / sqrt(n); the fitted line a little worse, ``WALK_SLOPE``)."""
    days = max(1.0, (segment[-1][0] - segment[0][0]) / DAY)
    return max((trend.slope_high - trend.slope_low) / (2 * z),
               WALK_SLOPE * day_sd / DAY / math.sqrt(days))


def _groups(segment: Sequence[Point]) -> list[list[Point]]:
    return daily_groups(buckets(segment, HOUR))


def daily_variation(segment: Sequence[Point], slope: float) -> float:
    """Standard deviation of one day's growth around the trend, from hourly means
    one day apart (robust: a spike or a cleanup hour barely moves the scale).

    Two hourly values a day apart differ by that day's growth *and* by the
    measurement noise of each; only the growth wanders on into the future, so the
    noise's share is taken out. Otherwise a clean line seen through a noisy gauge
    gets the range of a wandering one. Means, not medians: a mean's noise is the
    samples' noise over n whatever the trend within the hour (a median's is not), and
    an hour the store rolled up is such a mean too."""
    hours = _hourly_means(segment)
    sd = _sample_noise(segment)
    rolled = median([n for _, _, n in hours if n > 1] or [1])  # samples a rollup averaged
    ts = [t for t, _, _ in hours]
    steps, noise_var = [], []
    for i, (t, v, n) in enumerate(hours):
        j = bisect_left(ts, t + DAY, i + 1)
        if j < len(hours) and ts[j] - t <= 1.5 * DAY:
            dt_ = ts[j] - t
            steps.append((hours[j][1] - v - slope * dt_) / math.sqrt(dt_ / DAY))
            count = [c if c > 1 else rolled for c in (n, hours[j][2])]
            noise_var.append(sd**2 * (1 / count[0] + 1 / count[1]) / (dt_ / DAY))
    if not steps:
        return 0.0
    return math.sqrt(max(0.0, robust_scale(steps) ** 2 - median(noise_var)))


def _hourly_means(segment: Sequence[Point]) -> list[tuple[float, float, int]]:
    """(mean time, mean value, samples) per hour."""
    groups: dict[int, list[Point]] = {}
    for t, v in segment:
        groups.setdefault(math.floor(t / HOUR), []).append((t, v))
    return [(sum(t for t, _ in g) / len(g), sum(v for _, v in g) / len(g), len(g))
            for _, g in sorted(groups.items())]


def _sample_noise(segment: Sequence[Point]) -> float:
    """Measurement noise of one sample, from samples minutes apart: their second
    difference is almost all noise (growth and a daily cycle barely bend in ten
    minutes). 0 without such samples."""
    return robust_scale([(v3 - 2 * v2 + v1) / math.sqrt(6)
                         for (t1, v1), (t2, v2), (t3, v3)
                         in zip(segment, segment[1:], segment[2:], strict=False)
                         if t3 - t1 <= 1200 and abs((t3 - t2) - (t2 - t1)) <= 60])


def _date(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _bytes(n: float) -> str:
    if abs(n) >= GIB:
        return f"{n / GIB:.1f} GiB"
    return f"{n / 2**20:.0f} MiB"
