"""Observe the real lab over @local and over SSH: stopped, unhealthy and restarted
containers, a network, a BTRFS pool being filled, and an unreachable host."""

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
from homelab_ops.lab.podman import podman
from homelab_ops.lab.sshd import free_port
from homelab_ops.models.settings import Settings
from homelab_ops.observe import observe
from homelab_ops.store import SeriesKey, Store
from tests.conftest import run_cli

pytestmark = pytest.mark.lab

NET = "obs-net"
NAMES = ("obs-web", "obs-sick", "obs-stopped", "obs-bounce")
T0 = datetime(2026, 11, 25, 6, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def stage(lab):
    """Containers in every state the observer must tell apart."""
    p = lab.paths
    podman(p, "network", "create", NET)
    run = ("run", "-d", "--network", NET)
    podman(p, *run, "--name", "obs-web", "-p", f"127.0.0.1:{free_port()}:80",
           "--health-cmd", "wget -q -O /dev/null http://127.0.0.1/", "--memory", "64m",
           lab.spec.image)
    podman(p, *run, "--name", "obs-sick", "--health-cmd", "false", "--health-retries", "1",
           lab.spec.image)
    podman(p, *run, "--name", "obs-stopped", lab.spec.image)
    podman(p, *run, "--name", "obs-bounce", lab.spec.image)
    podman(p, "stop", "--time", "5", "obs-stopped")
    _wait_healthy(lab, "obs-web")
    yield lab
    podman(p, "rm", "--force", "--time", "0", *NAMES)
    podman(p, "network", "rm", "--force", NET)


def _wait_healthy(lab, name: str) -> None:
    """httpd needs a moment after start; until then the first check may fail."""
    for _ in range(50):
        if podman(lab.paths, "healthcheck", "run", name, check=False).returncode == 0:
            return
        time.sleep(0.1)
    raise AssertionError(f"{name} never became healthy")


@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / "state.db") as s:
        yield s


def _inventory(lab, extra=()):
    """@local and the same machine over SSH, both observed (without ``alias_of``), so
    every check runs through both paths; the VM has its own tests (test_vm_lab.py)."""
    hosts = dict(lab_hosts(lab.paths.root))
    both = [("@local", hosts["@local"]),
            ("lab-ssh", {k: v for k, v in hosts["lab-ssh"].items() if k != "alias_of"})]
    return inventory_from_entries([*both, *extra], "lab")


def test_containers_and_network_over_local_and_ssh(stage, store: Store) -> None:
    result = {o.host: o for o in observe(_inventory(stage), store, Settings(), now=T0)}
    assert set(result) == {"@local", "lab-ssh"}
    for obs in result.values():
        assert obs.reachable and obs.probe_errors == []
        assert obs.cost is not None and obs.cost.round_trips == 1
        web, sick = obs.container("obs-web"), obs.container("obs-sick")
        stopped = obs.container("obs-stopped")
        assert web.state == "running" and web.health == "healthy"
        assert web.mem_limit_bytes == 64 * 2**20 and web.mem_bytes and web.ports
        assert sick.state == "running" and sick.health == "unhealthy"
        assert stopped.state == "exited" and stopped.exit_code is not None
        net = next(n for n in obs.networks if n.name == NET)
        assert set(NAMES) <= set(net.members)
        codes = {(r.code, r.subject) for r in obs.health.reasons}
        assert {("container_down", "obs-stopped"), ("unhealthy", "obs-sick")} <= codes
        assert obs.health.score < 100
    # the store has it: the latest document per host and the container series
    assert set(store.latest_observations()) == {"@local", "lab-ssh"}
    assert store.read_series(SeriesKey("lab-ssh", "container", "obs-web", "running")) == [
        (T0.timestamp(), 1.0)]


def test_restart_between_observations_is_an_event_with_its_time(stage, store: Store) -> None:
    inv = _inventory(stage)
    observe(inv, store, Settings(), now=T0)
    podman(stage.paths, "restart", "--time", "5", "obs-bounce")
    restarted = datetime.fromisoformat(podman(
        stage.paths, "inspect", "--format", "{{.State.StartedAt}}", "obs-bounce"
    ).stdout.strip().split(".")[0] + "+00:00")
    observe(inv, store, Settings(), now=T0 + timedelta(minutes=5))
    for host in ("@local", "lab-ssh"):
        events = store.events(host=host, subject="obs-bounce", kinds=["restarted"])
        assert len(events) == 1, host
        assert abs(events[0].ts - restarted.timestamp()) < 1.0


def test_filling_a_pool_shows_in_the_store(stage, store: Store) -> None:
    inv = _inventory(stage)
    mnt = stage.paths.pool_mount("data")
    fill = mnt / "media" / "obs-fill.bin"
    try:
        for step in range(3):
            if step:
                with fill.open("ab") as fh:
                    fh.write(os.urandom(64 * 2**20))
                subprocess.run(["btrfs", "filesystem", "sync", str(mnt)], check=True)
            observe(inv, store, Settings(), now=T0 + timedelta(hours=step))
        for host in ("@local", "lab-ssh"):
            used = [v for _, v in store.read_series(
                SeriesKey(host, "filesystem", str(mnt), "used_bytes"))]
            assert len(used) == 3
            assert used[1] - used[0] > 60 * 2**20 and used[2] - used[1] > 60 * 2**20
            latest = store.latest_observations()[host]
            pool = next(f for f in latest["filesystems"] if f["mountpoint"] == str(mnt))
            assert pool["btrfs"]["allocated"] > 128 * 2**20
    finally:
        fill.unlink(missing_ok=True)


def test_unreachable_host_does_not_stop_the_others(stage, store: Store) -> None:
    dead = ("dead-host", {"ssh_hostname": "127.0.0.1", "ssh_port": free_port(),
                          "ssh_connect_retries": 0})
    result = {o.host: o for o in observe(_inventory(stage, [dead]), store, Settings(), now=T0)}
    assert result["dead-host"].reachable is False
    assert "unable to connect to port" in (result["dead-host"].error or "").lower()
    assert result["dead-host"].health.score == 0
    assert result["lab-ssh"].reachable and result["@local"].reachable
    assert [e.kind for e in store.events(host="dead-host")] == ["host_unreachable"]


def test_observe_and_status_through_the_cli(stage, lab_env) -> None:
    """The lab inventory: lab-ssh is a second name of @local, observed once."""
    data = json.loads(run_cli("observe", "--json", env=lab_env).stdout)
    assert {d["host"] for d in data} == {"@local", "lab-vm"}
    status = json.loads(run_cli("status", "--json", env=lab_env).stdout)
    assert {d["host"] for d in status} == {"@local", "lab-vm"}
    human = run_cli("status", env={**lab_env, "COLUMNS": "250"}).stdout
    assert "obs-sick fails its healthcheck" in human


def test_malformed_inventory_on_the_cli(tmp_path: Path, lab_env) -> None:
    bad = tmp_path / "inv.py"
    bad.write_text("homelab = [('nas', {'systemd': 'maybe'})]\n")
    proc = run_cli("observe", "-i", str(bad), env=lab_env, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"homelab-ops: error: {bad}: hosts[nas].systemd: Input should be a valid boolean, "
        "unable to interpret input")
