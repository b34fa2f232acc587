"""The store-backed layer: predictions read history, land in the cache with a TTL
(under the keys backup rotation reads), come back from it, and reach the CLI."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from homelab_ops.models.event import Event
from homelab_ops.models.prediction import CapacityRequirements
from homelab_ops.models.settings import Settings, Thresholds
from homelab_ops.predict.run import (
    cached_predictions,
    capacity_check_for,
    disk_key,
    leak_key,
    predict_all,
)
from homelab_ops.store import SeriesKey, Store
from tests.conftest import run_cli

DAY = 86400.0
HOUR = 3600.0
GIB = 2.0**30
MB = 1e6
NOW = 1_790_000_000.0


def fill(store: Store, now: float, host: str = "nas") -> None:
    """A 1000 GiB /srv filling 10 GiB/day from 300 GiB over 20 days (500 GiB now),
    a container leaking 5 MB/h since a restart 40 h ago (limit 1 GB), a steady one,
    and host memory."""
    fs = SeriesKey(host, "filesystem", "/srv", "used_bytes")
    ts = [now - 20 * DAY + i * 1800 for i in range(int(20 * DAY / 1800) + 1)]
    store.add_points(fs, [(t, 300 * GIB + 10 * GIB * (t - ts[0]) / DAY) for t in ts])
    store.add_points(SeriesKey(host, "filesystem", "/srv", "size_bytes"),
                     [(ts[0], 1000 * GIB), (now, 1000 * GIB)])
    restart = now - 40 * HOUR
    for name, rate in (("leaky", 5.0), ("steady", 0.0)):
        key = SeriesKey(host, "container", name, "mem_bytes")
        # before the restart it climbed fast; that must not count
        store.add_points(key, [(t, (900 - 30 * (restart - t) / HOUR) * MB)
                               for t in ts if restart - 10 * HOUR <= t < restart])
        store.add_points(key, [(t, (200 + rate * (t - restart) / HOUR) * MB)
                               for t in range(int(restart), int(now) + 1, 300)])
        store.add_points(SeriesKey(host, "container", name, "mem_limit_bytes"),
                         [(now, 1000 * MB)])
        store.add_points(SeriesKey(host, "container", name, "started_at"),
                         [(now - 5, restart)])
    store.add_points(SeriesKey(host, "host", "", "mem_total_bytes"), [(now, 8000 * MB)])
    store.add_points(SeriesKey(host, "host", "", "mem_used_bytes"),
                     [(t, 4000 * MB) for t in ts[-200:]])


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(tmp_path) as s:
        fill(s, NOW)
        yield s


def test_predict_all_caches_disk_predictions_under_the_backup_key(store: Store) -> None:
    report = predict_all(store, Settings(), NOW, ttl=600)
    (disk,) = report.disks
    assert disk.status == "fills" and disk.days_until_threshold == pytest.approx(40, rel=0.02)
    cached = store.cache_get(disk_key("nas", "/srv"), NOW + 599)
    assert {"days_until_threshold", "low", "high", "basis"} <= cached.keys()
    assert cached["days_until_threshold"] == pytest.approx(disk.days_until_threshold)
    assert cached["basis"].startswith("based on 20.0 days")
    assert store.cache_get(disk_key("nas", "/srv"), NOW + 601) is None
    scopes = {r[0] for r in store.db.execute("SELECT scope FROM cache")}
    assert scopes == {"predictions"}


def test_threshold_comes_from_settings_and_per_mount_overrides(store: Store) -> None:
    strict = Settings(thresholds=Thresholds(disk_warn_pct=50, disk_crit_pct=60))
    (disk,) = predict_all(store, strict, NOW).disks
    assert disk.days_until_threshold == pytest.approx(10, rel=0.02)
    (disk,) = predict_all(store, strict, NOW, thresholds={"/srv": 80.0}).disks
    assert disk.days_until_threshold == pytest.approx(30, rel=0.02)


def test_leaks_are_measured_from_the_restart(store: Store) -> None:
    report = predict_all(store, Settings(), NOW)
    leaks = {m.container: m for m in report.leaks}
    assert leaks["leaky"].leak and leaks["leaky"].mb_per_hour == pytest.approx(5, rel=0.05)
    assert leaks["leaky"].since == NOW - 40 * HOUR
    assert leaks["leaky"].hours_until_limit == pytest.approx((1000 - 400) / 5, rel=0.05)
    assert not leaks["steady"].leak
    assert store.cache_get(leak_key("nas", "leaky"), NOW)["leak"] is True


def test_a_restart_event_moves_the_window(store: Store) -> None:
    store.add_events([Event(host="nas", ts=NOW - 20 * HOUR, subject="leaky", kind="restarted",
                            detail={})])
    leaky = next(m for m in predict_all(store, Settings(), NOW).leaks
                 if m.container == "leaky")
    assert leaky.since == NOW - 20 * HOUR and leaky.span_hours == pytest.approx(20, abs=0.1)


def test_cached_report_is_served_until_it_expires(store: Store) -> None:
    first, cached = cached_predictions(store, Settings(), NOW, ttl=600)
    assert not cached
    store.add_points(SeriesKey("nas", "filesystem", "/srv", "used_bytes"),
                     [(NOW + 10, 950 * GIB)])
    again, cached = cached_predictions(store, Settings(), NOW + 10, ttl=600)
    assert cached and again == first
    later, cached = cached_predictions(store, Settings(), NOW + 700, ttl=600)
    assert not cached and later.generated_at == NOW + 700


def test_capacity_check_uses_forecasts(store: Store) -> None:
    small = CapacityRequirements(host="nas", memory_bytes=1000 * MB,
                                 disk_bytes={"/srv": 100 * GIB}, horizon_days=7)
    report = capacity_check_for(store, Settings(), small, NOW)
    assert report.fits, report
    # 400 GiB free below 90 % now, but 70 GiB more arrive in a week
    big = small.model_copy(update={"disk_bytes": {"/srv": 350 * GIB}})
    report = capacity_check_for(store, Settings(), big, NOW)
    assert not report.fits
    (disk,) = [i for i in report.items if i.resource == "disk /srv"]
    assert disk.free_now_bytes == pytest.approx(400 * GIB, rel=0.01)
    assert disk.free_at_horizon_bytes == pytest.approx(330 * GIB, rel=0.02)
    unknown = small.model_copy(update={"disk_bytes": {"/nope": 1.0}})
    assert not capacity_check_for(store, Settings(), unknown, NOW).fits


def test_cli_predict_json_and_table(tmp_path: Path) -> None:
    with Store.open(tmp_path) as s:
        fill(s, time.time())
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOMELAB_OPS_")}
    env["HOME"] = str(tmp_path)
    proc = run_cli("--state-dir", str(tmp_path), "predict", "--json", env=env)
    data = json.loads(proc.stdout)
    assert data["cached"] is False
    (disk,) = data["disks"]
    assert disk["mountpoint"] == "/srv" and disk["days_until_threshold"] == pytest.approx(
        40, rel=0.02)
    assert [m["container"] for m in data["leaks"] if m["leak"]] == ["leaky"]
    table = run_cli("--state-dir", str(tmp_path), "predict", env=env).stdout
    assert "(cached)" in table and "/srv" in table and "leaky" in table
    cap = run_cli("--state-dir", str(tmp_path), "predict", "capacity", "--host", "nas",
                  "--disk", "/srv=5000", "--json", env=env, check=False)
    assert cap.returncode == 1 and json.loads(cap.stdout)["fits"] is False
