"""The weekly report: its model built from a real store holding a known week (health
observations, history that predicts a filling disk and a leak, decisions with outcomes,
a breaker trip, drift, backups, an early rotation), and the three renderings drawn
from that one model."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from markupsafe import escape

from homelab_ops.loop.log import append
from homelab_ops.models.decision import Decision
from homelab_ops.models.event import Event
from homelab_ops.models.observation import HealthReason, HealthScore, Observation
from homelab_ops.models.report import Report
from homelab_ops.models.settings import Settings
from homelab_ops.predict.run import predict_all
from homelab_ops.report import publish, render
from homelab_ops.report.build import build_report
from homelab_ops.store import Store
from tests.conftest import run_cli
from tests.unit.test_predict_run import DAY, HOUR, NOW, fill

DIP = range(50, 53)  # hours of the week when web was down


def _observe(store: Store, host: str, ts: float, score: int,
             reasons: list[HealthReason] = ()) -> None:
    obs = Observation(host=host, ts=datetime.fromtimestamp(ts, UTC), reachable=score > 0,
                      health=HealthScore(score=score, reasons=list(reasons)))
    store.add_observation(host, ts, score > 0, obs.model_dump(mode="json"))


def _decide(store: Store, ts: float, verdict: str, subject: str, finding: str, action: str,
            outcome: str | None = None, reason: str = "test", **detail) -> int:
    d = Decision(ts=ts, cycle="c", host="nas", subject=subject, finding=finding,
                 action=action, verdict=verdict, confidence=0.95, risk="low", reason=reason,
                 detail=detail)
    rowid = append(store, d)
    if outcome is not None:
        append(store, d.model_copy(update={
            "ref": rowid, "outcome": outcome, "ts": ts + 60, "reason": f"{action} {outcome}",
            "detail": {"verification": {"checks": [f"{subject} is running"]}}}))
    return rowid


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(tmp_path) as s:
        fill(s, NOW)  # /srv fills in ~40 days, "leaky" grows 5 MB/h, "steady" is flat
        down = HealthReason(code="container_down", subject="web", penalty=15,
                            message="web is exited (exit 137)")
        for hour in range(7 * 24):
            ts = NOW - 7 * DAY + hour * HOUR + 60
            _observe(s, "nas", ts, 85 if hour in DIP else 100, [down] if hour in DIP else [])
        _observe(s, "pi", NOW - 2 * HOUR, 0)
        _observe(s, "nas", NOW - 30 * DAY, 10)  # before the window: not counted
        _decide(s, NOW - 5 * DAY, "executed", "web", "container_down", "restart", "success",
                snapshot=["photos.20261111T1200_pre-action"])
        _decide(s, NOW - 2 * DAY, "executed", "worker", "unhealthy", "restart", "failed")
        _decide(s, NOW - DAY, "notified", "db", "drift", "redeploy", "success",
                reason="db differs from stack app: env")
        _decide(s, NOW - DAY + 600, "alerted", "traefik", "container_down", "none",
                reason="traefik is protected: alert only")
        queued = _decide(s, NOW - 3 * HOUR, "queued", "cache", "memory_leak", "restart-leaking")
        s.add_approval(decision=queued, host="nas", subject="cache", finding="memory_leak",
                       action="restart-leaking", params={}, ts=NOW - 3 * HOUR)
        _decide(s, NOW - 10 * DAY, "executed", "old", "container_down", "restart", "success")
        append(s, Decision(ts=NOW - 2 * DAY + 120, cycle="c", action="breaker",
                           verdict="control", reason="circuit breaker open after 3 failed"))
        append(s, Decision(ts=NOW - HOUR, cycle="", action="pause", verdict="control",
                           reason="maintenance"))
        s.record_backup("nas", "data/photos", "backup", True,
                        {"schedule": "daily", "snapshot": "photos.20261121T0200"},
                        ts=NOW - 5 * HOUR)
        s.record_backup("nas", "data/db", "backup", True, {"schedule": "daily"},
                        ts=NOW - 3 * DAY)
        s.record_backup("nas", "data/photos", "restore_test", False,
                        {"error": "checksum differs: a.jpg"}, ts=NOW - 4 * DAY)
        s.add_events([Event(host="nas", ts=NOW - 4 * DAY, subject="backup:data/photos",
                            kind="backup_early_rotation",
                            detail={"reason": "backup target predicted to cross its threshold in "
                                       "2.0 days", "pruned": ["photos.1", "photos.2"]})])
        predict_all(s, Settings(state_dir=tmp_path), NOW)
        yield s


@pytest.fixture
def report(store: Store, tmp_path: Path) -> Report:
    return build_report(store, Settings(state_dir=tmp_path), NOW)


def test_health_over_the_week_and_what_lowered_it(report: Report) -> None:
    nas, pi = report.hosts
    assert (nas.host, nas.score_now, nas.score_min, nas.observations) == ("nas", 100, 85, 168)
    assert nas.score_avg == round((165 * 100 + 3 * 85) / 168, 1)
    assert len(nas.scores) == 168 and min(v for _, v in nas.scores) == 85
    [why] = nas.lowered_by
    assert (why.code, why.subject, why.observations, why.worst_penalty) == (
        "container_down", "web", 3, 15)
    assert (pi.score_now, pi.unreachable) == (0, 1)


def test_predictions_are_the_cached_ones_with_their_history(report: Report, store) -> None:
    [srv] = [d for d in report.disks if d.prediction.mountpoint == "/srv"]
    cached = json.loads(json.dumps(store.cache_get("prediction:disk:nas:/srv", NOW)))
    assert srv.prediction.model_dump() == cached
    assert srv.prediction.status == "fills" and 30 < srv.prediction.days_until_threshold < 50
    # only bytes were recorded: the chart's used % comes from used / size (500 GiB of 1000)
    assert len(srv.used_pct) >= 168 and srv.used_pct[-1][1] == pytest.approx(50, abs=0.5)
    assert [m.prediction.container for m in report.leaks] == ["leaky"]
    assert report.leaks[0].mem_mb[-1][1] == pytest.approx(400, abs=5)


def test_what_the_cycle_did(report: Report) -> None:
    a = report.activity
    assert [d.subject for d in a.decisions] == ["cache", "traefik", "db", "worker", "web"]
    assert a.by_verdict == {"alerted": 1, "executed": 2, "notified": 1, "queued": 1}
    assert a.by_outcome == {"failed": 1, "success": 2}
    web = a.decisions[-1]
    assert web.snapshot == ["photos.20261111T1200_pre-action"]
    assert web.verified == ["web is running"] and web.outcome_reason == "restart success"
    assert len(a.per_day) == 8 and sum(sum(d.by_outcome.values()) for d in a.per_day) == 3
    assert (a.breaker_trips, a.pending_approvals, a.log_ok) == (1, 1, True)
    assert a.halted == "paused" and [c.action for c in a.controls] == ["breaker", "pause"]
    [drift] = report.drift
    assert (drift.service, drift.action, drift.repaired) == ("db", "redeploy", True)


def test_backups_and_what_to_look_at_first(report: Report) -> None:
    b = report.backups
    assert [(v.subvolume, v.stale) for v in b.volumes] == [("data/db", True),
                                                           ("data/photos", False)]
    assert [(t.subvolume, t.ok, t.error) for t in b.restore_tests] == [
        ("data/photos", False, "checksum differs: a.jpg")]
    [early] = b.early_rotations
    assert early.subject == "data/photos" and early.pruned == ["photos.1", "photos.2"]
    severities = [x.severity for x in report.attention]
    assert severities == sorted(severities, key=["critical", "warning", "info"].index)
    text = "\n".join(x.message for x in report.attention)
    for expected in ("the cycle is paused", "restart of worker on nas failed", "restore test of "
                     "data/photos", "backup of data/db", "1 action(s) wait for approval",
                     "traefik is protected", "leaky on nas: leaks 5.0 MB/h", "pi scores 0"):
        assert expected in text, expected
    assert report.top_users[0].container == "leaky"


def test_the_json_is_the_model(report: Report) -> None:
    assert Report.model_validate_json(render.to_json(report)) == report


def _cells(report: Report) -> list[str]:
    return [c for s in render.sections(report, charts=False) for t in s.tables
            for row in t.rows for c in row]


def test_markdown_and_html_show_the_same_tables(report: Report) -> None:
    md, page = render.to_markdown(report), render.to_html(report)
    cells = _cells(report)
    assert "crosses 90% in" in " ".join(cells)
    for cell in cells:
        assert html.escape(cell, quote=False).replace("|", "\\|") in md, cell
        assert f"<td>{escape(cell)}</td>" in page, cell
    for a in report.attention:
        assert html.escape(a.message, quote=False) in md and escape(a.message) in page


def test_the_html_is_one_offline_file_with_its_charts(report: Report) -> None:
    page = render.to_html(report)
    ids = re.findall(r'<g id="(chart-[^"]+)"', page)
    assert ids == ["chart-health", "chart-disk-nas-/srv", "chart-leak-nas-leaky",
                   "chart-actions"]
    for gid in ("forecast-band", "forecast", "threshold", "memory", "limit", "health-nas",
                "actions-success", "actions-failed"):
        assert f'id="{gid}"' in page, gid
    assert "<script" not in page and "<link" not in page and "@import" not in page
    refs = re.findall(r'(?:href|src)="([^"]*)"', page) + re.findall(r"url\(([^)]*)\)", page)
    assert refs and all(r.startswith("#") for r in refs), refs


def test_text_from_the_log_is_escaped(store: Store, tmp_path: Path) -> None:
    _decide(store, NOW - 60, "alerted", "x", "drift", "none", reason="<img src=x> | a")
    r = build_report(store, Settings(state_dir=tmp_path), NOW)
    assert "<img src=x>" not in render.to_html(r)
    assert "&lt;img src=x&gt; \\| a" in render.to_markdown(r)


def test_publish_writes_the_dated_set_atomically(report: Report, tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, report_dir=tmp_path / "reports")
    out = publish.publish(report, settings)
    day = datetime.fromtimestamp(NOW).strftime("%Y-%m-%d")
    assert [p.name for p in out.files] == [f"report-{day}.{x}" for x in ("html", "md", "json")]
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == sorted(
        p.name for p in out.files)  # no temporary file left behind
    assert Report.model_validate_json(out.files[2].read_text()) == report
    assert out.notified is None  # no notifier set
    assert "nas: health 100 now, lowest 85" in out.summary
    assert "actions run: 3 (1 failed, 2 success)" in out.summary
    assert publish.level(report) == "failure"


def test_publish_sends_the_summary_to_the_notifier(report: Report, tmp_path: Path) -> None:
    from tests.lab.test_cycle_lab import Receiver

    receiver = Receiver()
    try:
        settings = Settings.model_validate({"state_dir": tmp_path,
                                            "notifications": {"urls": [receiver.url]}})
        out = publish.publish(report, settings)
    finally:
        receiver.server.shutdown()
    assert out.notified["deliveries"][0]["sent"]
    [msg] = receiver.got
    assert msg["title"] == "homelab-ops weekly report" and msg["type"] == "failure"
    assert "report: " in msg["message"] and str(out.files[0]) in msg["message"]


def test_the_cli(store: Store, tmp_path: Path) -> None:
    store.close()
    state = ["--state-dir", str(tmp_path)]
    data = json.loads(run_cli(*state, "report", "--since", "30d", "--json").stdout)
    assert data["until"] - data["since"] == 30 * DAY
    md, page = tmp_path / "r.md", tmp_path / "r.html"
    out = run_cli(*state, "report", "--md", str(md), "--html", str(page)).stdout
    assert out.splitlines() == [f"wrote {page}", f"wrote {md}"]
    assert md.read_text().startswith("# homelab-ops weekly report")
    assert "<svg" in page.read_text()
    bad = run_cli(*state, "report", "--since", "soon", check=False)
    assert bad.returncode == 2 and "--since" in bad.stderr
    gone = run_cli(*state, "report", "--md", str(tmp_path / "r2.md"), "--html",
                   str(tmp_path / "no" / "r.html"), check=False)
    assert gone.returncode == 1 and gone.stderr.strip().endswith("no: no such directory")
    assert not (tmp_path / "r2.md").exists()


def test_an_empty_store_gives_an_empty_report(tmp_path: Path) -> None:
    with Store.open(tmp_path) as s:
        r = build_report(s, Settings(state_dir=tmp_path), NOW)
    assert r.hosts == [] and r.attention == [] and r.activity.decisions == []
    assert "Nothing needs a person this week." in render.to_markdown(r)
    assert 'id="chart-actions"' in render.to_html(r)


def test_the_same_model_renders_the_same_bytes(report: Report) -> None:
    """Charts carry fixed ids and no date, so a report can be diffed and cached."""
    assert render.to_html(report) == render.to_html(Report.model_validate_json(
        render.to_json(report)))
