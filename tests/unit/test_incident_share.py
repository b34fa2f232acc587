"""The weekly share of incidents auto-resolved vs escalated (issue 17 item 8, FBAR's
framing), computed once in loop/incidents.py from a real store's decision log and
shown by `incidents`, `decisions` and the weekly report (JSON, Markdown, HTML)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from homelab_ops.loop import incidents
from homelab_ops.loop import log as decision_log
from homelab_ops.models.decision import Decision
from homelab_ops.models.report import Report
from homelab_ops.models.settings import Settings
from homelab_ops.report import render
from homelab_ops.report.build import build_report
from homelab_ops.store import Store
from tests.conftest import run_cli

DAY = 86400.0


def _row(store: Store, ts: float, subject: str, verdict: str, action: str,
         **detail) -> int:
    return decision_log.append(store, Decision(
        ts=ts, cycle="c", host="nas", subject=subject, finding="container_down",
        action=action, verdict=verdict, reason=f"{subject} {action}", detail=detail))


def _incidents(store: Store, now: float) -> None:
    """In the window: web fixed by the loop (resolved, never escalated), worker
    escalated (budget spent, queued for a person), cache still open. Before the
    window: old, resolved (not counted)."""
    for subject, opened in (("web", now - 3 * DAY), ("worker", now - 2 * DAY),
                            ("cache", now - DAY), ("old", now - 20 * DAY)):
        _row(store, opened, subject, "incident", "opened")
    _row(store, now - 3 * DAY + 60, "web", "executed", "restart")
    _row(store, now - 3 * DAY + 1800, "web", "incident", "cleared")
    _row(store, now - 3 * DAY + 1800 + 3600, "web", "incident", "resolved")
    _row(store, now - 20 * DAY + 600, "old", "incident", "cleared")
    _row(store, now - 20 * DAY + 4200, "old", "incident", "resolved")
    _row(store, now - 2 * DAY + 60, "worker", "queued", "restart",
         held_by={"gate": "budget", "detail": "3 of 3 restarts used"})


@pytest.fixture
def state(tmp_path: Path) -> tuple[Path, float]:
    now = time.time()
    with Store.open(tmp_path) as store:
        _incidents(store, now)
    return tmp_path, now


def test_the_share_is_counted_once_per_week_of_opening(state) -> None:
    path, now = state
    with Store.open(path) as store:
        log = decision_log.entries(store)
    weeks = incidents.weekly(incidents.opened_since(log, now - 7 * DAY))
    assert sum(w.incidents for w in weeks) == 3  # "old" opened before the window
    assert (sum(w.auto_resolved for w in weeks), sum(w.escalated for w in weeks),
            sum(w.open for w in weeks)) == (1, 1, 1)
    for w in weeks:
        assert w.auto_resolved + w.escalated + w.open == w.incidents
        assert w.auto_resolved_pct == round(100 * w.auto_resolved / w.incidents, 1)
    [web_week] = [w for w in weeks if w.auto_resolved]
    assert web_week.median_mttr_s == 1800  # opened to its last finding, H not counted
    [every] = incidents.weekly(incidents.opened_since(log, 0, service="old"))
    assert (every.incidents, every.auto_resolved_pct, every.escalated_pct) == (1, 100, 0)


def test_incidents_and_decisions_show_it(state) -> None:
    path, _ = state
    args = ("--state-dir", str(path))
    out = json.loads(run_cli(*args, "incidents", "--json").stdout)
    assert [i["subject"] for i in out["incidents"]] == ["web", "worker", "cache"]
    assert sum(w["escalated"] for w in out["weeks"]) == 1
    text = run_cli(*args, "decisions", "--since", "7d").stdout
    share = [line for line in text.splitlines() if line.startswith("incidents week ")]
    assert share and all("auto-resolved" in s and "escalated" in s for s in share)
    assert sum(int(s.split(", ")[2].split()[0]) for s in share) == 1  # escalated
    # a service with no incident in the window: no share line, only its decisions
    quiet = run_cli(*args, "decisions", "--since", "7d", "--service", "nobody").stdout
    assert "incidents week" not in quiet


def test_the_report_has_it_in_every_rendering(state) -> None:
    path, now = state
    with Store.open(path) as store:
        report = build_report(store, Settings(state_dir=path), now)
    weeks = report.activity.incident_weeks
    assert (sum(w.incidents for w in weeks), sum(w.auto_resolved for w in weeks),
            sum(w.escalated for w in weeks)) == (3, 1, 1)
    assert Report.model_validate_json(render.to_json(report)) == report
    line = "Incidents: 3 opened, 1 (33 %) auto-resolved, 1 (33 %) escalated."
    md, page = render.to_markdown(report), render.to_html(report)
    assert line in md and line in page
    assert "incidents: auto-resolved vs escalated" in md
    for w in weeks:
        assert f"| {w.week} | {w.incidents} |" in md
        assert f"<td>{w.week}</td><td>{w.incidents}</td>" in page


def test_no_incidents_says_so(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        report = build_report(store, Settings(state_dir=tmp_path), time.time())
    assert report.activity.incident_weeks == []
    assert "Incidents: none opened." in render.to_markdown(report)
