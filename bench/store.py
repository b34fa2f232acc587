"""bench/store: a simulated year of 5-minute samples for 50 series.

homelab-ops' store (downsampling as history ages: raw 14 d, hourly 90 d, daily beyond)
against a baseline that keeps every raw sample in one indexed SQLite table, both fed
the same data in the same run. Prints ingest time, size on disk and the median time to
read the newest 30 days of one series, each with the ratio to the baseline.

    .venv/bin/python -m bench.store [--days 365] [--series 50]
"""

from __future__ import annotations

import argparse
import math
import sqlite3
import tempfile
import time
from pathlib import Path

from bench.timing import median_time
from homelab_ops.store import SeriesKey, Store

STEP = 300.0
READS = 15
DAY = 86400.0


def value(i: int, t: float) -> float:
    """A plausible metric: slow growth, a daily cycle and a per-series offset."""
    return 1e9 + i * 1e7 + t * 10 + 5e6 * math.sin(2 * math.pi * t / DAY)


def ingest_ours(path: Path, keys: list[SeriesKey], days: int) -> float:
    start = time.perf_counter()
    with Store(path) as store:
        for day in range(days):
            with store.transaction():
                for k in range(int(DAY / STEP)):
                    t = day * DAY + k * STEP
                    store.add_samples(t, [(key, value(i, t)) for i, key in enumerate(keys)])
            store.downsample(now=(day + 1) * DAY)  # what daily observing does as time passes
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return time.perf_counter() - start


def ingest_baseline(path: Path, n_series: int, days: int) -> float:
    start = time.perf_counter()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE samples (series INTEGER, ts REAL, value REAL)")
    db.execute("CREATE INDEX samples_series_ts ON samples(series, ts)")
    for day in range(days):
        db.execute("BEGIN")
        for k in range(int(DAY / STEP)):
            t = day * DAY + k * STEP
            db.executemany("INSERT INTO samples VALUES (?,?,?)",
                           [(i, t, value(i, t)) for i in range(n_series)])
        db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return time.perf_counter() - start


def size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def read_ours(path: Path, key: SeriesKey, now: float) -> tuple[float, int]:
    with Store(path) as store:
        t, points = median_time(lambda: store.read_series(key, since=now - 30 * DAY), READS)
    return t, len(points)


def read_baseline(path: Path, now: float) -> tuple[float, int]:
    db = sqlite3.connect(path)
    try:
        t, points = median_time(lambda: db.execute(
            "SELECT ts, value FROM samples WHERE series = 0 AND ts >= ? ORDER BY ts",
            (now - 30 * DAY,)).fetchall(), READS)
    finally:
        db.close()
    return t, len(points)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--series", type=int, default=50)
    args = ap.parse_args()
    keys = [SeriesKey("nas", "container", f"svc{i}", "mem_bytes") for i in range(args.series)]
    now = args.days * DAY
    samples = args.series * args.days * int(DAY / STEP)
    with tempfile.TemporaryDirectory() as tmp:
        ours, base = Path(tmp) / "ours.db", Path(tmp) / "base.db"
        t_ours = ingest_ours(ours, keys, args.days)
        t_base = ingest_baseline(base, args.series, args.days)
        r_ours, n_ours = read_ours(ours, keys[0], now)
        r_base, n_base = read_baseline(base, now)
        s_ours, s_base = size(ours), size(base)
    print(f"store bench: {args.days} days x {args.series} series = {samples:,} samples")
    print(f"{'':24}{'homelab-ops':>14}{'raw baseline':>14}{'ratio':>8}")
    print(f"{'ingest (s)':24}{t_ours:14.1f}{t_base:14.1f}{t_ours / t_base:8.2f}")
    print(f"{'size on disk (MiB)':24}{s_ours / 2**20:14.1f}{s_base / 2**20:14.1f}"
          f"{s_ours / s_base:8.3f}")
    print(f"{'read 30 days (ms)':24}{r_ours * 1e3:14.2f}{r_base * 1e3:14.2f}"
          f"{r_ours / r_base:8.2f}")
    print(f"{'points in 30 days':24}{n_ours:14,}{n_base:14,}")


if __name__ == "__main__":
    main()
