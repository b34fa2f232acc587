"""Prediction questions, answered only from predictions already in the cache.

``ask`` never computes a prediction itself: that is ``homelab-ops predict``'s job and
would pull its heavier code onto this fast read path. When nothing is cached the answer
says so and how to get one, instead of guessing from a straight line.
"""

from __future__ import annotations

from homelab_ops.models.prediction import REPORT_KEY, disk_key, leak_key
from homelab_ops.query.fmt import clock
from homelab_ops.query.handlers import Answer, Context, no_observation

HOW_TO = "run `homelab-ops predict` (it needs a few days of observations)"


def _as_of(ctx: Context) -> float | None:
    """When the predictions were made (the cached report says); without the report,
    the observation they extend."""
    report = ctx.store.cache_get(REPORT_KEY, now=ctx.now)
    return report.get("generated_at") if report else ctx.observed_at


def disk_full_prediction(ctx: Context, slots: dict[str, str]) -> Answer:
    if not ctx.latest:
        return no_observation()
    only = slots.get("filesystem")
    found, missing = [], []
    for host, doc in ctx.latest.items():
        for fs in doc.get("filesystems", []):
            mp = fs["mountpoint"]
            if only and mp != only:
                continue
            pred = ctx.store.cache_get(disk_key(host, mp))
            (found if pred else missing).append((host, mp, pred))
    if not found:
        return Answer([f"No disk prediction is cached: {HOW_TO}."], [], ctx.observed_at,
                      ["predictions"])
    lines = []
    for host, mp, p in sorted(found, key=lambda r: _days(r[2])):
        where = f" on {host}" if ctx.many_hosts else ""
        lines.append(f"{mp}{where}: {_disk_line(p, ctx.now)}")
    if missing:
        lines.append(f"  (no prediction cached for {len(missing)} more filesystems)")
    data = [{"host": h, "mountpoint": mp, **p} for h, mp, p in found]
    return Answer(lines, data, _as_of(ctx), ["predictions"])


def _days(p: dict) -> float:
    days = p.get("days_until_threshold")
    return days if days is not None else float("inf")


def _disk_line(p: dict, now: float) -> str:
    days, low, high = p.get("days_until_threshold"), p.get("low"), p.get("high")
    threshold = p.get("threshold_pct")
    at = f" {threshold:g} %" if threshold is not None else " its threshold"
    basis = f" ({p['basis']})" if p.get("basis") else ""
    if days is None:
        status = p.get("status", "")
        text = {"not_filling": "not filling up", "insufficient_data": "not enough data yet"}
        return f"{text.get(status, 'no date')}{basis}"
    if days <= 0:
        return f"already above{at}{basis}"
    when = clock(now + days * 86400, now)
    span = ""
    if low is not None:
        span = f", between {low:.0f} and {f'{high:.0f}' if high is not None else 'never'} days"
    return f"reaches{at} in about {days:.0f} days ({when}{span}){basis}"


def memory_leaks(ctx: Context, slots: dict[str, str]) -> Answer:
    if not ctx.latest:
        return no_observation()
    only = slots.get("service")
    found, missing = [], 0
    for host, c in ctx.containers():
        if only and c["name"] != only:
            continue
        pred = ctx.store.cache_get(leak_key(host, c["name"]))
        if pred:
            found.append((host, c["name"], pred))
        else:
            missing += 1
    if not found:
        return Answer([f"No memory-leak analysis is cached: {HOW_TO}."], [], ctx.observed_at,
                      ["predictions"])
    leaks = [r for r in found if r[2].get("leak")]
    lines = [f"{len(leaks)} of {len(found)} analysed containers leak memory."
             if leaks else f"No leak found in {len(found)} analysed containers."]
    for host, name, p in leaks:
        who = f"{name} ({host})" if ctx.many_hosts else name
        rate = p.get("mb_per_hour") or 0.0
        until = p.get("hours_until_limit")
        lines.append(f"  {who}: +{rate:.1f} MB/h"
                     + (f", hits its limit in ~{until:.0f} h" if until is not None else "")
                     + (f" ({p['basis']})" if p.get("basis") else ""))
    if missing:
        lines.append(f"  ({missing} containers have no analysis cached)")
    data = [{"host": h, "service": n, **p} for h, n, p in found]
    return Answer(lines, data, _as_of(ctx), ["predictions"])


HANDLERS = {"disk_full_prediction": disk_full_prediction, "memory_leaks": memory_leaks}
