"""Fault trials of the state store (issue 10, item 15): a garbage or truncated state.db,
a read-only or impossible state directory are one line naming the file and what to do;
a damaged store is never overwritten, and only `store quarantine` moves it aside."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from homelab_ops.store import Store
from tests.conftest import run_cli
from tests.unit.test_fault_lines import _env, _one_line

READ_COMMANDS = (["status"], ["ask", "is traefik running"], ["predict"], ["decisions"])


def _store_file(state: Path) -> Path:
    with Store.open(state) as store:
        store.cache_put("answer", {"text": "a row to lose"}, ttl=3600)
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return state / "state.db"


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_damaged_store_is_named_and_left_alone(tmp_path: Path, damage: str) -> None:
    state = tmp_path / "state"
    db = _store_file(state)
    if damage == "garbage":
        db.write_bytes(os.urandom(8192))
    else:
        os.truncate(db, 8192)  # the header survives, the tables do not
    before = db.read_bytes()
    env = _env(tmp_path, HOMELAB_OPS_STATE_DIR=str(state))
    for args in READ_COMMANDS:
        _one_line(run_cli(*args, env=env, check=False), str(db), "damaged", "store quarantine")
    assert db.read_bytes() == before  # never overwritten
    proc = run_cli("store", "quarantine", env=env)
    moved = sorted(state.glob("state.db.damaged-*"))
    assert moved and moved[0].read_bytes() == before and str(moved[0]) in proc.stdout
    assert not db.exists()
    assert "nothing observed yet" in run_cli("status", env=env, check=False).stderr  # new store
    proc = run_cli("store", "quarantine", env=env, check=False)
    assert proc.returncode == 1 and "not damaged" in proc.stderr  # a good one stays


def test_state_dir_that_cannot_be_created(tmp_path: Path) -> None:
    env = _env(tmp_path, HOMELAB_OPS_STATE_DIR="/proc/nope")
    for args in READ_COMMANDS:
        _one_line(run_cli(*args, env=env, check=False), "/proc/nope", "--state-dir")


def test_read_only_state_dir(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("a read-only bind mount needs root (root ignores file modes)")
    src, ro = tmp_path / "src", tmp_path / "ro"
    _store_file(src)
    ro.mkdir()
    subprocess.run(["mount", "--bind", "-o", "ro", str(src), str(ro)], check=True)
    try:
        env = _env(tmp_path, HOMELAB_OPS_STATE_DIR=str(ro))
        for args in READ_COMMANDS:
            _one_line(run_cli(*args, env=env, check=False), str(ro / "state.db"),
                      "Read-only file system", "--state-dir")
    finally:
        subprocess.run(["umount", str(ro)], check=True)
