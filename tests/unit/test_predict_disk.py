"""Disk exhaustion: examples with known answers and hypothesis properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from homelab_ops.predict.disk import predict_disk

DAY = 86400.0
HOUR = 3600.0
NOW = 1_790_000_000.0
GIB = 2.0**30
SIZE = 1000 * GIB


def series(days: float, start_level: float, per_day: float, step: float = 300.0,
           extra=lambda t: 0.0):
    """Samples ending at NOW: ``start_level`` ``days`` ago, growing ``per_day``."""
    n = int(days * DAY / step)
    return [(NOW - (n - i) * step, start_level + per_day * i * step / DAY
             + extra(NOW - (n - i) * step)) for i in range(n + 1)]


def test_linear_fill_with_daily_cycle_gives_the_right_date_and_basis() -> None:
    pts = series(20, 300 * GIB, 10 * GIB,
                 extra=lambda t: 8 * GIB * math.sin(2 * math.pi * t / DAY))
    p = predict_disk(pts, SIZE, NOW, 90.0)
    assert p.status == "fills"
    # 500 GiB now, 900 GiB threshold, 10 GiB/day
    assert p.days_until_threshold == pytest.approx(40, rel=0.02)
    assert p.low <= 40 <= p.high
    assert p.basis.startswith("based on 20.0 days since")
    assert "growth 10.0 GiB/day" in p.basis


def test_a_cleanup_restarts_the_trend_and_says_so() -> None:
    cut = NOW - 6 * DAY
    pts = series(30, 300 * GIB, 20 * GIB, extra=lambda t: -400 * GIB if t >= cut else 0.0)
    # after the cleanup data arrives at 5 GiB/day instead of 20
    pts = [(t, v - (15 * GIB * (t - cut) / DAY if t >= cut else 0.0)) for t, v in pts]
    p = predict_disk(pts, SIZE, NOW, 90.0)
    assert p.status == "fills"
    assert abs(p.trend_start - cut) <= HOUR
    assert "since the cleanup on" in p.basis and "earlier days" not in p.basis
    level_now = 300 * GIB + 20 * GIB * 30 - 400 * GIB - 15 * GIB * 6
    assert p.days_until_threshold == pytest.approx((900 * GIB - level_now) / (5 * GIB), rel=0.02)


def test_rate_from_before_a_cleanup_is_pooled_when_it_agrees() -> None:
    cut = NOW - 3 * DAY
    pts = series(25, 300 * GIB, 10 * GIB, extra=lambda t: -150 * GIB if t >= cut else 0.0)
    p = predict_disk(pts, SIZE, NOW, 90.0)
    assert "earlier days that grew alike" in p.basis
    assert p.days_until_threshold == pytest.approx((900 - 400) / 10, rel=0.02)


def test_a_resize_restarts_the_trend() -> None:
    pts = series(20, 300 * GIB, 10 * GIB)
    sizes = [(NOW - 20 * DAY, 800 * GIB), (NOW - 5 * DAY, SIZE), (NOW, SIZE)]
    p = predict_disk(pts, sizes, NOW, 90.0)
    assert "since the resize on" in p.basis
    assert p.span_days == pytest.approx(5, abs=0.01)


def test_a_resize_after_the_last_sample_is_insufficient_data() -> None:
    sizes = [(NOW - 20 * DAY, 800 * GIB), (NOW, SIZE)]
    p = predict_disk(series(20, 300 * GIB, 10 * GIB)[:-1], sizes, NOW)
    assert p.status == "insufficient_data" and "no usage samples since the resize" in p.basis


def test_short_history_is_insufficient_data() -> None:
    p = predict_disk(series(1.5, 300 * GIB, 10 * GIB), SIZE, NOW)
    assert p.status == "insufficient_data" and p.days_until_threshold is None
    assert "need at least 2 days" in p.basis


def test_spikes_do_not_move_the_date() -> None:
    def spikes(t: float) -> float:
        return 80 * GIB if (t // HOUR) % 50 < 3 else 0.0

    p = predict_disk(series(20, 300 * GIB, 10 * GIB, extra=spikes), SIZE, NOW)
    assert p.days_until_threshold == pytest.approx(40, rel=0.03)


def test_over_threshold_and_percent_series() -> None:
    p = predict_disk(series(5, 95.0, 0.01), 100.0, NOW, 90.0)
    assert p.status == "over_threshold" and p.days_until_threshold == 0
    q = predict_disk(series(5, 50.0, 1.0), 100.0, NOW, 90.0)
    assert q.days_until_threshold == pytest.approx(35, rel=0.01)


def test_unknown_capacity_and_no_samples() -> None:
    assert predict_disk([], SIZE, NOW).basis == "no usage samples"
    assert predict_disk(series(5, 1.0, 1.0), [], NOW).basis == "capacity unknown"


# -- properties ---------------------------------------------------------------------------

_times = st.lists(st.floats(0, 20 * DAY), min_size=2, max_size=120, unique=True).map(sorted)


@st.composite
def rising(draw):
    ts = draw(_times)
    steps = draw(st.lists(st.floats(1e3, 1e9), min_size=len(ts), max_size=len(ts)))
    level, out = 100 * GIB, []
    for t, s in zip(ts, steps, strict=True):
        level += s
        out.append((NOW - 20 * DAY + t, level))
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rising())
def test_a_steadily_rising_series_never_says_it_never_fills(pts) -> None:
    p = predict_disk(pts, SIZE, NOW, 90.0)
    assert p.status != "not_filling"
    if p.status == "fills":
        assert p.days_until_threshold > 0 and p.low is not None


@settings(max_examples=150, deadline=None)
@given(_times, st.lists(st.floats(0, 1e9), min_size=120, max_size=120),
       st.floats(10 * GIB, 800 * GIB), st.booleans())
def test_a_flat_or_falling_series_never_predicts_a_date(ts, drops, start, flat) -> None:
    level, pts = start, []
    for t, d in zip(ts, drops, strict=False):
        level -= 0 if flat else d
        pts.append((NOW - 20 * DAY + t, level))
    p = predict_disk(pts, SIZE, NOW, 90.0)
    assert p.status in ("not_filling", "insufficient_data")
    assert p.days_until_threshold is None


@settings(max_examples=60, deadline=None)
@given(st.floats(3 * GIB, 30 * GIB), st.floats(3 * GIB, 30 * GIB), st.floats(5, 15),
       st.floats(2.5, 8), st.floats(0.05, 0.3))
def test_a_cleanup_drop_restarts_the_trend(before, after, days_before, days_after,
                                           freed) -> None:
    cut = NOW - days_after * DAY
    start = NOW - (days_before + days_after) * DAY
    pts = []
    t = start
    while t <= NOW:
        v = 100 * GIB + before * (min(t, cut) - start) / DAY + after * max(0.0, t - cut) / DAY
        pts.append((t, v - (freed * SIZE if t >= cut else 0.0)))
        t += 1800.0
    p = predict_disk(pts, SIZE, NOW, 99.0)
    assert abs(p.trend_start - cut) <= 2 * HOUR
    assert "since the cleanup on" in p.basis
    level = pts[-1][1]
    if p.status == "fills":
        assert p.days_until_threshold == pytest.approx((0.99 * SIZE - level) / after, rel=0.05)
    else:
        assert p.status == "over_threshold" and level >= 0.99 * SIZE * 0.99


_messy = st.lists(
    st.tuples(st.one_of(st.floats(0, 30 * DAY), st.just(math.nan), st.just(5 * DAY)),
              st.one_of(st.floats(-1e15, 1e15), st.just(math.nan), st.just(math.inf))),
    max_size=300)


@settings(max_examples=200, deadline=None)
@given(_messy, st.one_of(st.floats(0, 1e15), st.just(math.nan)), _messy)
def test_messy_input_never_raises(raw, size, sizes) -> None:
    """Empty input, NaN, duplicate timestamps and timestamps going backwards, in the
    usage and in the capacity series."""
    pts = [(NOW - 30 * DAY + t, v) for t, v in raw]
    p = predict_disk(pts, size, NOW)
    assert p.status in ("fills", "not_filling", "over_threshold", "insufficient_data")
    predict_disk(list(reversed(pts)), [(NOW - 30 * DAY + t, v) for t, v in sizes], NOW)


def test_measurement_noise_does_not_pass_for_wandering_growth() -> None:
    """Issue 10 item 22: a clean line seen through a noisy gauge is not a random walk;
    its day-to-day variation is the walk's alone, so its range stays narrow (and
    still holds the date), while a real walk keeps its spread."""
    import random

    from homelab_ops.predict.disk import daily_variation

    rng = random.Random(2)
    clean = series(20, 300 * GIB, 10 * GIB, extra=lambda t: rng.gauss(0, 0.2 * GIB))
    assert daily_variation(clean, 10 * GIB / DAY) < 0.05 * GIB  # noise: ~0.2 GiB/sample
    p = predict_disk(clean, SIZE, NOW, 90.0)
    assert p.low <= 40 <= p.high and (p.high - p.low) < 0.02 * 40
    walk, level = [], 300 * GIB
    for t, v in series(20, 300 * GIB, 10 * GIB):
        if int(t) % 3600 < 300:  # a new hour: its own random amount
            level += rng.gauss(0, 2 * GIB / math.sqrt(24))  # 2 GiB/day around the line
        walk.append((t, v + level - 300 * GIB + rng.gauss(0, 0.2 * GIB)))
    assert 1.4 * GIB < daily_variation(walk, 10 * GIB / DAY) < 2.6 * GIB
