"""The weekly report end to end on the lab's @local host: a stack deployed from its
patterns, a week of observations (the real one, shifted back in time with a growing
disk and an outage) written through observe's own recorder, predictions, a real
fault (the stack's database killed), a cycle that remediates it with a pre-action
snapshot and verification — and a report, built once by the CLI, whose HTML shows
exactly the tables its JSON holds."""

from __future__ import annotations

import html
import json
import os
import subprocess
import uuid
from datetime import timedelta

import pytest
from markupsafe import escape

from homelab_ops import health
from homelab_ops.inventory import inventory_from_entries
from homelab_ops.lab.podman import podman
from homelab_ops.models.report import Report
from homelab_ops.observe import observe, record
from homelab_ops.predict.run import predict_all
from homelab_ops.report import render
from homelab_ops.report.build import disk_eta
from homelab_ops.store import Store
from tests.lab import test_cycle_lab
from tests.lab.test_cycle_lab import MIB, Rig

pytestmark = pytest.mark.lab
rig = test_cycle_lab.rig  # the cycle tests' world: own subvolume, store, settings, notifier
HOURS = 7 * 24
OUTAGE = range(100, 104)  # hours back when the database was down in the simulated week
DAYS_TO_THRESHOLD = 15.0
LEAK_MB_PER_HOUR = 0.5  # a cache in the simulated week whose memory only grows


def _simulate_week(rig: Rig, db: str, leaky: str) -> tuple[str, float]:
    """The real observation of now, copied to every hour of the past week: the data
    pool used less the further back (reaching its threshold in about 15 days from
    now), the database down for four hours, and a container ``leaky`` (no memory
    limit, gone by now) growing by LEAK_MB_PER_HOUR. Returns the mount and its
    threshold."""
    inventory = inventory_from_entries(rig.entries, rig.inventory_file)
    settings = rig.settings()
    with Store.open(rig.state) as store:
        [now] = observe(inventory, store, settings)
    mnt = str(rig.data)
    [fs] = [f for f in now.filesystems if f.mountpoint == mnt]
    [running] = [c for c in now.containers if c.name == db]
    cache = running.model_copy(update={"name": leaky, "mem_limit_bytes": 0, "started_at":
                                       now.ts - timedelta(hours=HOURS + 24)})
    threshold = round(fs.used_pct + 3.0, 2)
    per_hour = (threshold - fs.used_pct) / 100 * (fs.used_bytes + fs.avail_bytes) \
        / (DAYS_TO_THRESHOLD * 24)
    week = []
    for back in range(HOURS, 0, -1):
        shift = int(per_hour * back)
        disks = [f.model_copy(update={"used_bytes": f.used_bytes - shift,
                                      "avail_bytes": f.avail_bytes + shift})
                 if f.mountpoint == mnt else f for f in now.filesystems]
        containers = [c.model_copy(update={"state": "exited", "exit_code": 137})
                      if c.name == db and back in OUTAGE else c for c in now.containers]
        containers.append(cache.model_copy(update={
            "mem_bytes": int((100 + LEAK_MB_PER_HOUR * (HOURS - back)) * 1e6)}))
        obs = now.model_copy(update={"ts": now.ts - timedelta(hours=back),
                                     "filesystems": disks, "containers": containers})
        week.append(obs.model_copy(update={"health": health.score(obs, settings.thresholds)}))
    rig.config.write_text(rig.config.read_text().replace(
        "[notifications]", f'[thresholds]\ndisk_crit_pct_by_mount = {{ "{mnt}" = '
                           f'{threshold} }}\n[notifications]'))
    with Store.open(rig.state) as store:
        record(store, week)
        predict_all(store, rig.settings())
    return mnt, threshold


