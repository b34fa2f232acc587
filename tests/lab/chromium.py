"""Debian's chromium, headless, as the report's reader: what the page looks like (its
DOM after loading, a screenshot) and every network request the page itself made,
read from Chromium's own net log."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

CHROMIUM = shutil.which("chromium")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--no-first-run")


def run(page: Path, work: Path, *action: str) -> tuple[str, list[str]]:
    """Open ``page`` with a fresh profile and ``action`` (``--dump-dom``,
    ``--screenshot=FILE``); returns stdout and the URLs the page requested."""
    work.mkdir(parents=True, exist_ok=True)
    netlog = work / "netlog.json"
    proc = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={work / 'profile'}",
                           f"--log-net-log={netlog}", "--window-size=1200,2600", *action,
                           page.as_uri()], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout, page_requests(netlog)


def page_requests(netlog: Path) -> list[str]:
    """URLs of requests started for the file:// page (its network isolation key names
    it); the browser's own background fetches carry other keys and are not the page's."""
    log = json.loads(netlog.read_text())
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [e["params"]["url"] for e in log["events"]
            if e["type"] == start and "file://" in e["params"].get("network_isolation_key", "")]
