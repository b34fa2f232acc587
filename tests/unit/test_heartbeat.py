"""The loop watches itself (issue 17 item 7): the last successful cycle in a real store,
`status` and the metrics showing it, and a missed heartbeat told once through a real
HTTP receiver on 127.0.0.1 by whichever command notices first, then "resolved" once
when cycles resume."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from homelab_ops.loop import heartbeat
from homelab_ops.models.decision import CycleReport
from homelab_ops.models.observation import HealthScore, Observation
from homelab_ops.models.settings import LoopSettings, Notifications, Settings
from homelab_ops.store import Store
from tests.conftest import run_cli
from tests.unit.test_loop_notices import Receiver

MIN = 60.0


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


def _settings(tmp_path: Path, receiver: Receiver) -> Settings:
    return Settings(state_dir=tmp_path, loop=LoopSettings(cycle_period_minutes=5),
                    notifications=Notifications(urls=(receiver.url,)))


def _ran(store: Store, ended: float, took: float = 12.0) -> CycleReport:
    report = CycleReport(cycle="c", started=ended - took, phases={"observe": took})
    heartbeat.record(store, report, ended)
    return report


def test_period_is_the_timers_unless_settings_say_otherwise(tmp_path: Path) -> None:
    assert heartbeat.period_s(Settings(state_dir=tmp_path)) == 86400
    assert heartbeat.period_s(Settings(state_dir=tmp_path,
                                       loop=LoopSettings(cycle_period_minutes=5))) == 300


def test_fresh_heartbeat_is_quiet(tmp_path: Path, receiver: Receiver) -> None:
    settings, now = _settings(tmp_path, receiver), 1_800_000_000.0
    with Store.open(tmp_path) as store:
        assert heartbeat.line(heartbeat.check(store, settings, now), now) == \
            "cycle: never run (every 5 min expected)"
        _ran(store, now - 3 * MIN)
        hb = heartbeat.check(store, settings, now)
        # two periods are not yet over at 9 min 59 s
        assert not heartbeat.check(store, settings, now + 7 * MIN - 1).missed
    assert (hb.missed, hb.last_ok, hb.duration_s, hb.outcome) == (False, now - 180, 12, "ok")
    assert heartbeat.line(hb, now) == "cycle: last ok 3 min ago (every 5 min, took 12 s)"
    assert receiver.got == []


def test_a_skipped_cycle_is_no_heartbeat(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        _ran(store, 1000.0)
        heartbeat.record(store, CycleReport(cycle="d", started=5000.0, skipped="busy"), 5001)
        assert heartbeat.state(store, Settings(state_dir=tmp_path), 6000).last_ok == 1000


def test_missed_is_told_once_then_resolved_once(tmp_path: Path, receiver: Receiver) -> None:
    settings, now = _settings(tmp_path, receiver), 1_800_000_000.0
    with Store.open(tmp_path) as store:
        _ran(store, now - 11 * MIN)
        hb = heartbeat.check(store, settings, now)
        assert hb.missed and hb.alerted == now
        assert heartbeat.line(hb, now).startswith(
            "cycle: MISSED — no cycle for 2 periods (last ok 11 min ago")
        for later in (1, 60, 3600):  # every later command: nothing more is sent
            assert heartbeat.check(store, settings, now + later).missed
        assert [m["title"] for m in receiver.got] == ["homelab-ops cycle MISSED"]
        assert receiver.got[0]["type"] == "failure"
        # the cycle runs again: one "resolved", and quiet after it
        heartbeat.beat(store, settings, CycleReport(cycle="e", started=now + 4000),
                       now + 4010)
        hb = heartbeat.check(store, settings, now + 4020)
        assert (hb.missed, hb.alerted, hb.last_ok) == (False, None, now + 4010)
    assert [m["title"] for m in receiver.got] == ["homelab-ops cycle MISSED",
                                                  "homelab-ops cycle resumed"]
    assert receiver.got[1]["message"].startswith("resolved: cycle: last ok 0 min ago")


def test_a_gap_nobody_noticed_is_one_message_from_the_next_cycle(
        tmp_path: Path, receiver: Receiver) -> None:
    settings, now = _settings(tmp_path, receiver), 1_800_000_000.0
    with Store.open(tmp_path) as store:
        _ran(store, now - 3 * 3600)
        heartbeat.beat(store, settings, CycleReport(cycle="f", started=now), now + 5)
        assert not heartbeat.check(store, settings, now + 10).missed
    [msg] = receiver.got
    assert msg["title"] == "homelab-ops cycle resumed after a gap"
    assert "(3 h, every 5 min expected)" in msg["message"]


def _metrics(tmp_path: Path, config: Path) -> dict[str, float]:
    text = run_cli("--state-dir", str(tmp_path), "--config", str(config), "metrics").stdout
    return {s.name: s.value for f in text_string_to_metric_families(text)
            for s in f.samples if s.name.startswith("homelab_ops_cycle")}


def test_status_and_metrics_show_it_and_alert_once(tmp_path: Path,
                                                   receiver: Receiver) -> None:
    config = tmp_path / "settings.toml"
    config.write_text(f'[loop]\ncycle_period_minutes = 5\n\n[notifications]\n'
                      f'urls = ["{receiver.url}"]\n')
    now = time.time()
    with Store.open(tmp_path) as store:
        obs = Observation(host="nas", ts=datetime.fromtimestamp(now, UTC), reachable=True,
                          health=HealthScore(score=100))
        store.add_observation("nas", now, True, obs.model_dump(mode="json"))
        _ran(store, now - 20 * MIN, took=30)
    args = ("--state-dir", str(tmp_path), "--config", str(config))
    first = run_cli(*args, "status").stdout
    assert "cycle: MISSED — no cycle for 2 periods (last ok 20 min ago" in first
    got = _metrics(tmp_path, config)
    assert got["homelab_ops_cycle_heartbeat_missed"] == 1
    assert got["homelab_ops_cycle_last_success_timestamp_seconds"] == pytest.approx(
        now - 20 * MIN)
    assert got["homelab_ops_cycle_last_duration_seconds"] == pytest.approx(30)
    assert got["homelab_ops_cycle_period_seconds"] == 300
    run_cli(*args, "status")
    assert [m["title"] for m in receiver.got] == ["homelab-ops cycle MISSED"]
    with Store.open(tmp_path) as store:  # a cycle ran again
        _ran(store, time.time() - 3 * MIN)
    assert "cycle: last ok 3 min ago (every 5 min, took 12 s)" in run_cli(*args,
                                                                        "status").stdout
    assert _metrics(tmp_path, config)["homelab_ops_cycle_heartbeat_missed"] == 0
    assert [m["title"] for m in receiver.got] == ["homelab-ops cycle MISSED",
                                                  "homelab-ops cycle resumed"]


def test_an_alert_nobody_received_is_tried_again(tmp_path: Path, receiver: Receiver) -> None:
    free = HTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    down = f"json://127.0.0.1:{free.server_address[1]}/"
    free.server_close()
    now = 1_800_000_000.0
    with Store.open(tmp_path) as store:
        _ran(store, now - 30 * MIN)
        dead = Settings(state_dir=tmp_path, loop=LoopSettings(cycle_period_minutes=5),
                        notifications=Notifications(urls=(down,)))
        assert heartbeat.check(store, dead, now).alerted is None
        hb = heartbeat.check(store, _settings(tmp_path, receiver), now + 60)
    assert hb.alerted == now + 60
    assert [m["title"] for m in receiver.got] == ["homelab-ops cycle MISSED"]