def test_a_week_a_fault_a_remediation_and_the_report_shows_it(rig: Rig, monkeypatch) -> None:
    monkeypatch.setenv("REPORT_DB_PASSWORD", uuid.uuid4().hex)
    (rig.sub / "payload.bin").write_bytes(os.urandom(64 * MIB))  # a disk worth predicting
    subprocess.run(["btrfs", "filesystem", "sync", str(rig.data)], check=True)
    rig.cover("containers")  # podman's named volumes live there: the database's data
    name = f"rp{rig.tag}"
    stack = rig.tmp / "stack.yaml"
    stack.write_text(json.dumps({
        "name": name, "hosts": ["@local"], "secrets": {"pw": {"env": "REPORT_DB_PASSWORD"}},
        "services": {"db": {"pattern": "database", "params": {"password": "pw"}}}}))
    db = f"{name}-db"
    try:
        rig.cli("deploy", str(stack), "--force", "-i", str(rig.inventory_file))
        mnt, threshold = _simulate_week(rig, db, f"{name}-cache")
        rig.kill(db)  # the injected fault: a real kill of the deployed database
        cycle = rig.cycle()
        [a] = [a for a in cycle.actions if a.target == db]
        assert a.playbook == "restart" and a.outcome == "success" and a.snapshot, a
        assert rig.state_of(db) == "running"

        page, md = rig.tmp / "report.html", rig.tmp / "report.md"
        out = rig.cli("report", "--html", str(page), "--md", str(md), "--json").stdout
        report = Report.model_validate_json(out)
        _shows_it_all(report, db, mnt, threshold, a.snapshot, f"{name}-cache")
        _html_agrees_with_json(report, page.read_text(), md.read_text(), mnt,
                               f"{name}-cache")
        # what the weekly timer runs: the dated set in report_dir, a summary to the notifier
        lines = rig.cli("report", "--publish").stdout.splitlines()
        assert [ln.rsplit(".", 1)[-1] for ln in lines[:3]] == ["html", "md", "json"]
        assert lines[3].startswith("notified json://127.0.0.1")
        [summary] = [m for m in rig.receiver.got if m["title"] == "homelab-ops weekly report"]
        assert "@local: health 100 now" in summary["message"]
    finally:
        podman(rig.lab.paths, "rm", "--force", "--time", "0", db, check=False)
        podman(rig.lab.paths, "volume", "rm", "--force", f"{db}-data", check=False)


def _shows_it_all(report: Report, db: str, mnt: str, threshold: float,
                  snapshot: str, leaky: str) -> None:
    [host] = report.hosts
    assert host.host == "@local" and host.observations >= HOURS + 2
    assert host.score_min is not None and host.score_min < 100 and host.score_now == 100
    outage = [x for x in host.lowered_by if x.code == "container_down" and x.subject == db]
    assert outage and outage[0].observations >= len(OUTAGE)
    [disk] = [d for d in report.disks if d.prediction.mountpoint == mnt]
    assert disk.prediction.status == "fills" and disk.prediction.threshold_pct == threshold
    assert 5 < disk.prediction.days_until_threshold < 45, disk.prediction
    assert len(disk.used_pct) >= HOURS
    [leak] = [m for m in report.leaks if m.prediction.container == leaky]
    assert abs(leak.prediction.mb_per_hour - LEAK_MB_PER_HOUR) < 0.05, leak.prediction
    assert len(leak.mem_mb) >= HOURS - 24  # its memory, hour by hour, for the chart
    about = [d for d in report.activity.decisions if d.subject == db]
    acted = [d for d in about if d.action == "restart" and d.outcome is not None]
    assert len(acted) == 1, [(d.verdict, d.action, d.outcome) for d in about]
    [d] = acted
    assert (d.finding, d.action, d.outcome) == ("container_down", "restart", "success")
    assert d.verdict in ("executed", "notified") and ", ".join(d.snapshot) == snapshot
    assert d.verified and all("FAIL" not in c for c in d.verified)
    assert report.activity.log_ok and report.activity.by_outcome.get("success", 0) >= 1
    assert sum(day.by_outcome.get("success", 0) for day in report.activity.per_day) >= 1
    assert not [x for x in report.attention if x.severity == "critical"], report.attention


def _html_agrees_with_json(report: Report, page: str, md: str, mnt: str,
                           leaky: str) -> None:
    """Every table cell the JSON gives rise to is in the HTML (and the Markdown), and
    the charts are drawn for what the JSON holds."""
    cells = [c for s in render.sections(report, charts=False) for t in s.tables
             for row in t.rows for c in row]
    [disk] = [d.prediction for d in report.disks if d.prediction.mountpoint == mnt]
    assert disk_eta(disk) in cells and str(report.activity.decisions[0].id) in cells
    for cell in cells:
        assert f"<td>{escape(cell)}</td>" in page, cell
        assert html.escape(cell, quote=False).replace("|", "\\|") in md, cell
    for gid in ("chart-health", f"chart-disk-@local-{mnt}", f"chart-leak-@local-{leaky}",
                "chart-actions",
                "forecast-band", "threshold", "health-@local", "actions-success"):
        assert f'id="{gid}"' in page, gid
