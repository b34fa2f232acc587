"""Labelled synthetic series for the prediction benchmark.

Every generator returns the samples (5-minute cadence, like the observer) together
with the truth the predictor should recover, so errors can be measured exactly:
for disks the days until the deterministic fill line crosses the threshold, for
memory whether the growth is a leak (and its rate).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

STEP = 300.0
RAW_KEEP = 14 * 86400.0
HOUR = 3600.0
DAY = 86400.0
GIB = 2.0**30
MB = 1e6
NOW = 1_790_000_000.0


@dataclass
class DiskCase:
    family: str
    points: list[tuple[float, float]]
    size: float
    true_days: float
    threshold_pct: float = 90.0


@dataclass
class MemCase:
    family: str
    points: list[tuple[float, float]]
    since: float
    leak: bool
    rate_mb_h: float = 0.0
    tags: list[str] = field(default_factory=list)


def disk_case(rng: random.Random, family: str) -> DiskCase:
    """A filesystem filling linearly, with the features of ``family``:
    linear (with df's small measurement noise), cleanups (with a daily cycle and
    noise), cycle, spikes, noise; clean-linear, held out from tuning: an exact line
    (no day-to-day variation of growth, so the truth is that line) seen through
    measurement noise only. Histories that would leave 5-95 % of the disk are
    drawn again, so no series is clipped at empty or full."""
    while True:
        case = _disk_case(rng, family)
        lows = min(v for _, v in case.points)
        if 0.02 * case.size < lows and max(v for _, v in case.points) < 0.98 * case.size:
            return case


def _disk_case(rng: random.Random, family: str) -> DiskCase:
    size = rng.choice([250, 500, 1000, 4000]) * GIB
    threshold = 0.9 * size
    expected_days = math.exp(rng.uniform(math.log(5), math.log(120)))
    history = rng.uniform(14, 40) * DAY
    level_now = rng.uniform(0.35, 0.8) * size
    rate = (threshold - level_now) / expected_days  # bytes per day, on average
    features = {
        "linear": {"df-noise"},
        "cleanups": {"cleanups", "cycle", "noise"},
        "cycle": {"cycle", "noise"},
        "spikes": {"spikes", "noise"},
        "noise": {"noise"},
        "clean-linear": {"exact"},
    }[family]
    fill = _Fill(rng, level_now, rate, cv=0.0 if "exact" in features else rng.uniform(0.1, 0.5))
    # cleanups: 1-3 drops, the last one 2.5-12 days ago; the level now stays fixed.
    # In a third of them the data also arrives at a different rate after the last one.
    drops: list[tuple[float, float]] = []
    if "cleanups" in features:
        t_last = NOW - rng.uniform(2.5, 12) * DAY
        if rng.random() < 1 / 3:
            fill.change_rate_before(t_last, rng.choice([0.4, 0.6, 1.6, 2.5]))
        for k in range(rng.randint(1, 3)):
            t = t_last - k * rng.uniform(4, 10) * DAY
            if t > NOW - history + DAY:
                drops.append((t, rng.uniform(0.05, 0.2) * size))
    cycle = rng.uniform(0.2, 1.5) * rate if "cycle" in features else 0.0
    phase = rng.uniform(0, 2 * math.pi)
    noise = (rng.uniform(0.0005, 0.003) * size if "noise" in features else
             rng.uniform(0.00002, 0.0002) * size if "exact" in features else 0.0001 * size)
    spikes = []
    if "spikes" in features:
        for _ in range(rng.randint(2, 6)):
            start = NOW - rng.uniform(0.1, history / DAY) * DAY
            spikes.append((start, start + rng.uniform(1, 8) * HOUR,
                           rng.uniform(0.01, 0.05) * size))
    points = []
    t = NOW - history
    while t <= NOW:
        # like the store: raw samples for 14 days, hourly averages before
        rolled = t < NOW - RAW_KEEP
        v = fill.at(t)
        v += sum(freed for when, freed in drops if t < when)
        v += cycle * math.sin(2 * math.pi * t / DAY + phase) * (0.99 if rolled else 1.0)
        v += sum(h for a, b, h in spikes if a <= t < b)
        v += rng.gauss(0, noise / (math.sqrt(12) if rolled else 1.0))
        points.append((t, v))
        t += HOUR if rolled else STEP
    return DiskCase(family, points, size, fill.crossing(threshold) / DAY)


class _Fill:
    """The underlying fill: linear within an hour, each hour adding its own random
    amount (mean ``rate`` per day, a day's growth varying with coefficient of
    variation ``cv``; an hour may also free space). It continues into the future, so
    the truth is when this very process crosses the threshold."""

    def __init__(self, rng: random.Random, level_now: float, rate: float, cv: float):
        self.rng, self.level_now = rng, level_now
        self.mean, self.sd = rate / 24, cv * rate / math.sqrt(24)
        self.factor_before: tuple[int, float] = (-(10**9), 1.0)
        self.steps: dict[int, float] = {}
        self.before: dict[int, float] = {0: 0.0}  # growth from hour h to NOW, h <= 0

    def change_rate_before(self, t: float, factor: float) -> None:
        """Before ``t`` data arrived ``factor`` times as fast."""
        self.factor_before = (math.floor((t - NOW) / HOUR), factor)

    def _step(self, hour: int) -> float:
        if hour not in self.steps:
            k = self.factor_before[1] if hour < self.factor_before[0] else 1.0
            self.steps[hour] = self.rng.gauss(self.mean * k, self.sd * k)
        return self.steps[hour]

    def _growth_since(self, hour: int) -> float:
        for h in range(min(self.before) - 1, hour - 1, -1):
            self.before[h] = self.before[h + 1] + self._step(h)
        return self.before[hour]

    def at(self, t: float) -> float:
        """Level at ``t`` <= NOW: the level now minus what was written since."""
        hour = math.floor((t - NOW) / HOUR)
        frac = (t - NOW) / HOUR - hour
        return self.level_now - self._growth_since(hour) + frac * self._step(hour)

    def crossing(self, threshold: float) -> float:
        """Seconds from NOW until the level reaches ``threshold``."""
        level, hour = self.level_now, 0
        while hour < 24 * 100_000:
            step = self._step(hour)
            if step > 0 and level + step >= threshold:
                return (hour + (threshold - level) / step) * HOUR
            level += step
            hour += 1
        return math.inf


def mem_case(rng: random.Random, family: str) -> MemCase:
    """A container's memory since its restart. Leak families grow steadily
    (0.5-50 MB/h, optionally after a warm-up or under a GC sawtooth); decoys are a
    warm-up plateau, a GC sawtooth, page-cache-like growth to a ceiling and flat."""
    span = rng.uniform(24, 96) * HOUR
    since = NOW - span
    base = rng.uniform(50, 2000) * MB
    noise = rng.uniform(1, 15) * MB
    rate = math.exp(rng.uniform(math.log(0.5), math.log(50))) if "leak" in family else 0.0
    warm_a = rng.uniform(50, 800) * MB
    warm_tau = rng.uniform(0.25, 3) * HOUR
    saw_period = rng.uniform(0.5, 6) * HOUR
    saw_amp = rng.uniform(10, 300) * MB
    cache_top = rng.uniform(100, 1000) * MB
    cache_until = rng.uniform(0.2, 0.6) * span
    points = []
    t = since
    while t <= NOW:
        age = t - since
        v = base + rate * MB * age / HOUR + rng.gauss(0, noise)
        if family in ("warmup", "leak+warmup"):
            v += warm_a * (1 - math.exp(-age / warm_tau))
        if family == "sawtooth":
            v += saw_amp * ((age % saw_period) / saw_period)
        if family == "leak+sawtooth":
            v += min(saw_amp, 100 * MB) * ((age % saw_period) / saw_period)
        if family == "pagecache":
            # reads fill the cache quickly at first, slower as it nears its ceiling
            v += cache_top * min(1.0, math.sqrt(age / cache_until))
        points.append((t, max(v, 0.0)))
        t += STEP
    return MemCase(family, points, since, rate > 0, rate)
