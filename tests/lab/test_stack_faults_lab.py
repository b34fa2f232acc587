"""Deploys that fail on the host, for real: a published port another process holds.
One line per failed host with podman's own error, a non-zero exit, the failure
recorded, no ``Created`` container left that looks deployed, and a later deploy
recovers once the port is free."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest
import yaml

from homelab_ops.lab.podman import podman
from homelab_ops.lab.sshd import free_port
from tests.conftest import run_cli
from tests.lab.test_stack_lab import _remove_stack

pytestmark = pytest.mark.lab


@pytest.fixture()
def web_stack(lab, lab_env, tmp_path):
    name = f"pf{uuid.uuid4().hex[:6]}"
    port = free_port()
    path = tmp_path / "stack.yaml"
    path.write_text(yaml.safe_dump({"name": name, "hosts": ["@local"], "services": {
        "web": {"pattern": "web-app", "params": {"host": "w.lab.arpa", "publish_port": port}}}}))
    yield name, port, path
    _remove_stack(lab, name, lab_env)


def _wait_listening(proc: subprocess.Popen, port: int) -> None:
    import socket
    import time

    for _ in range(100):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        assert proc.poll() is None, "http.server did not start"
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}")


def test_a_taken_port_fails_one_line_and_a_later_deploy_recovers(
        lab, lab_env, state_dir, web_stack) -> None:
    from homelab_ops.store import Store

    name, port, path = web_stack
    squatter = subprocess.Popen([sys.executable, "-m", "http.server", str(port),
                                 "--bind", "127.0.0.1"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    try:
        _wait_listening(squatter, port)
        failed = run_cli("deploy", str(path), "--force", env=lab_env, check=False)
        as_json = run_cli("deploy", str(path), "--force", "--json", env=lab_env, check=False)
    finally:
        squatter.terminate()
        squatter.wait(timeout=30)
    assert failed.returncode == 1 and as_json.returncode == 1
    assert "Traceback" not in failed.stderr + failed.stdout
    lines = [ln for ln in failed.stdout.splitlines() if "FAILED" in ln]
    assert len(lines) == 1, failed.stdout
    assert lines[0].startswith(
        f"@local: deploy of {name} FAILED: Stack | Containers of {name}: Error: ")
    assert "address already in use" in lines[0]
    host = json.loads(as_json.stdout)["hosts"]["@local"]
    assert host["ok"] is False and "address already in use" in host["error"]
    # nothing left behind that looks deployed
    left = podman(lab.paths, "ps", "-a", "--format", "{{.Names}} {{.State}}",
                  "--filter", f"label=homelab-ops.stack={name}").stdout
    assert left.strip() == ""
    with Store.open(state_dir) as store:
        mine = [d for d in store.deployments() if d["stack"] == name]
    assert [(d["service"], d["ok"]) for d in mine] == [("web", 0)]
    assert "address already in use" in mine[0]["detail"]["error"]

    recovered = json.loads(run_cli("deploy", str(path), "--force", "--json",
                                   env=lab_env).stdout)
    assert recovered["ok"] and recovered["hosts"]["@local"]["ok"]
    assert all(r["ok"] for r in recovered["health"])


def test_a_missing_bind_source_fails_with_podmans_message(lab, lab_env, tmp_path) -> None:
    name = f"pb{uuid.uuid4().hex[:6]}"
    missing = tmp_path / "no-such-dir"
    path = tmp_path / "stack.yaml"
    path.write_text(yaml.safe_dump({"name": name, "hosts": ["@local"], "services": {
        "site": {"pattern": "static-site", "params": {
            "host": "s.lab.arpa", "root": str(missing), "publish_port": free_port()}}}}))
    try:
        proc = run_cli("deploy", str(path), "--force", env=lab_env, check=False)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr
        line = next(ln for ln in proc.stdout.splitlines() if "FAILED" in ln)
        assert str(missing) in line and "no such file or directory" in line
        left = podman(lab.paths, "ps", "-aq", "--filter",
                      f"label=homelab-ops.stack={name}").stdout
        assert left.strip() == ""
    finally:
        _remove_stack(lab, name, lab_env)


def test_health_fails_fast_and_checks_the_others_past_a_moved_stack(
        lab, lab_env, web_stack, tmp_path) -> None:
    """A stopped container fails its checks without retries; a deployed stack whose
    file moved away is reported unavailable while the other stack is still checked."""
    name, _port, path = web_stack
    run_cli("deploy", str(path), "--force", env=lab_env)
    other = tmp_path / "other.yaml"
    other_name = f"pm{uuid.uuid4().hex[:6]}"
    other.write_text(yaml.safe_dump({"name": other_name, "hosts": ["@local"], "services": {
        "web": {"pattern": "web-app", "params": {"host": "m.lab.arpa"}}}}))
    try:
        run_cli("deploy", str(other), "--force", env=lab_env)
        other.rename(tmp_path / "moved.yaml")
        podman(lab.paths, "stop", "--time", "0", f"{name}-web")
        proc = run_cli("health", "--json", env=lab_env, check=False)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr
        results = json.loads(proc.stdout)
        gone = [r for r in results if r["stack"] == other_name]
        assert [r["kind"] for r in gone] == ["unavailable"]
        assert f"{other}: file does not exist" in gone[0]["seen"]
        mine = [r for r in results if r["stack"] == name]
        assert (mine[0]["kind"], mine[0]["ok"]) == ("running", False)
        assert all(r["seen"].startswith("not checked: container exited") for r in mine[1:])
        assert len(mine) > 1
        forgot = run_cli("stacks", "forget", other_name, env=lab_env)
        assert "forgot stack" in forgot.stdout
        names = {r["stack"] for r in json.loads(run_cli(
            "health", "--json", env=lab_env, check=False).stdout)}
        assert other_name not in names and name in names
    finally:
        _remove_stack(lab, other_name, lab_env)
