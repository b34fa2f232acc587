"""The state store: migrations, series with downsampling, events, cache, concurrency."""

from __future__ import annotations

import itertools
import sqlite3
import threading
from pathlib import Path

import pytest

from homelab_ops.models.event import Event
from homelab_ops.store import (
    HOURLY_KEEP,
    MIGRATIONS,
    RAW_KEEP,
    SeriesKey,
    Store,
    StoreError,
)

DAY = 86400.0
KEY = SeriesKey("nas", "filesystem", "/srv", "used_bytes")


@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / "state.db") as s:
        yield s


def test_fresh_store_is_at_latest_schema_in_wal_mode(store: Store) -> None:
    assert store.schema_version == len(MIGRATIONS)
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_reopening_does_not_migrate_again(tmp_path: Path) -> None:
    Store(tmp_path / "s.db").close()
    with Store(tmp_path / "s.db") as again:
        assert again.schema_version == len(MIGRATIONS)


def test_store_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "s.db")
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.close()
    with pytest.raises(StoreError, match="newer homelab-ops"):
        Store(tmp_path / "s.db")


def test_downsampling_keeps_shape_and_shrinks_history(store: Store) -> None:
    now = 200 * DAY
    points = [(t, t / 3600.0) for t in range(0, int(now), 300)]  # value = hours, linear
    with store.transaction():
        store.add_points(KEY, points)
    moved = store.downsample(now)
    assert moved["raw_to_hourly"] > 0 and moved["hourly_to_daily"] > 0
    series = store.read_series(KEY)
    ts = [t for t, _ in series]
    assert ts == sorted(ts) and len(set(ts)) == len(ts)
    # resolution by age: raw in the last 14 days, hourly to 90 days, daily beyond
    raw = [t for t in ts if t >= now - RAW_KEEP]
    assert len(raw) == pytest.approx(RAW_KEEP / 300, abs=13)
    old = [t for t in ts if t < now - HOURLY_KEEP - DAY]
    assert all(b - a == DAY for a, b in itertools.pairwise(old))
    expected = RAW_KEEP / 300 + (HOURLY_KEEP - RAW_KEEP) / 3600 + (now - HOURLY_KEEP) / DAY
    assert len(series) == pytest.approx(expected, abs=30)
    # averages of a linear series sit at the middle of their bucket
    day0 = next(v for t, v in series if t == 0.0)
    assert day0 == pytest.approx((DAY - 300) / 2 / 3600, rel=1e-9)
    # idempotent: nothing more to roll
    assert store.downsample(now) == {"raw_to_hourly": 0, "hourly_to_daily": 0,
                                     "observations_pruned": 0}


def test_late_sample_merges_into_rolled_bucket(store: Store) -> None:
    store.add_points(KEY, [(0.0, 10.0), (600.0, 20.0)])
    store.downsample(RAW_KEEP + 2 * 3600)
    store.add_points(KEY, [(1200.0, 30.0)])  # arrives after its hour was rolled
    store.downsample(RAW_KEEP + 2 * 3600)
    row = store.db.execute("SELECT avg, min, max, n FROM rollups").fetchall()
    assert row == [(20.0, 10.0, 30.0, 3)]


def test_observations_pruned_but_latest_kept(store: Store) -> None:
    store.add_observation("nas", 0.0, True, {"n": 1})
    store.add_observation("nas", 10.0, True, {"n": 2})
    store.add_observation("pi", 5.0, False, {"n": 3})
    store.downsample(100 * DAY)
    assert store.latest_observations() == {"nas": {"n": 2}, "pi": {"n": 3}}
    assert store.db.execute("SELECT COUNT(*) FROM observations").fetchone()[0] == 2


def test_previous_observation_can_skip_unreachable(store: Store) -> None:
    store.add_observation("nas", 1.0, True, {"n": 1})
    store.add_observation("nas", 2.0, False, {"n": 2})
    assert store.previous_observation("nas", 3.0) == {"n": 1}
    assert store.previous_observation("nas", 3.0, reachable_only=False) == {"n": 2}


