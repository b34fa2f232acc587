"""Robust statistics: Theil-Sen, Sen's interval, Mann-Kendall, seasons, cleaning."""

from __future__ import annotations

import math
import random

import pytest

from homelab_ops.predict.robust import buckets, clean, kendall_trend, seasons
from homelab_ops.predict.segments import DAY, HOUR, last_change, lasting_drops


def test_clean_sorts_drops_nonfinite_and_averages_duplicates() -> None:
    raw = [(3.0, 1.0), (1.0, math.nan), (2.0, 4.0), (2.0, 6.0), (math.inf, 1.0), (0.0, 2.0)]
    assert clean(raw) == [(0.0, 2.0), (2.0, 5.0), (3.0, 1.0)]


def test_theil_sen_ignores_outliers_least_squares_would_follow() -> None:
    pts = [(float(t), 2.0 * t) for t in range(30)]
    pts[5] = (5.0, 1000.0)
    pts[20] = (20.0, -500.0)
    trend = kendall_trend([pts])
    assert trend is not None
    assert trend.slope == pytest.approx(2.0)
    assert trend.slope_low <= 2.0 <= trend.slope_high
    assert trend.p_up < 1e-6


def test_interval_covers_the_true_slope_about_as_often_as_promised() -> None:
    rng = random.Random(7)
    covered = 0
    for _ in range(200):
        pts = [(float(t), 0.5 * t + rng.gauss(0, 5)) for t in range(25)]
        trend = kendall_trend([pts], conf=0.8)
        covered += trend.slope_low <= 0.5 <= trend.slope_high
    assert 0.70 <= covered / 200 <= 0.90


def test_flat_series_has_no_trend_and_a_falling_one_no_upward_trend() -> None:
    flat = kendall_trend([[(float(t), 7.0) for t in range(10)]])
    assert flat.slope == 0 and flat.z == 0 and flat.max_z == 0
    falling = kendall_trend([[(float(t), -float(t)) for t in range(10)]])
    assert falling.slope == pytest.approx(-1.0) and falling.p_up > 0.99


def test_seasonal_pairs_cancel_a_daily_cycle() -> None:
    """Six days of hourly points: a slope of 1/hour under a cycle of amplitude 30.
    Plain Theil-Sen over the last 30 hours is pulled by the cycle's phase; pairs
    taken only at the same hour of day are not."""
    pts = [(h * HOUR, h + 30 * math.sin(2 * math.pi * h / 24)) for h in range(6 * 24)]
    seasonal = kendall_trend(seasons(pts, DAY, HOUR))
    assert seasonal.slope * HOUR == pytest.approx(1.0)
    plain = kendall_trend([pts[-30:]])
    assert abs(plain.slope * HOUR - 1.0) > 0.2


def test_no_pairs_means_no_trend() -> None:
    assert kendall_trend([[(1.0, 1.0)], []]) is None


def test_buckets_take_medians_so_a_short_spike_vanishes() -> None:
    pts = [(t * 300.0, 10.0) for t in range(24)]
    pts[3] = (900.0, 1e9)
    assert buckets(pts, HOUR) == [(1650.0, 10.0), (5250.0, 10.0)]


def test_a_lasting_drop_is_found_a_spike_and_a_glitch_are_not() -> None:
    step = 300.0
    pts = [(i * step, 100.0 + i * 0.01) for i in range(12 * 24 * 4)]
    spiked = [(t, v + (50 if 30 * HOUR <= t < 34 * HOUR else 0)) for t, v in pts]
    spiked[500] = (spiked[500][0], 0.0)  # one bad sample
    assert lasting_drops(spiked, min_drop=5) == []
    cut = 2.5 * DAY
    cleaned = [(t, v - (40 if t >= cut else 0)) for t, v in pts]
    (drop,) = lasting_drops(cleaned, min_drop=5)
    assert abs(drop.ts - cut) <= HOUR and abs(drop.start - cut) <= HOUR
    # growth during the days either side is allowed for: exactly what was freed
    assert drop.size == pytest.approx(40, abs=0.5)


def test_last_change_finds_a_resize() -> None:
    assert last_change([(0.0, 100.0), (1.0, 100.0), (2.0, 200.0), (3.0, 200.0)]) == 2.0
    assert last_change([(0.0, 100.0), (1.0, 100.2)]) is None
