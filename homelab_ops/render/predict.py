"""Predictions as two tables that fit 80 columns, and the capacity verdict."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from typing import Any

import click


def predictions(d: dict[str, Any]) -> None:
    """Two tables that fit 80 columns: rows still waiting for history become one line
    per reason, and each row's basis is a footnote instead of a wide column."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    when = dt.datetime.fromtimestamp(d["generated_at"], dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    console.print(f"predictions of {when}{' (cached)' if d['cached'] else ''}")
    disks = Table("#", "host", "filesystem", "used", "days left", "80% range",
                  title="disk exhaustion (days until the critical threshold)")
    shown = [p for p in d["disks"] if p["status"] != "insufficient_data"]
    for n, p in enumerate(shown, 1):
        days = {"fills": _days(p["days_until_threshold"]), "over_threshold": "[red]now[/]",
                "not_filling": "not filling"}[p["status"]]
        rng = (f"{_days(p['low'])} - {_days(p['high'])}" if p["status"] == "fills" else "")
        used = "-" if p["used_pct"] is None else f"{p['used_pct']:.1f} % of {p['threshold_pct']:g}"
        disks.add_row(str(n), p["host"], _middle(p["mountpoint"]), used, days, rng)
    _print(console, disks, shown, d["disks"], "filesystem")
    leaks = Table("#", "host", "container", "verdict", "MB/hour", "80% range", "to limit",
                  "conf.", title="memory growth since restart")
    shown = [p for p in d["leaks"] if p["status"] != "insufficient_data"]
    for n, p in enumerate(shown, 1):
        verdict = {"leak": "[red]leak[/]", "no_leak": "ok"}[p["status"]]
        rate = "-" if p["mb_per_hour"] is None else f"{p['mb_per_hour']:.2f}"
        rng = ("-" if p["mb_per_hour_low"] is None
               else f"{p['mb_per_hour_low']:.2f} - {p['mb_per_hour_high']:.2f}")
        limit = ("-" if p["hours_until_limit"] is None
                 else f"{p['hours_until_limit']:.1f} h")
        leaks.add_row(str(n), p["host"], _middle(p["container"]), verdict, rate, rng,
                      limit, f"{p['confidence']:.2f}")
    _print(console, leaks, shown, d["leaks"], "container")
    for note in d["notes"]:
        console.print(f"[yellow]note:[/] {escape(note)}")


def _print(console, table, shown: list[dict], rows: list[dict], noun: str) -> None:
    if shown:
        console.print(table)
        for n, p in enumerate(shown, 1):
            console.print(f"  [{n}] {p['basis']}", highlight=False)
    waiting = Counter(_waiting(p["basis"]) for p in rows if p["status"] == "insufficient_data")
    for reason, count in sorted(waiting.items()):
        console.print(f"{count} {noun}{'s' if count > 1 else ''}: {reason}", highlight=False)


def _waiting(basis: str) -> str:
    """The reason shared by rows still waiting for history ("need 12 h"), without the
    span each one has so far."""
    m = re.search(r"need at least ([\d.]+) (hours|days)", basis)
    return f"too little data yet, need {m[1]} {m[2][0]}" if m else basis


def _middle(text: str, width: int = 20) -> str:
    """``text`` shortened from the middle, so both ends of a long path stay readable."""
    if len(text) <= width:
        return text
    keep = width - 1
    return f"{text[:keep // 2]}…{text[len(text) - (keep - keep // 2):]}"


def capacity(d: dict[str, Any]) -> None:
    verdict = "fits" if d["fits"] else "does NOT fit"
    click.echo(f"{d['host']}: {verdict} for the next {d['horizon_days']:g} days")
    for i in d["items"]:
        click.echo(f"  {'ok ' if i['fits'] else 'NO '} {i['resource']}: {i['basis']}")


def _days(v: float | None) -> str:
    if v is None:
        return "never"
    return f"{v:.1f} d" if v < 3650 else "> 10 y"
