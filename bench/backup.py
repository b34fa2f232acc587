"""bench/backup: the backup component against baselines measured in the same run.

1. Retention planning for 10,000 snapshots (hourly for ~14 months, "24h 14d 8w 6m *y",
   min_keep 2d): wall time, as a ratio to only parsing and sorting the same names (the
   least any planner must do) and to planning 1,000 (linear scaling reads ~10).
2. Incremental send of a 1 % change on a subvolume of 256 MiB (random data, changed in
   place in 64 KiB blocks): bytes in the incremental stream versus a full send, and the
   wall time of homelab-ops' send operation (pyinfra API: connect, facts on both sides,
   parent choice, send | receive, verify) as a ratio to a raw
   ``btrfs send -p PARENT SNAP | btrfs receive DIR`` of the same snapshots, alternating
   which goes first, over several rounds.

Builds its own lab in a temporary state directory and removes it afterwards.

    .venv/bin/python -m bench.backup [--size-mib 256] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from homelab_ops.collection.lib.naming import parse, snapshot_name
from homelab_ops.collection.lib.retention import deletions, plan
from homelab_ops.lab import Lab, lab_hosts
from homelab_ops.models.backup import RetentionPolicy
from homelab_ops.models.lab import LabSpec, PoolSpec

POLICY = RetentionPolicy(preserve="24h 14d 8w 6m *y", min_keep="2d")
NOW = datetime(2026, 11, 25, 14, 0)
BLOCK = 64 * 1024


def best_of(fn, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_planning() -> None:
    def names(n: int) -> list[str]:
        return [snapshot_name("photos", NOW - timedelta(hours=i)) for i in range(n)]

    big, small = names(10_000), names(1_000)
    protect = {big[500]}
    decisions = plan(big, POLICY, NOW, protect=protect)
    t_plan = best_of(lambda: plan(big, POLICY, NOW, protect=protect))
    t_small = best_of(lambda: plan(small, POLICY, NOW, protect=protect))
    t_parse = best_of(lambda: sorted(parse(n) for n in big))
    print("1. retention planning, 10,000 snapshots (hourly), policy "
          f"'{POLICY.preserve}' min_keep {POLICY.min_keep}")
    print(f"   plan: {t_plan * 1000:.1f} ms, keeps {len(big) - len(deletions(decisions))}, "
          f"deletes {len(deletions(decisions))}")
    print(f"   ratio to parse+sort only ({t_parse * 1000:.1f} ms): {t_plan / t_parse:.1f}x")
    print(f"   ratio to 1,000 snapshots ({t_small * 1000:.1f} ms): {t_plan / t_small:.1f}x "
          "(10x = linear)")


def stream_bytes(*send_args: str) -> int:
    """Size of a ``btrfs send`` stream (read and dropped)."""
    total = 0
    with subprocess.Popen(["btrfs", "send", "-q", *send_args], stdout=subprocess.PIPE) as p:
        assert p.stdout is not None
        while chunk := p.stdout.read(1 << 20):
            total += len(chunk)
    assert p.returncode == 0
    return total


def raw_send(parent: Path, snap: Path, into: Path) -> float:
    start = time.perf_counter()
    send = subprocess.Popen(["btrfs", "send", "-q", "-p", str(parent), str(snap)],
                            stdout=subprocess.PIPE)
    assert send.stdout is not None
    subprocess.run(["btrfs", "receive", str(into)], stdin=send.stdout, check=True,
                   capture_output=True)
    send.stdout.close()
    assert send.wait() == 0
    return time.perf_counter() - start


def our_send(hosts, snapshots: Path, base: str, into: Path) -> float:
    from pyinfra.api.operation import add_op
    from pyinfra.api.operations import run_ops

    from homelab_ops.collection.lib.place import Place
    from homelab_ops.collection.operations import btrfs
    from homelab_ops.collection.session import pyinfra_session
    from homelab_ops.inventory import inventory_from_entries

    start = time.perf_counter()
    with pyinfra_session(inventory_from_entries(hosts, "bench")) as session:
        add_op(session.state, btrfs.send, source=Place(str(snapshots)), base=base,
               target=Place(str(into)))
        run_ops(session.state)
        assert not session.state.failed_hosts
    return time.perf_counter() - start


def take_snapshot(source: Path, snapshots: Path, name: str) -> Path:
    snapshots.mkdir(exist_ok=True)
    subprocess.run(["btrfs", "filesystem", "sync", str(source)], check=True,
                   capture_output=True)
    subprocess.run(["btrfs", "subvolume", "snapshot", "-r", str(source),
                    str(snapshots / name)], check=True, capture_output=True)
    return snapshots / name


def change_one_percent(source: Path, size: int, rng: random.Random) -> int:
    files = sorted(source.iterdir())
    changed = 0
    while changed < size // 100:
        path = rng.choice(files)
        with path.open("r+b") as fh:
            fh.seek(rng.randrange(0, path.stat().st_size - BLOCK, BLOCK))
            fh.write(os.urandom(BLOCK))
        changed += BLOCK
    return changed


def bench_send(lab: Lab, size_mib: int, rounds: int) -> None:
    data, backup = lab.paths.pool_mount("data"), lab.paths.pool_mount("backup")
    source, snapshots = data / "bench", data / ".snapshots"
    ours, raw = backup / "ours", backup / "raw"
    ours.mkdir()
    raw.mkdir()
    for i in range(size_mib // 4):
        (source / f"blob{i:03}.bin").write_bytes(os.urandom(4 << 20))
    size = size_mib << 20
    hosts = [h for h in lab_hosts(lab.paths.root) if h[0] == "@local"]
    rng = random.Random(6)
    when = NOW
    prev = take_snapshot(source, snapshots, snapshot_name("bench", when))
    full_time = our_send(hosts, snapshots, "bench", ours)
    subprocess.run(f"btrfs send -q {prev} | btrfs receive {raw}", shell=True, check=True,
                   capture_output=True)  # constant paths of our own lab: no user data
    ratios, raw_times, our_times = [], [], []
    for r in range(rounds):
        changed = change_one_percent(source, size, rng)
        when += timedelta(days=1)
        snap = take_snapshot(source, snapshots, snapshot_name("bench", when))
        if r % 2:
            t_ours = our_send(hosts, snapshots, "bench", ours)
            t_raw = raw_send(prev, snap, raw)
        else:
            t_raw = raw_send(prev, snap, raw)
            t_ours = our_send(hosts, snapshots, "bench", ours)
        ratios.append(t_ours / t_raw)
        raw_times.append(t_raw)
        our_times.append(t_ours)
        last_prev, prev = prev, snap
    full = stream_bytes(str(prev))
    incremental = stream_bytes("-p", str(last_prev), str(prev))
    print(f"2. incremental send of a 1 % change ({changed / 2**20:.2f} MiB rewritten) on a "
          f"{size_mib} MiB subvolume, {rounds} rounds")
    print(f"   bytes: incremental {incremental / 2**20:.2f} MiB vs full "
          f"{full / 2**20:.1f} MiB -> ratio {incremental / full:.4f} "
          f"({full / incremental:.0f}x fewer bytes)")
    print(f"   first (full) send through homelab-ops: {full_time:.2f} s")
    print(f"   wall time: homelab-ops send op median {statistics.median(our_times):.3f} s, "
          f"raw btrfs send -p | btrfs receive median {statistics.median(raw_times):.3f} s")
    print(f"   ratio homelab-ops / raw: median {statistics.median(ratios):.2f}x "
          f"(rounds: {', '.join(f'{x:.2f}' for x in ratios)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    bench_planning()
    pool_mib = max(1024, 3 * args.size_mib)
    spec = LabSpec(pools=(PoolSpec(name="data", size_mib=pool_mib, subvolumes=("bench",)),
                          PoolSpec(name="backup", size_mib=pool_mib)))
    with tempfile.TemporaryDirectory(prefix="bench-backup-") as tmp:
        lab = Lab(Path(tmp) / "lab", spec)
        try:
            lab.up()
            bench_send(lab, args.size_mib, args.rounds)
        finally:
            lab.down()


if __name__ == "__main__":
    main()
