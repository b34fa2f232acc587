"""Each part of the sandbox lab works for real: podman, BTRFS, sshd, pyinfra, testinfra."""

from __future__ import annotations

import errno
import json
import subprocess
import urllib.request
from pathlib import Path

import btrfsutil
import pytest
import testinfra

from homelab_ops.lab import lab_hosts
from homelab_ops.lab.podman import podman
from homelab_ops.lab.sshd import free_port
from tests.conftest import REPO, run_cli

pytestmark = pytest.mark.lab


def test_container_answers_http_on_loopback_port(lab) -> None:
    port = free_port()
    name = "lab-http-check"
    podman(lab.paths, "run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:80",
           "--health-cmd", "wget -q -O /dev/null http://127.0.0.1/", lab.spec.image)
    try:
        body = _get_with_retry(f"http://127.0.0.1:{port}/")
        assert body.startswith("homelab-lab ")
        # the stand-in image can run a healthcheck (no systemd timer here: run it by hand)
        assert podman(lab.paths, "healthcheck", "run", name, check=False).returncode == 0
        state = podman(lab.paths, "inspect", "--format", "{{.State.Health.Status}}", name)
        assert state.stdout.strip() == "healthy"
    finally:
        podman(lab.paths, "rm", "--force", "--time", "0", name)


def _get_with_retry(url: str, tries: int = 50) -> str:
    import time

    for _ in range(tries):
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                return resp.read().decode()
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} never answered")


def test_readonly_snapshot_through_btrfsutil(lab) -> None:
    photos = lab.paths.pool_mount("data") / "photos"
    (photos / "cat.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    snapdir = lab.paths.pool_mount("data") / ".snapshots"
    snapdir.mkdir(exist_ok=True)
    snap = snapdir / "photos.20261125T0200"
    btrfsutil.create_snapshot(str(photos), str(snap), read_only=True)
    try:
        assert btrfsutil.is_subvolume(str(snap))
        assert btrfsutil.get_subvolume_read_only(str(snap))
        assert (snap / "cat.jpg").read_bytes() == (photos / "cat.jpg").read_bytes()
        with pytest.raises(OSError) as exc:
            (snap / "new.txt").write_text("x")
        assert exc.value.errno == errno.EROFS
        info = btrfsutil.subvolume_info(str(snap))
        assert info.parent_uuid == btrfsutil.subvolume_info(str(photos)).uuid
    finally:
        btrfsutil.set_subvolume_read_only(str(snap), False)
        btrfsutil.delete_subvolume(str(snap))


def test_pyinfra_fact_over_ssh_python_api(lab) -> None:
    from homelab_ops.collection.facts.podman import PodmanInfo
    from homelab_ops.collection.session import fact_per_host, pyinfra_session
    from homelab_ops.inventory import inventory_from_entries

    hosts = [h for h in lab_hosts(lab.paths.root) if h[0] == lab.spec.ssh_alias]
    assert hosts[0][1]["ssh_port"] == lab.status()["sshd"]["port"]
    with pyinfra_session(inventory_from_entries(hosts, "lab")) as session:
        assert session.unreachable == {}
        facts = fact_per_host(session.state, PodmanInfo)
    assert facts[lab.spec.ssh_alias]["graph_root"] == str(lab.paths.graphroot)
    assert facts[lab.spec.ssh_alias]["oci_runtime"] == "runc"


def test_pyinfra_cli_with_the_lab_inventory(lab, lab_env) -> None:
    """The plain pyinfra CLI, as a user runs it, sees the lab's podman through both
    names of this machine, and the VM's own."""
    pyinfra = Path(REPO / ".venv/bin/pyinfra")
    exe = pyinfra if pyinfra.exists() else "pyinfra"
    proc = subprocess.run(
        [str(exe), "-y", "inventory/lab.py", "fact",
         "homelab_ops.collection.facts.podman.PodmanInfo"],
        cwd=REPO, env=lab_env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout + proc.stderr
    body = out[out.index("{"): out.rindex("}") + 1]
    facts = json.loads(body)
    assert set(facts) == {"@local", lab.spec.ssh_alias, "lab-vm"}
    assert {facts[h]["graph_root"] for h in ("@local", lab.spec.ssh_alias)} == {
        str(lab.paths.graphroot)}
    assert facts["lab-vm"]["graph_root"] == "/var/lib/containers/storage"


# testinfra's paramiko backend ignores UserKnownHostsFile, so paramiko warns about the
# (correct) lab host key; the ssh backend checks it strictly against known_hosts.
@pytest.mark.filterwarnings("ignore:Unknown ssh-ed25519 host key:UserWarning")
@pytest.mark.parametrize("backend", ["ssh", "paramiko"])
def test_testinfra_through_ssh(lab, backend: str) -> None:
    host = testinfra.get_host(f"{backend}://{lab.spec.ssh_alias}",
                              ssh_config=str(lab.paths.ssh_config))
    assert host.check_output("id -u") == "0"
    # sshd hands each session the lab's podman configuration
    graphroot = host.check_output("podman info --format '{{.Store.GraphRoot}}'")
    assert graphroot == str(lab.paths.graphroot)
    assert host.file(str(lab.paths.pool_mount("data") / "photos")).is_directory
    assert host.mount_point(str(lab.paths.pool_mount("data"))).filesystem == "btrfs"
    assert host.socket(f"tcp://127.0.0.1:{lab.status()['sshd']['port']}").is_listening


def test_lab_status_cli(lab, lab_env) -> None:
    data = json.loads(run_cli("lab", "status", "--json", env=lab_env).stdout)
    assert data["up"] is True
    assert {p["name"] for p in data["pools"]} == {"data", "backup"}
    assert all(p["mounted"] for p in data["pools"])
    human = run_cli("lab", "status", env=lab_env).stdout
    assert "pool data" in human and "running" in human
