"""`predict` read at 80 columns (issue 10, item 20): rows waiting for history are one
line per reason, long mountpoints are shortened from the middle, basis is a footnote."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from homelab_ops.models.observation import ContainerObs, FilesystemObs, Observation
from homelab_ops.observe import record
from homelab_ops.store import Store
from tests.conftest import run_cli
from tests.unit.test_fault_lines import _env

GIB = 2**30
LONG = "/srv/very/long/mountpoint/of/the/family/photo/archive"


def _observation(ts: datetime, used: int) -> Observation:
    cs = [ContainerObs(name=f"home-service-number-{i}", id=f"id{i}", image="img", state="running",
                       restart_count=0, started_at=ts - timedelta(hours=1), mem_bytes=2**26,
                       cpu_pct=1.0, networks=[]) for i in range(10)]
    fss = [FilesystemObs(mountpoint=mp, device="/dev/sda1", fstype="ext4", size_bytes=100 * GIB,
                         used_bytes=used * GIB, avail_bytes=(100 - used) * GIB)
           for mp in ("/", LONG)]
    return Observation(host="nas", ts=ts, reachable=True, containers=cs, filesystems=fss)


def test_predict_is_readable_at_80_columns(tmp_path: Path) -> None:
    now = datetime.fromtimestamp(time.time(), UTC)
    with Store.open(tmp_path / "state") as store:
        for day in range(20, -1, -1):  # twenty days of a disk filling, an hour of containers
            record(store, [_observation(now - timedelta(days=day, minutes=1), 40 + 2 * (20 - day))])
    env = _env(tmp_path, HOMELAB_OPS_STATE_DIR=str(tmp_path / "state"), COLUMNS="80")
    out = run_cli("predict", "--refresh", env=env).stdout
    lines = out.splitlines()
    assert all(len(line) <= 80 for line in lines), out
    assert "10 containers: too little data yet, need" in out, out
    assert out.count("need") == 1, out  # one line, not one per container
    assert "/srv/very…to/archive" in out, out  # both ends of the path kept
    assert "[1] based on" in out, out  # the basis is a footnote
