"""Test tiers: tests/unit is pure and fast; tests/lab runs against the real sandbox lab
(podman, BTRFS on loop devices, sshd on 127.0.0.1), brought up once per session and
always torn down."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("state")


@pytest.fixture(scope="session")
def lab(state_dir: Path):
    """The session's lab. Torn down even when tests fail or the session is interrupted.

    ``HOMELAB_OPS_TEST_NO_VM=1`` builds it without lab-vm for a quick run of tests that
    do not need it (a developer's loop); tests that need the VM then fail, never skip."""
    from homelab_ops.lab import Lab
    from homelab_ops.models.lab import LabSpec

    if os.geteuid() != 0:
        pytest.fail("lab tests need root (loop mounts, rootful podman)")
    spec = LabSpec(vm=None) if os.environ.get("HOMELAB_OPS_TEST_NO_VM") else LabSpec()
    the_lab = Lab(state_dir / "lab", spec)
    try:
        the_lab.up()
        yield the_lab
    finally:
        the_lab.down()


@pytest.fixture(scope="session")
def lab_env(lab, state_dir: Path) -> dict[str, str]:
    """Environment for subprocesses (CLI, pyinfra) that should find the session's lab.

    No CONTAINERS_CONF here: the lab inventory's host data must carry it by itself."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTAINERS_")}
    return {**env, "HOMELAB_OPS_STATE_DIR": str(state_dir)}


def run_cli(*args: str, env: dict[str, str] | None = None, check: bool = True):
    """Run the real console script as a user would."""
    exe = Path(sys.executable).with_name("homelab-ops")
    proc = subprocess.run([str(exe), *args], env=env, capture_output=True, text=True,
                          timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"homelab-ops {' '.join(args)} failed:\n{proc.stderr}")
    return proc
