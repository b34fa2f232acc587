"""Remediation playbooks on the real lab podman (@local, podman-run backend): a killed
container restarted and verified, one that cannot start reported, real bytes freed."""

from __future__ import annotations

import io
import tarfile
import uuid

import pytest

from homelab_ops.inventory import inventory_from_entries
from homelab_ops.lab import lab_hosts
from homelab_ops.lab.podman import podman
from homelab_ops.loop.playbooks import run_playbook, verify


@pytest.fixture(scope="module")
def inv(lab):
    return inventory_from_entries([e for e in lab_hosts(lab.paths.root) if e[0] == "@local"],
                                  "lab")


def _run(lab, name: str, *cmd: str) -> None:
    podman(lab.paths, "run", "--detach", "--name", name, "--health-cmd", "true",
           "--health-interval", "30s", lab.spec.image, *cmd)


def test_killed_container_is_restarted_and_verified(lab, inv) -> None:
    name = f"pb-kill-{uuid.uuid4().hex[:6]}"
    _run(lab, name, "sleep", "3600")
    try:
        podman(lab.paths, "kill", name)
        result = run_playbook(inv, "@local", "restart", {"service": name})
        assert result.ok and result.changed and result.error is None, result
        check = verify(inv, "@local", "restart", {"service": name})
        assert check.ok, check
        assert check.checks == [f"{name} running and healthy: ok"]
        dry = run_playbook(inv, "@local", "restart", {"service": name}, dry_run=True)
        assert dry.ok and not dry.changed and dry.detail["dry_run"]
    finally:
        podman(lab.paths, "rm", "-f", name, check=False)


def test_container_that_cannot_start_fails_with_the_reason(lab, inv) -> None:
    name = f"pb-fail-{uuid.uuid4().hex[:6]}"
    podman(lab.paths, "create", "--name", name, lab.spec.image, "sh", "-c", "exit 1")
    try:
        result = run_playbook(inv, "@local", "restart", {"service": name})
        check = verify(inv, "@local", "restart", {"service": name, "health_wait": 5})
        assert result.ok is False or check.ok is False
        assert not check.ok and "exit code 1" in check.error, check
        missing = run_playbook(inv, "@local", "restart", {"service": "no-such-ctr"})
        assert not missing.ok and "no-such-ctr" in missing.error and "\n" not in missing.error
    finally:
        podman(lab.paths, "rm", "-f", name, check=False)


def test_free_disk_frees_real_bytes_and_reports_them(lab, inv, tmp_path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        blob = uuid.uuid4().bytes * (8 * 1024 * 1024 // 16)  # 8 MiB, unique per run
        info = tarfile.TarInfo("blob")
        info.size = len(blob)
        tar.addfile(info, io.BytesIO(blob))
    (tmp_path / "rootfs.tar").write_bytes(buf.getvalue())
    podman(lab.paths, "import", str(tmp_path / "rootfs.tar"))  # no name: dangling
    name = f"pb-log-{uuid.uuid4().hex[:6]}"
    _run(lab, name, "sh", "-c", "head -c 4000000 /dev/zero | tr '\\0' x; sleep 3600")
    try:
        mount = str(lab.paths.graphroot)
        result = run_playbook(inv, "@local", "free-disk", {"mountpoint": mount})
        assert result.ok and result.changed, result
        assert result.detail["bytes_freed"] > 4 * 1024 * 1024, result.detail
        check = verify(inv, "@local", "free-disk", {"mountpoint": mount})
        assert check.ok and check.checks[0] == "nothing left to free: ok", check
        again = run_playbook(inv, "@local", "free-disk", {"mountpoint": mount})
        assert again.ok and not again.changed
    finally:
        podman(lab.paths, "rm", "-f", name, check=False)
