"""Memory-leak detection for one container, measured since its last restart.

A leak is growth that is significant, material *and* still going on: the rate is the
Theil-Sen slope over the recent half of the window since the restart (a warm-up at
the start does not inflate it), the recent half must rise significantly
(Mann-Kendall), the growth must matter (10 % more memory a week, or the limit within
90 days), and the last quarter must still rise at at least half that rate. A warm-up
that plateaus and page-cache growth that saturates fail the last test; a GC sawtooth
has no trend over its cycles and fails the first; tiny drifts fail the second.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from homelab_ops.models.prediction import LeakPrediction
from homelab_ops.predict.robust import Point, buckets, clean, kendall_trend

HOUR = 3600.0
MB = 1e6
ALPHA = 0.01
SUSTAINED = 0.5
# growth worth calling a leak: +10 % of the current use a week, or the limit in 90 days
MATERIAL_PER_WEEK = 0.10
LIMIT_HORIZON = 90 * 24 * HOUR
MIN_SPAN = 12 * HOUR  # less history since the restart is insufficient data


def detect_leak(mem: Sequence[Sequence[float]], now: float, since: float | None = None,
                limit_bytes: float = 0.0, *, host: str = "", container: str = "",
                interval: float = 0.8, min_span: float = MIN_SPAN,
                max_span: float = 14 * 24 * HOUR) -> LeakPrediction:
    """Judge ``mem`` (bytes) between the restart at ``since`` and ``now``."""
    start = max(since if since is not None else float("-inf"), now - max_span)
    pts = [p for p in clean(mem) if start <= p[0] <= now]
    limit_mb = limit_bytes / MB if limit_bytes > 0 else None
    base = {"host": host, "container": container, "interval": interval,
            "since": since, "limit_mb": limit_mb}
    if not pts:
        return LeakPrediction(status="insufficient_data", basis="no memory samples", **base)
    span = pts[-1][0] - pts[0][0]
    origin = (f"since the restart on {_date(since)}" if since is not None and since >= start
              else "in the window observed")
    basis = f"based on {span / HOUR:.1f} hours {origin}"
    base.update(span_hours=span / HOUR, current_mb=pts[-1][1] / MB)
    if span < min_span:
        return LeakPrediction(status="insufficient_data",
                              basis=f"{basis}; need at least {min_span / HOUR:g} hours", **base)

    width = HOUR if span >= 48 * HOUR else span / 48
    b = buckets(pts, width)
    t0 = b[0][0]
    recent = kendall_trend([[p for p in b if p[0] >= t0 + span / 2]], interval)
    last = kendall_trend([[p for p in b if p[0] >= t0 + 3 * span / 4]], interval)
    if recent is None or last is None:
        return LeakPrediction(status="insufficient_data",
                              basis=f"{basis}; too few samples", **base)
    rate = recent.slope * HOUR / MB
    level = recent.value_at(now)
    base.update(mb_per_hour=rate, mb_per_hour_low=recent.slope_low * HOUR / MB,
                mb_per_hour_high=recent.slope_high * HOUR / MB, current_mb=level / MB)
    sustain = max(0.0, min(1.0, last.slope / recent.slope)) if recent.slope > 0 else 0.0
    significant = recent.p_up < ALPHA and recent.slope > 0
    weight = _materiality(recent.slope, level, limit_bytes)
    material = weight >= 1.0
    leak = significant and material and sustain >= SUSTAINED
    # how sure we are this is a leak that matters: significance x still growing x
    # how much it matters x enough history (a day since the restart or more)
    confidence = (1 - recent.p_up) * sustain * weight * min(1.0, span / (24 * HOUR))
    detail = (f"recent growth {rate:.2f} MB/h (p={recent.p_up:.3f}), "
              f"last quarter {last.slope * HOUR / MB:.2f} MB/h")
    if not leak:
        why = ("not significant" if not significant
               else "too slow to matter" if not material
               else "not sustained (levelling off)")
        return LeakPrediction(status="no_leak", confidence=confidence,
                              basis=f"{basis}; {detail}: {why}", **base)
    if limit_bytes > 0:
        room = max(0.0, limit_bytes - level)
        base.update(
            hours_until_limit=room / recent.slope / HOUR,
            hours_until_limit_low=room / recent.slope_high / HOUR,
            hours_until_limit_high=(room / recent.slope_low / HOUR
                                    if recent.slope_low > 0 else None))
    return LeakPrediction(status="leak", leak=True, confidence=confidence,
                          basis=f"{basis}; {detail}", **base)


def _materiality(slope: float, level: float, limit_bytes: float) -> float:
    """1 when growth matters (10 % more a week, or the limit within 90 days), less
    in proportion below that, 0 for no growth."""
    if slope <= 0:
        return 0.0
    if limit_bytes > 0 and limit_bytes - level <= slope * LIMIT_HORIZON:
        return 1.0
    weekly = slope * 7 * 24 * HOUR / max(MATERIAL_PER_WEEK * level, 1.0)
    return min(1.0, weekly)


def restart_time(started_at: Sequence[Point], event_times: Sequence[float],
                 now: float) -> float | None:
    """The container's last (re)start: the newest ``started_at`` value or restart
    event not in the future."""
    candidates = [v for _, v in clean(started_at) if 0 < v <= now]
    candidates += [t for t in event_times if t <= now]
    return max(candidates) if candidates else None


def _date(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
