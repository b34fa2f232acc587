"""The report's charts, drawn by matplotlib from the report model into inline SVG (text
kept as text, no external fonts or images), so the HTML file needs no network.

Matplotlib's object API (``Figure``), never pyplot: no global figure state, nothing
opens a window, and each chart is one self-contained function of its model part."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime

from homelab_ops.models.report import DayCount, DiskOutlook, HostHealth, LeakOutlook

DAY = 86400.0
COLORS = {"success": "#2e7d32", "failed": "#c62828", "interrupted": "#ef6c00",
          "pending": "#757575"}
MAX_DISK_CHARTS = 6


def disk_chart(d: DiskOutlook, now: float) -> str:
    """Used % over the window, the forecast band (the prediction's low..high days to
    the threshold) and the threshold line."""
    p = d.prediction
    fig, ax = _figure(f"{p.host} {p.mountpoint}: used % and forecast")
    if d.used_pct:
        ax.plot(_dates(t for t, _ in d.used_pct), [v for _, v in d.used_pct],
                color="#1565c0", label="used %", gid="observed")
    current = p.used_pct if p.used_pct is not None else (d.used_pct[-1][1] if d.used_pct
                                                         else None)
    days = p.days_until_threshold
    if current is not None and p.status == "fills" and days:
        horizon = min(max(days, p.low or 0.0) * 1.25, 90.0)
        steps = [now + horizon * DAY * k / 40 for k in range(41)]

        def line(eta: float | None) -> list[float]:
            if not eta:
                return [current] * len(steps)
            return [min(100.0, current + (p.threshold_pct - current) * (t - now) / (eta * DAY))
                    for t in steps]

        x = _dates(steps)
        ax.fill_between(x, line(p.high), line(p.low), color="#90caf9", alpha=0.5,
                        label=f"forecast ({p.interval:.0%} range)", gid="forecast-band")
        ax.plot(x, line(days), color="#1565c0", linestyle="--", label="forecast",
                gid="forecast")
    ax.axhline(p.threshold_pct, color="#c62828", linestyle=":",
               label=f"threshold {p.threshold_pct:g}%", gid="threshold")
    ax.set_ylabel("used %")
    ax.set_ylim(bottom=0, top=max(100.0, p.threshold_pct + 5))
    return _svg(fig, ax, f"disk-{p.host}-{p.mountpoint}")


def leak_chart(m: LeakOutlook) -> str:
    """Memory of a container suspected of leaking, with its limit."""
    p = m.prediction
    fig, ax = _figure(f"{p.host} {p.container}: memory (suspected leak)")
    ax.plot(_dates(t for t, _ in m.mem_mb), [v for _, v in m.mem_mb], color="#6a1b9a",
            label="memory MB", gid="memory")
    if p.limit_mb:
        ax.axhline(p.limit_mb, color="#c62828", linestyle=":", label="limit", gid="limit")
    if p.since:
        ax.axvline(_dates([p.since])[0], color="#757575", linestyle="--",
                   label="last restart", gid="restart")
    ax.set_ylabel("MB")
    ax.set_ylim(bottom=0)
    return _svg(fig, ax, f"leak-{p.host}-{p.container}")


def health_chart(hosts: Sequence[HostHealth]) -> str:
    """Every host's health score over the window (each hour's lowest)."""
    fig, ax = _figure("health score")
    for h in hosts:
        ax.step(_dates(t for t, _ in h.scores), [v for _, v in h.scores], where="post",
                label=h.host, gid=f"health-{h.host}")
    ax.set_ylim(0, 105)
    ax.set_ylabel("score")
    return _svg(fig, ax, "health")


def actions_chart(days: Sequence[DayCount]) -> str:
    """Actions the cycle ran per day, stacked by outcome."""
    fig, ax = _figure("actions per day")
    labels = [d.day[5:] for d in days]
    outcomes = sorted({o for d in days for o in d.by_outcome},
                      key=lambda o: list(COLORS).index(o) if o in COLORS else len(COLORS))
    bottom = [0] * len(days)
    for o in outcomes:
        values = [d.by_outcome.get(o, 0) for d in days]
        ax.bar(labels, values, bottom=bottom, color=COLORS.get(o, "#455a64"), label=o,
               gid=f"actions-{o}")
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_xticks(range(len(labels)), labels)
    ax.set_xlim(-0.5, len(labels) - 0.5)
    ax.set_ylim(bottom=0, top=max([*bottom, 1]) + 0.5)
    ax.set_ylabel("actions")
    ax.yaxis.get_major_locator().set_params(integer=True)
    return _svg(fig, ax, "actions", dates=False)


def _figure(title: str):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 3), dpi=96)
    ax = fig.add_subplot()
    ax.set_title(title, fontsize=10, loc="left")
    ax.grid(True, alpha=0.3)
    return fig, ax


def _dates(stamps) -> list[datetime]:
    return [datetime.fromtimestamp(t) for t in stamps]


def _svg(fig, ax, gid: str, dates: bool = True) -> str:
    import matplotlib
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    if dates:
        locator = AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="upper left")
    fig.set_gid(f"chart-{gid}")
    fig.tight_layout()
    out = io.StringIO()
    # text stays text (no embedded glyph paths); fixed ids and no date: same model,
    # same bytes
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "homelab-ops"}):
        fig.savefig(out, format="svg", metadata={"Date": None})
    text = out.getvalue()
    return text[text.index("<svg"):]
