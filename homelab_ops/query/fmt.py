"""Small formatting helpers shared by the handlers: sizes, times, freshness."""

from __future__ import annotations

import time
from datetime import datetime


def size(n: float | None) -> str:
    """Bytes in binary units, as df -h prints them."""
    if n is None:
        return "?"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def clock(ts: float, now: float | None = None) -> str:
    """Local time of ``ts``: "06:30" today, "Nov 24 06:30" on another day."""
    now = time.time() if now is None else now
    when, today = datetime.fromtimestamp(ts), datetime.fromtimestamp(now)
    return when.strftime("%H:%M" if when.date() == today.date() else "%b %d %H:%M")


def ago(ts: float, now: float) -> str:
    """How long before ``now``: "5 min ago", "3 h ago", "2 days ago"."""
    s = max(0.0, now - ts)
    if s < 90:
        return f"{s:.0f} s ago"
    if s < 90 * 60:
        return f"{s / 60:.0f} min ago"
    if s < 48 * 3600:
        return f"{s / 3600:.0f} h ago"
    return f"{s / 86400:.0f} days ago"


def iso_ts(value: str | None) -> float | None:
    """Seconds since the epoch of an ISO timestamp from an observation document."""
    return datetime.fromisoformat(value).timestamp() if value else None


def freshness(as_of: float | None, now: float) -> str:
    """The line every answer ends with: how old the data behind it is."""
    if as_of is None:
        return "(no data behind this answer)"
    return f"(as of {clock(as_of, now)}, {ago(as_of, now)})"