def test_events_filter_and_order(store: Store) -> None:
    store.add_events([
        Event(host="nas", ts=1.0, subject="jellyfin", kind="started", detail={}),
        Event(host="nas", ts=3.0, subject="jellyfin", kind="restarted",
              detail={"restart_count": 1}),
        Event(host="nas", ts=2.0, subject="immich", kind="stopped", detail={}),
    ])
    got = store.events(subject="jellyfin", kinds=["restarted", "started"])
    assert [(e.ts, e.kind) for e in got] == [(3.0, "restarted"), (1.0, "started")]
    assert got[0].detail == {"restart_count": 1}
    assert [e.subject for e in store.events(since=2.0)] == ["jellyfin", "immich"]


def test_cache_ttl_and_scoped_invalidation(store: Store) -> None:
    store.cache_put("a", {"x": 1}, ttl=10, scope="query", now=100.0)
    store.cache_put("b", [1, 2], ttl=10, scope="predictions", now=100.0)
    assert store.cache_get("a", now=105.0) == {"x": 1}
    assert store.cache_get("a", now=111.0) is None
    store.cache_invalidate("query")
    assert store.cache_get("a", now=101.0) is None
    assert store.cache_get("b", now=101.0) == [1, 2]


def test_failed_transaction_leaves_nothing(store: Store) -> None:
    with pytest.raises(ZeroDivisionError), store.transaction():
        store.add_observation("nas", 1.0, True, {})
        store.add_samples(1.0, [(KEY, 5.0)])
        1 / 0  # noqa: B018
    assert store.latest_observations() == {}
    assert store.read_series(KEY) == []
    store.add_samples(2.0, [(KEY, 6.0)])  # the series id cache was reset with the rollback
    assert store.read_series(KEY) == [(2.0, 6.0)]


def test_readers_work_while_a_writer_holds_a_transaction(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with Store(path) as w:
        w.add_points(KEY, [(float(i), float(i)) for i in range(100)])
    in_tx, release = threading.Event(), threading.Event()

    def writer() -> None:
        with Store(path) as s, s.transaction():
            s.add_points(KEY, [(float(i), -1.0) for i in range(100, 200)])
            in_tx.set()
            release.wait(10)

    t = threading.Thread(target=writer)
    t.start()
    try:
        assert in_tx.wait(10)
        with Store(path) as reader:  # WAL: not blocked, sees the last committed state
            assert len(reader.read_series(KEY)) == 100
    finally:
        release.set()
        t.join()
    with Store(path) as reader:
        assert len(reader.read_series(KEY)) == 200


def test_store_is_private(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with Store(state / "state.db") as s:
        s.add_observation("nas", 1.0, True, {})
    assert state.stat().st_mode & 0o777 == 0o700
    for f in state.iterdir():
        assert f.stat().st_mode & 0o077 == 0, f"{f.name} is readable by others"
    loose = tmp_path / "old.db"
    Store(loose).close()
    loose.chmod(0o644)
    Store(loose).close()  # an older, looser store is tightened on open
    assert loose.stat().st_mode & 0o777 == 0o600


def test_processes_opening_a_new_store_at_once_all_succeed(tmp_path: Path) -> None:
    """The first cycles on a machine race to create the store: each waits, none
    re-runs a migration another one finished."""
    import subprocess
    import sys

    code = "import sys; from pathlib import Path; from homelab_ops.store import Store; " \
           "Store(Path(sys.argv[1])).close()"
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "s.db")],
                              stderr=subprocess.PIPE, text=True) for _ in range(6)]
    errors = [p.communicate()[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, errors
    with Store(tmp_path / "s.db") as store:
        assert store.schema_version == len(MIGRATIONS)


def test_event_log_until_is_read_from_the_newest_reachable_observation(tmp_path) -> None:
    with Store(tmp_path / "s.db") as store:
        assert store.event_log_until("vm") is None
        store.add_observation("vm", 1.0, True, {"event_log": {"until": 10.5, "events": []}})
        store.add_observation("vm", 2.0, False, {"event_log": None})
        assert store.event_log_until("vm") == 10.5
        store.add_observation("vm", 3.0, True, {"event_log": None})  # not a systemd host
        assert store.event_log_until("vm") is None
