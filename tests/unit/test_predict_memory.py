"""Memory-leak detection: leaks found with their rate, decoys not flagged."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from homelab_ops.predict.forecast import forecast
from homelab_ops.predict.memory import detect_leak, restart_time

HOUR = 3600.0
MB = 1e6
NOW = 1_790_000_000.0


def mem(hours: float, shape, noise_mb: float = 3.0, seed: int = 1):
    """5-minute samples since a restart ``hours`` ago; ``shape(age_hours)`` in MB."""
    rng = random.Random(seed)
    n = int(hours * 12)
    since = NOW - n * 300.0
    return since, [(since + i * 300.0, (shape(i / 12) + rng.gauss(0, noise_mb)) * MB)
                   for i in range(n + 1)]


def test_a_steady_leak_is_found_with_its_rate_and_time_to_limit() -> None:
    since, pts = mem(48, lambda h: 400 + 5 * h)
    r = detect_leak(pts, NOW, since=since, limit_bytes=1000 * MB)
    assert r.leak and r.status == "leak"
    assert r.mb_per_hour == pytest.approx(5, rel=0.05)
    assert r.mb_per_hour_low < r.mb_per_hour < r.mb_per_hour_high < r.mb_per_hour_low + 1
    assert r.hours_until_limit == pytest.approx((1000 - 640) / 5, rel=0.05)
    assert r.confidence > 0.9
    assert "since the restart on" in r.basis


def test_a_leak_after_a_warm_up_is_measured_without_the_warm_up() -> None:
    since, pts = mem(36, lambda h: 300 + 500 * (1 - math.exp(-h / 1.5)) + 3 * h)
    r = detect_leak(pts, NOW, since=since)
    assert r.leak
    assert r.mb_per_hour == pytest.approx(3, rel=0.1)
    assert r.hours_until_limit is None


@pytest.mark.parametrize("shape", [
    pytest.param(lambda h: 300 + 600 * (1 - math.exp(-h / 2)), id="warm-up plateau"),
    pytest.param(lambda h: 300 + 150 * ((h % 2.5) / 2.5), id="GC sawtooth"),
    pytest.param(lambda h: 300 + 700 * min(1.0, math.sqrt(h / 14)), id="page cache"),
    pytest.param(lambda h: 300.0, id="flat"),
])
def test_decoys_are_not_leaks(shape) -> None:
    since, pts = mem(40, shape)
    r = detect_leak(pts, NOW, since=since, limit_bytes=2000 * MB)
    assert not r.leak and r.status == "no_leak"
    assert r.hours_until_limit is None
    assert r.confidence < 0.9


def test_slow_growth_is_a_leak_only_when_it_matters() -> None:
    """0.3 MB/h on 2 GB is 2.5 MB a day: not worth a restart, unless the limit is
    so close that it is reached within 90 days."""
    since, pts = mem(48, lambda h: 2000 + 0.3 * h, noise_mb=0.2)
    r = detect_leak(pts, NOW, since=since)
    assert not r.leak and "too slow to matter" in r.basis and r.confidence < 0.5
    tight = detect_leak(pts, NOW, since=since, limit_bytes=2300 * MB)
    assert tight.leak and tight.hours_until_limit == pytest.approx(286 / 0.3, rel=0.1)


def test_too_short_since_restart_is_insufficient() -> None:
    since, pts = mem(6, lambda h: 400 + 50 * h)
    r = detect_leak(pts, NOW, since=since)
    assert r.status == "insufficient_data" and not r.leak


def test_samples_before_the_restart_are_ignored() -> None:
    _, before = mem(48, lambda h: 300 + 20 * h, seed=2)
    since = NOW - 30 * HOUR
    flat = [(t, 400 * MB) for t, _ in before if t >= since]
    r = detect_leak([p for p in before if p[0] < since] + flat, NOW, since=since)
    assert not r.leak and r.span_hours == pytest.approx(30, abs=0.1)


def test_restart_time_is_the_newest_start() -> None:
    assert restart_time([(NOW - 50, NOW - 3600)], [NOW - 7200, NOW + 5], NOW) == NOW - 3600
    assert restart_time([], [], NOW) is None


def test_forecast_of_a_rising_series_brackets_the_future_value() -> None:
    _, pts = mem(72, lambda h: 100 + 2 * h, noise_mb=5)
    f = forecast(pts, NOW, 24 * HOUR)
    assert f.value == pytest.approx((100 + 2 * 96) * MB, rel=0.02)
    assert f.low < (100 + 2 * 96) * MB < f.high
    assert f.current == pytest.approx((100 + 2 * 72) * MB, rel=0.03)


_messy = st.lists(
    st.tuples(st.one_of(st.floats(0, 3 * 86400), st.just(math.nan), st.just(3600.0)),
              st.one_of(st.floats(0, 1e12), st.just(math.nan), st.just(-math.inf))),
    max_size=300)


@settings(max_examples=200, deadline=None)
@given(_messy, st.one_of(st.none(), st.floats(NOW - 4 * 86400, NOW)),
       st.floats(0, 1e12))
def test_messy_input_never_raises(raw, since, limit) -> None:
    """Empty input, NaN, duplicate timestamps and timestamps going backwards."""
    pts = [(NOW - 3 * 86400 + t, v) for t, v in raw]
    r = detect_leak(pts, NOW, since=since, limit_bytes=limit)
    assert 0 <= r.confidence <= 1
    forecast(list(reversed(pts)), NOW, 86400)
