"""The Prometheus textfile: written from a real store with known rows, parsed back with
prometheus-client's own parser, every value checked against what the store says."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from homelab_ops import metrics
from homelab_ops.loop import heartbeat
from homelab_ops.loop.log import append
from homelab_ops.models.decision import CycleReport, Decision
from homelab_ops.models.observation import HealthScore, Observation
from homelab_ops.models.settings import LoopSettings, Settings
from homelab_ops.predict.run import predict_all
from homelab_ops.store import Store
from tests.conftest import run_cli
from tests.unit.test_predict_run import DAY, HOUR, NOW, fill

SETTINGS = Settings(loop=LoopSettings(breaker_failures=1))


def _decide(store: Store, verdict: str, outcome: str | None = None, ts: float = NOW - HOUR,
            action: str = "restart") -> None:
    d = Decision(ts=ts, cycle="c1", host="nas", subject="web", action=action,
                 verdict=verdict, reason="test")
    rowid = append(store, d)
    if outcome is not None:
        append(store, d.model_copy(update={"ref": rowid, "outcome": outcome, "ts": ts + 1}))


def _observe(store: Store, host: str, reachable: bool, score: int) -> None:
    obs = Observation(host=host, ts=datetime.fromtimestamp(NOW - 60, UTC),
                      reachable=reachable, health=HealthScore(score=score))
    store.add_observation(host, NOW - 60, reachable, obs.model_dump(mode="json"))


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(tmp_path) as s:
        fill(s, NOW)  # /srv fills in ~40 days, "leaky" grows 5 MB/h, "steady" is flat
        _observe(s, "nas", True, 85)
        _observe(s, "pi", False, 0)
        _decide(s, "executed", "success", NOW - 3 * HOUR)
        _decide(s, "executed", "failed", NOW - 2 * HOUR)
        _decide(s, "notified", "success")
        _decide(s, "alerted")
        _decide(s, "queued")
        _decide(s, "executed")  # still running: no outcome yet
        append(s, Decision(ts=NOW - 30, cycle="", action="pause", verdict="control",
                           reason="maintenance"))
        s.record_backup("nas", "pool/photos", "backup", True, {"schedule": "daily"},
                        ts=NOW - 2 * HOUR)
        s.record_backup("nas", "pool/photos", "backup", False, {"schedule": "daily"},
                        ts=NOW - HOUR)
        s.record_backup("nas", "pool/db", "backup", True, {"schedule": "daily"},
                        ts=NOW - 3 * DAY)
        s.record_backup("nas", "pool/photos", "restore_test", False, ts=NOW - 20 * DAY)
        s.record_backup("nas", "pool/photos", "restore_test", True, ts=NOW - 5 * DAY)
        heartbeat.record(s, CycleReport(cycle="c1", started=NOW - 600,
                                        phases={"observe": 1.5, "act": 12.25}), NOW - 586)
        yield s


def _parse(path: Path) -> dict[tuple[str, tuple], float]:
    """(sample name, sorted labels) -> value, from the file as Prometheus reads it."""
    text = path.read_text()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def _write(store: Store, tmp_path: Path) -> dict[tuple[str, tuple], float]:
    path = tmp_path / "homelab_ops.prom"
    metrics.write_textfile(metrics.collect(store, SETTINGS, NOW), path)
    assert [p.name for p in tmp_path.glob("homelab_ops.prom*")] == ["homelab_ops.prom"]
    return _parse(path)


def _get(samples: dict, name: str, **labels: str) -> float:
    return samples[(f"homelab_ops_{name}", tuple(sorted(labels.items())))]


def test_health_and_predictions_match_the_store(store: Store, tmp_path: Path) -> None:
    got = _write(store, tmp_path)
    assert _get(got, "health_score", host="nas") == 85
    assert _get(got, "health_score", host="pi") == 0
    assert _get(got, "host_reachable", host="pi") == 0
    expected = predict_all(store, SETTINGS, NOW)
    (disk,) = expected.disks
    at = {"host": "nas", "mountpoint": "/srv"}
    assert _get(got, "filesystem_threshold_eta_seconds", **at) == pytest.approx(
        disk.days_until_threshold * DAY)
    assert 0 < _get(got, "filesystem_threshold_eta_low_seconds", **at) == pytest.approx(
        disk.low * DAY)
    assert _get(got, "filesystem_threshold_eta_high_seconds", **at) == pytest.approx(
        disk.high * DAY if disk.high is not None else math.inf)
    leaky = _get(got, "container_memory_growth_bytes_per_second", host="nas",
                 container="leaky")
    assert leaky == pytest.approx(5e6 / 3600, rel=0.05)
    assert _get(got, "container_memory_leak", host="nas", container="leaky") == 1
    assert _get(got, "container_memory_leak", host="nas", container="steady") == 0


def test_decisions_controls_backups_and_cycle(store: Store, tmp_path: Path) -> None:
    got = _write(store, tmp_path)
    assert _get(got, "decisions_total", verdict="executed") == 3
    assert _get(got, "decisions_total", verdict="notified") == 1
    assert _get(got, "decisions_total", verdict="queued") == 1
    assert _get(got, "decision_outcomes_total", verdict="executed", outcome="success") == 1
    assert _get(got, "decision_outcomes_total", verdict="executed", outcome="failed") == 1
    assert _get(got, "decision_outcomes_total", verdict="notified", outcome="success") == 1
    assert not any(n.endswith("_created") for n, _ in got)
    # paused by the control row; breaker_failures=1 and the last outcome a success
    assert _get(got, "loop_paused") == 1 and _get(got, "loop_stopped") == 0
    assert _get(got, "loop_consecutive_failures") == 0 and _get(got, "loop_breaker_open") == 0
    photos = {"host": "nas", "subvolume": "pool/photos"}
    assert _get(got, "backup_age_seconds", **photos) == 2 * HOUR  # the failed run is no good
    assert _get(got, "backup_last_success_timestamp_seconds", **photos) == NOW - 2 * HOUR
    assert _get(got, "backup_stale", **photos) == 0
    assert _get(got, "backup_stale", host="nas", subvolume="pool/db") == 1
    assert _get(got, "restore_test_age_seconds", **photos) == 5 * DAY
    assert _get(got, "restore_test_ok", **photos) == 1
    assert ("homelab_ops_restore_test_ok", (("host", "nas"), ("subvolume", "pool/db"))) \
        not in got
    assert _get(got, "cycle_phase_duration_seconds", phase="act") == 12.25
    assert _get(got, "cycle_last_start_timestamp_seconds") == NOW - 600
    assert _get(got, "cycle_last_success_timestamp_seconds") == NOW - 586
    assert _get(got, "cycle_last_duration_seconds") == 14
    assert _get(got, "cycle_period_seconds") == 86400
    assert _get(got, "cycle_heartbeat_missed") == 0


def test_breaker_opens_on_a_failed_last_action(store: Store, tmp_path: Path) -> None:
    _decide(store, "executed", "failed", NOW - 10)
    got = _write(store, tmp_path)
    assert _get(got, "loop_breaker_open") == 1 and _get(got, "loop_consecutive_failures") == 1


def test_a_skipped_cycle_keeps_the_last_timings(store: Store, tmp_path: Path) -> None:
    heartbeat.record(store, CycleReport(cycle="c2", started=NOW, skipped="busy",
                                        phases={}), NOW + 1)
    got = _write(store, tmp_path)
    assert _get(got, "cycle_phase_duration_seconds", phase="observe") == 1.5


def test_refresh_writes_the_settings_textfile(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "out.prom"
    metrics.refresh(store, Settings(metrics_textfile=path),
                    CycleReport(cycle="c3", started=NOW, phases={"decide": 0.5}))
    got = _parse(path)
    assert _get(got, "cycle_phase_duration_seconds", phase="decide") == 0.5
    assert ("homelab_ops_cycle_phase_duration_seconds", (("phase", "act"),)) not in got


def test_cli_writes_the_file_and_refuses_bad_paths(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "cli.prom"
    run_cli("--state-dir", str(tmp_path), "metrics", "--textfile", str(out))
    assert _get(_parse(out), "health_score", host="nas") == 85
    for bad, why in ((tmp_path / "cli.txt", "only *.prom files"),
                     (tmp_path / "nowhere" / "x.prom", "no such directory")):
        proc = run_cli("--state-dir", str(tmp_path), "metrics", "--textfile", str(bad),
                       check=False)
        assert proc.returncode != 0 and why in proc.stderr
        assert "Traceback" not in proc.stderr and not bad.exists()


def test_settings_name_the_field_of_a_bad_textfile(tmp_path: Path) -> None:
    config = tmp_path / "settings.toml"
    config.write_text('metrics_textfile = "/tmp/homelab.txt"\n')
    proc = run_cli("--config", str(config), "settings", check=False)
    assert proc.returncode == 2
    assert f"{config}: metrics_textfile: node_exporter's textfile collector" in proc.stderr
