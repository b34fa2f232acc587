"""A real BTRFS lab pool filled in steps, observed at each step on a simulated clock
(six hours apart), gives through ``homelab-ops predict`` the days-to-full that the
fill rate implies; a cleanup then restarts the trend at the new rate."""

from __future__ import annotations

import json
import os
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from homelab_ops.inventory import inventory_from_entries
from homelab_ops.lab import lab_hosts
from homelab_ops.models.settings import Settings
from homelab_ops.observe import observe
from homelab_ops.store import Store
from tests.conftest import run_cli

pytestmark = pytest.mark.lab

MIB = 2**20
DAY = 86400.0
STEP = timedelta(hours=6)
STEPS = 12  # observations before the cleanup, and as many after it


def _predict(state: Path, env: dict[str, str], mnt: Path) -> dict:
    proc = run_cli("--state-dir", str(state), "predict", "--refresh", "--json", env=env)
    return next(d for d in json.loads(proc.stdout)["disks"]
                if d["host"] == "@local" and d["mountpoint"] == str(mnt))


def _usage(mnt: Path) -> tuple[int, int]:
    st = os.statvfs(mnt)
    return st.f_blocks * st.f_frsize, (st.f_blocks - st.f_bfree) * st.f_frsize


def test_filled_pool_predicts_days_to_full_through_the_cli(lab, lab_env, tmp_path) -> None:
    inv = inventory_from_entries(
        [e for e in lab_hosts(lab.paths.root) if e[0] == "@local"], "lab")
    mnt = lab.paths.pool_mount("data")
    keep, scratch = mnt / "media" / "predict-keep.bin", mnt / "photos" / "predict-scratch.bin"
    # the simulated clock: 2 * STEPS observations six hours apart, the last one now
    times = [datetime.now(UTC) - STEP * (2 * STEPS - 1 - k) for k in range(2 * STEPS)]

    def step(k: int, writes: dict[Path, int]) -> None:
        for path, mib in writes.items():
            with path.open("ab") as fh:
                fh.write(os.urandom(mib * MIB))
        subprocess.run(["btrfs", "filesystem", "sync", str(mnt)], check=True)
        with Store.open(tmp_path) as store:
            observe(inv, store, Settings(), now=times[k])

    try:
        for k in range(STEPS):  # 28 MiB every 6 h = 112 MiB/day
            step(k, {keep: 8, scratch: 20})
        size, used = _usage(mnt)
        disk = _predict(tmp_path, lab_env, mnt)
        # the prediction is for now, three simulated days after the last observation
        since_last = (time.time() - times[STEPS - 1].timestamp()) / DAY
        expected = (0.9 * size - used) / (112 * MIB) - since_last
        assert disk["status"] == "fills", disk
        assert disk["days_until_threshold"] == pytest.approx(expected, rel=0.1), disk
        assert disk["low"] <= disk["days_until_threshold"] <= (disk["high"] or 1e9)
        assert disk["span_days"] == pytest.approx(2.75, abs=0.01)
        assert disk["basis"].startswith("based on 2.") and "growth" in disk["basis"]

        scratch.unlink()  # the cleanup: 240 MiB go at once
        for k in range(STEPS, 2 * STEPS):  # then 40 MiB every 6 h = 160 MiB/day
            step(k, {keep: 40})
        size, used = _usage(mnt)
        disk = _predict(tmp_path, lab_env, mnt)
        assert disk["status"] == "fills", disk
        assert "since the cleanup on" in disk["basis"], disk["basis"]
        assert "earlier days" not in disk["basis"]  # 112 vs 160 MiB/day: not pooled
        assert disk["trend_start"] >= times[STEPS - 1].timestamp()
        expected = (0.9 * size - used) / (160 * MIB)
        assert disk["days_until_threshold"] == pytest.approx(expected, rel=0.1), disk
    finally:
        keep.unlink(missing_ok=True)
        scratch.unlink(missing_ok=True)
