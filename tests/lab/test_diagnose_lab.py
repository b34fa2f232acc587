"""The read-only routines on the real lab: the example stack passes the security audit
and its services reach each other by name; a stack deployed to be exposed (a port on
0.0.0.0, a web app nobody signs in to) and a readable secret file are found; a
container that really crash-loops is diagnosed by its exit code and its last log line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml

from homelab_ops.lab.podman import podman
from homelab_ops.lab.sshd import free_port
from tests.conftest import REPO, run_cli
from tests.lab.test_stack_lab import _remove_stack

pytestmark = pytest.mark.lab

EXAMPLE = REPO / "examples" / "lab-stack.yaml"


@pytest.fixture(scope="module")
def env(lab_env) -> dict[str, str]:
    return {**lab_env, "LAB_DB_PASSWORD": "pw-" + uuid.uuid4().hex}


@pytest.fixture(scope="module")
def example(lab, env, tmp_path_factory) -> str:
    """The example stack (all nine patterns) as a user deploys it, under a name and on
    host ports of its own: on a shared machine the file's fixed ports may be taken, and
    podman's DNS (aardvark) keeps its records by network name in one directory for
    every podman installation, so another lab's home-proxy would be this one's too."""
    stack = yaml.safe_load(EXAMPLE.read_text())
    stack["name"] = f"ex{uuid.uuid4().hex[:6]}"
    for service in stack["services"].values():
        for key in ("http_port", "publish_port", "port"):
            if key in service.get("params", {}):
                service["params"][key] = free_port()
    path = tmp_path_factory.mktemp("example") / "lab-stack.yaml"
    path.write_text(yaml.safe_dump(stack))
    _deploy(path, env)
    yield stack["name"]
    _remove_stack(lab, stack["name"], env)


def _deploy(path, env) -> None:
    """Deploy as a user does, with its human output kept for the failure message (a
    loaded shared machine may need longer than run_cli's timeout for ten containers)."""
    exe = Path(sys.executable).with_name("homelab-ops")
    proc = subprocess.run([str(exe), "deploy", str(path), "--force"], env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def exposed(lab, env, example, tmp_path_factory) -> str:
    """A stack deployed to be found: published on every interface, a web app routed by
    traefik with nobody signing users in."""
    name = f"dg{uuid.uuid4().hex[:6]}"
    path = tmp_path_factory.mktemp("exposed") / "stack.yaml"
    path.write_text(yaml.safe_dump({
        "name": name, "hosts": ["@local"], "publish_ip": "0.0.0.0",
        "networks": {"front": {}},
        "services": {"web": {"pattern": "web-app", "networks": ["front"],
                             "params": {"host": "open.lab.arpa", "publish_port": free_port()}}}}))
    _deploy(path, env)
    yield name
    _remove_stack(lab, name, env)


def _audit(env) -> tuple[int, dict, str]:
    """The audit of @local, where these stacks run (the lab's inventory also holds
    lab-vm when the VM is up: other modules' stacks may run there)."""
    proc = run_cli("audit", "--host", "@local", "--json", env=env, check=False)
    human = run_cli("audit", "--host", "@local", env=env, check=False)
    assert "Traceback" not in proc.stderr + human.stderr
    return proc.returncode, json.loads(proc.stdout), human.stdout


def test_the_example_stack_passes_the_audit(example, env) -> None:
    rc, report, human = _audit(env)
    assert report["findings"] == [] and report["failures"] == [], human
    assert rc == 0
    assert report["hosts"] == ["@local"] and report["containers"] >= 10
    assert report["secret_files"] == 3  # the two database env files and the app's
    assert human.strip().endswith("no findings")
    unknown = run_cli("audit", "--host", "nas", env=env, check=False)
    assert unknown.returncode != 0 and "no host named nas" in unknown.stderr + unknown.stdout
    assert "Traceback" not in unknown.stderr


def test_netcheck_on_the_example_reaches_its_peer_by_name(example, env) -> None:
    proc = run_cli("netcheck", "whoami", "--json", env=env, check=False)  # ask's spelling
    assert proc.returncode == 0, proc.stdout + proc.stderr
    d = json.loads(proc.stdout)
    assert d["service"] == f"{example}-whoami" and d["host"] == "@local"
    assert [a["network"] for a in d["attachments"]] == [f"{example}-proxy"]
    assert d["networks"][0]["dns_enabled"] is True
    assert {"ping", "nslookup", "nc"} <= set(d["tools"])
    proxy = next(p for p in d["peers"] if p["peer"] == f"{example}-proxy")
    assert proxy["reachable"] is True and proxy["ping"] is True
    assert proxy["dns_ok"] is True and f"{example}-proxy" in proxy["dns_names"]
    assert proxy["resolved"] == [proxy["address"]]
    assert {"port": 80, "result": "open"} in proxy["ports"]  # traefik's entrypoint
    db = run_cli("netcheck", f"{example}-cloud-db", "--json", env=env, check=False)
    assert db.returncode == 0, db.stdout + db.stderr  # on the app's internal network
    peers = {p["peer"]: p for p in json.loads(db.stdout)["peers"]}
    app = peers[f"{example}-cloud"]
    assert app["reachable"] is True and app["dns_ok"] is True
    human = run_cli("netcheck", f"{example}-whoami", env=env).stdout
    assert f"network {example}-proxy" in human
    assert f"peer {example}-proxy on {example}-proxy" in human and "(resolves)" in human


def test_the_audit_finds_the_exposed_stack_and_a_readable_secret(lab, example, exposed,
                                                                 env) -> None:
    secret = lab.paths.root / "quadlet" / "homelab-ops-secrets" / f"{example}-db.env"
    os.chmod(secret, 0o644)
    try:
        rc, report, human = _audit(env)
    finally:
        os.chmod(secret, 0o600)
    found = {(f["severity"], f["code"], f["subject"]) for f in report["findings"]}
    assert found == {("high", "port_all_interfaces", f"{exposed}-web"),
                     ("medium", "no_sso", f"{exposed}-web"),
                     ("high", "secret_readable", f"{example}-db")}, human
    assert rc == 1
    port = next(f for f in report["findings"] if f["code"] == "port_all_interfaces")
    assert "0.0.0.0:" in port["message"] and f"stack {exposed}" in port["fix"]
    assert f"HIGH   @local: {exposed}-web: port 0.0.0.0:" in human
    assert "Host(`open.lab.arpa`)" in human and "fix: chmod 600 " in human


@pytest.fixture()
def crash_loop(lab):
    """A container that really crash-loops: it logs why and exits 3, four runs in a
    row. The test starts it again after each death (as systemd's Restart= would):
    inside this pytest lab session podman's own --restart always logs the death and no
    restart, while the same lab brought up outside pytest restarts it (not understood
    yet)."""
    name = f"dgcrash{uuid.uuid4().hex[:6]}"
    podman(lab.paths, "run", "-d", "--name", name, "--network", "none", lab.spec.image,
           "sh", "-c", "echo starting; echo 'config file missing' >&2; exit 3")
    try:
        for run in range(4):
            for _ in range(240):  # a bounded wait for its death, never a timing assertion
                state = podman(lab.paths, "inspect", "--format", "{{.State.Status}}",
                               name).stdout.strip()
                if state in ("exited", "stopped"):
                    break
                time.sleep(0.25)
            else:
                raise AssertionError(f"{name} did not exit (run {run + 1}: {state})")
            if run < 3:
                podman(lab.paths, "start", name)
        yield name
    finally:
        podman(lab.paths, "rm", "--force", "--time", "0", name, check=False)


def test_diagnose_names_the_cause_of_a_crash_loop(crash_loop, env) -> None:
    d = json.loads(run_cli("diagnose", crash_loop, "--json", env=env).stdout)
    assert d["service"] == crash_loop and d["host"] == "@local"
    assert d["cause"].startswith("exits with code 3 on every start ("), d
    assert d["cause"].endswith("last log line 'config file missing'")
    assert d["findings"][0]["code"] == "crash_loop"
    assert "config file missing" in d["log_tail"]
    assert [e["exit_code"] for e in d["podman_events"] if e["status"] == "died"] == [3] * 4
    assert d["restarts_1h"] == 3 and "(3 restarts)" in d["cause"]
    typo = crash_loop.replace("crash", "crsh")  # numbers must match, letters may slip
    human = run_cli("diagnose", typo, env=env)
    assert human.stdout.startswith(f"{crash_loop} on @local: CAUSE: exits with code 3")
    unknown = run_cli("diagnose", "no-such-service-anywhere", env=env, check=False)
    assert unknown.returncode == 1 and unknown.stdout == ""
    (line,) = unknown.stderr.strip().splitlines()
    assert line.startswith("homelab-ops: error: no service 'no-such-service-anywhere' on "
                           "any host")


def test_recommend_and_ask_name_the_crash_loops_cause(crash_loop, env) -> None:
    """The recommender resolves the name against what was observed, runs the top
    read-only skill (diagnose), and it names the cause; ask hands the same question
    over and runs it too."""
    run_cli("observe", env=env)
    out = run_cli("recommend", f"{crash_loop} keeps crashing", "--run", env=env).stdout
    assert f"running: homelab-ops diagnose {crash_loop}" in out, out
    assert f"{crash_loop} on @local: CAUSE: exits with code 3" in out, out
    reply = json.loads(run_cli("ask", f"{crash_loop} keeps crashing", "--json",
                               env=env).stdout)
    assert reply["ran"]["argv"] == ["homelab-ops", "diagnose", crash_loop], reply
    assert reply["ran"]["exit"] == 0
    assert "CAUSE: exits with code 3" in reply["ran"]["output"], reply["ran"]
    said = run_cli("ask", f"why does {crash_loop} keep crashing", env=env).stdout
    assert "CAUSE: exits with code 3" in said, said
