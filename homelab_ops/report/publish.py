"""Write the report's files (each atomically: a reader never sees half a report) and,
for the weekly timer, the dated set in the settings' report directory with a short
summary through the cycle's notifier."""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel

from homelab_ops.errors import HomelabError
from homelab_ops.models.report import Report
from homelab_ops.models.settings import Settings
from homelab_ops.report import render

SUMMARY_ITEMS = 5


class Published(BaseModel):
    files: list[Path]
    summary: str
    notified: dict | None = None  # the notifier's result (None: no notifier set)


def write_all(files: list[tuple[Path, str]]) -> list[Path]:
    """Every (path, text), each atomically, after checking every directory first: a
    bad path writes nothing at all."""
    for path, _ in files:
        if not path.parent.is_dir():
            raise HomelabError(f"{path.parent}: no such directory")
    return [write_atomic(path, text) for path, text in files]


def write_atomic(path: Path, text: str) -> Path:
    """``text`` to ``path`` through a temporary file beside it and a rename."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        raise HomelabError(f"{path}: cannot write: {exc.strerror}") from None
    return path


def publish(report: Report, settings: Settings) -> Published:
    """``report-YYYY-MM-DD.{html,md,json}`` in ``settings.reports_dir`` (made when
    missing), then the summary to every notification URL, when any is set."""
    from homelab_ops.loop.notify import notify

    folder = settings.reports_dir
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HomelabError(f"{folder}: cannot create the report directory: "
                           f"{exc.strerror}") from None
    stem = f"report-{datetime.fromtimestamp(report.until):%Y-%m-%d}"
    files = write_all([(folder / f"{stem}.html", render.to_html(report)),
                       (folder / f"{stem}.md", render.to_markdown(report)),
                       (folder / f"{stem}.json", render.to_json(report))])
    text = summary(report, files[0])
    result = None
    if settings.notifications.urls:
        result = notify(settings, "homelab-ops weekly report", text,
                        level(report)).model_dump()
    return Published(files=files, summary=text, notified=result)


def level(report: Report) -> str:
    severities = {a.severity for a in report.attention}
    return "failure" if "critical" in severities else \
        "warning" if "warning" in severities else "info"


def summary(report: Report, html: Path | None = None) -> str:
    """A few lines for a phone: scores, what ran, what to look at first, where the
    full report is."""
    lines = [f"{h.host}: health {h.score_now} now, lowest {h.score_min}"
             for h in report.hosts]
    ran = sum(sum(d.by_outcome.values()) for d in report.activity.per_day)
    outcomes = ", ".join(f"{v} {k}" for k, v in report.activity.by_outcome.items())
    lines.append(f"actions run: {ran}" + (f" ({outcomes})" if outcomes else ""))
    for a in report.attention[:SUMMARY_ITEMS]:
        lines.append(f"{a.severity}: {a.message}")
    if len(report.attention) > SUMMARY_ITEMS:
        lines.append(f"... and {len(report.attention) - SUMMARY_ITEMS} more")
    if not report.attention:
        lines.append("nothing needs a person")
    if html is not None:
        lines.append(f"report: {html}")
    return "\n".join(lines)
