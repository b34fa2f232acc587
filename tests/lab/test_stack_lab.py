"""Stacks on the real lab: a stack of all nine patterns deploys and passes health, a
second deploy changes nothing, tampering shows up in drift exactly and a redeploy
repairs it, the testinfra suite passes over SSH and the plain pyinfra CLI deploys."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml

from bench.deploy import SECRET_ENV, nine_pattern_stack
from homelab_ops.lab import lab_hosts
from homelab_ops.lab.podman import podman
from homelab_ops.lab.sshd import free_port
from tests.conftest import REPO, run_cli

pytestmark = pytest.mark.lab

SECRET = "s3cret-" + uuid.uuid4().hex  # must never show up outside the env file
PORTS = ("proxy", "web", "sso", "app", "media", "metrics", "site")
# the last commit before the model merge (a183ecd: ContainerSpec derives from
# ContainerShape); the spec digest of everything deployed before it must not move
BEFORE_MODEL_MERGE = "a183ecd^"


@pytest.fixture(scope="module")
def env(lab_env) -> dict[str, str]:
    return {**lab_env, SECRET_ENV: SECRET}


@pytest.fixture(scope="module")
def stack_file(lab, lab_env, tmp_path_factory) -> Path:
    name = f"st{uuid.uuid4().hex[:6]}"
    path = tmp_path_factory.mktemp("stack") / "stack.yaml"
    stack = nine_pattern_stack(name, {k: free_port() for k in PORTS})
    path.write_text(yaml.safe_dump(stack))
    yield path
    _remove_stack(lab, name, lab_env)


def _remove_stack(lab, name: str, env: dict[str, str] | None = None) -> None:
    """Remove a test stack's containers, networks, unit and secret files and, given the
    CLI's environment, forget it in the store, so later tests' default health, drift and
    audit do not see it."""
    if env is not None:
        run_cli("stacks", "forget", name, env=env, check=False)
    ids = podman(lab.paths, "ps", "-aq", "--filter", f"label=homelab-ops.stack={name}").stdout
    if ids.split():
        podman(lab.paths, "rm", "--force", "--time", "0", *ids.split())
    nets = podman(lab.paths, "network", "ls", "-q", "--filter", f"name=^{name}-").stdout
    if nets.split():
        podman(lab.paths, "network", "rm", *nets.split())
    quadlet = lab.paths.root / "quadlet"
    for left in (*quadlet.glob(f"{name}-*"), *quadlet.glob(f"homelab-ops-secrets/{name}-*")):
        left.unlink()


def deploy(stack_file: Path, env: dict[str, str]) -> dict:
    return json.loads(run_cli("deploy", str(stack_file), "--json", env=env).stdout)


def drift(stack_file: Path, env: dict[str, str]) -> list[dict]:
    proc = run_cli("drift", str(stack_file), "--json", env=env, check=False)
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


def test_capacity_check_refuses_without_history(lab, stack_file, env, tmp_path) -> None:
    """No observed history to forecast from: the capacity check cannot promise a fit."""
    proc = run_cli("--state-dir", str(tmp_path), "deploy", str(stack_file), "--dry-run",
                   "-i", str(REPO / "inventory/lab.py"), env=env, check=False)
    assert proc.returncode == 1
    assert "capacity check refuses" in proc.stderr and "--force" in proc.stderr
    assert "@local memory: no history" in proc.stderr


def test_capacity_check_passes_with_a_flat_history(lab, stack_file, env, tmp_path) -> None:
    """A week of steady memory and disk use in the store: the stack fits."""
    from homelab_ops.store import SeriesKey, Store

    now = time.time()
    hours = [now - h * 3600 for h in range(7 * 24, 0, -1)]
    with Store.open(tmp_path) as store:
        for kind, subject, used, total in (("host", "", "mem_used_bytes", "mem_total_bytes"),
                                           ("filesystem", "/", "used_bytes", "size_bytes")):
            store.add_points(SeriesKey("@local", kind, subject, used), [(t, 2**30) for t in hours])
            store.add_points(SeriesKey("@local", kind, subject, total),
                             [(t, 2**40) for t in hours])
    proc = run_cli("--state-dir", str(tmp_path), "deploy", str(stack_file), "--dry-run",
                   "--json", "-i", str(REPO / "inventory/lab.py"), env=env)
    reports = json.loads(proc.stdout)["capacity"]
    assert [(i["resource"], i["fits"]) for r in reports for i in r["items"]] == [
        ("memory", True), ("disk /", True)]


@pytest.fixture(scope="module")
def deployed(stack_file: Path, env: dict[str, str]) -> dict:
    """First deploy and the idempotent second one, with their outputs. The session's
    lab has no observed history, so the capacity check cannot promise a fit: --force
    (the two tests above show the check itself)."""
    first = run_cli("deploy", str(stack_file), "--force", "--json", env=env)
    second = run_cli("deploy", str(stack_file), "--json", env=env)
    return {"first": json.loads(first.stdout), "second": json.loads(second.stdout),
            "output": first.stdout + first.stderr + second.stdout + second.stderr}


def test_nine_patterns_deploy_and_pass_health(deployed) -> None:
    first = deployed["first"]
    assert [r["host"] for r in first["capacity"]] == ["@local"]
    assert first["hosts"]["@local"]["changes"] > 0
    failed = [r for r in first["health"] if not r["ok"]]
    assert first["ok"] and not failed, failed
    kinds = {r["kind"] for r in first["health"]}
    assert kinds == {"running", "healthy", "listening", "http"}
    assert len({r["container"] for r in first["health"]}) == 10  # app-database is two


def test_second_deploy_changes_nothing(deployed, stack_file, env) -> None:
    second = deployed["second"]
    assert second["hosts"] == {"@local": {"changes": 0, "changed": [], "ok": True, "error": ""}}
    assert second["ok"]
    assert drift(stack_file, env) == []


def test_health_and_drift_default_to_the_deployed_stacks(deployed, stack_file, env) -> None:
    """Without arguments both read the deployed stack files from the store."""
    name = yaml.safe_load(stack_file.read_text())["name"]
    results = json.loads(run_cli("health", "--json", env=env).stdout)
    mine = [r for r in results if r["stack"] == name]
    assert len(mine) == len(deployed["first"]["health"]) and all(r["ok"] for r in mine)
    human = run_cli("drift", env=env)
    assert human.stdout.strip() == "no drift: every host runs what its stacks declare"


def test_secrets_stay_in_a_private_file(deployed, lab, stack_file) -> None:
    name = yaml.safe_load(stack_file.read_text())["name"]
    quadlet = lab.paths.root / "quadlet"
    secrets_dir = quadlet / "homelab-ops-secrets"
    assert stat.S_IMODE(secrets_dir.stat().st_mode) == 0o700
    env_files = sorted(secrets_dir.glob(f"{name}-*.env"))
    assert [f.name for f in env_files] == [f"{name}-app-db.env", f"{name}-app.env",
                                           f"{name}-db.env"]
    for f in env_files:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
        assert f"POSTGRES_PASSWORD={SECRET}" in f.read_text()
    for unit in quadlet.glob(f"{name}-*"):
        assert SECRET not in unit.read_text()
    assert SECRET not in deployed["output"]
    # in the container's environment, as the image expects
    out = podman(lab.paths, "exec", f"{name}-db", "env").stdout
    assert f"POSTGRES_PASSWORD={SECRET}" in out.splitlines()


def test_tampering_is_reported_exactly_and_a_redeploy_repairs_it(
        deployed, lab, stack_file, env) -> None:
    from homelab_ops.collection.lib.hosts import host_target
    from homelab_ops.collection.lib.plan import host_plan
    from homelab_ops.collection.lib.units import run_args
    from homelab_ops.stacks.load import load_stack

    declared = load_stack(stack_file)
    name = declared.name
    data = dict(lab_hosts(lab.paths.root))["@local"]
    target = host_target("@local", data, {"uid": 0, "home": "/root", "systemd": False})
    plan = host_plan(declared, target, {"db-password": SECRET})
    web = next(c for c in plan.containers if c.name == f"{name}-web")
    # 1. the web app republished on another port (labels, digest and all else as declared)
    moved = web.model_copy(update={"ports": [web.ports[0].model_copy(
        update={"host_port": free_port()})]})
    podman(lab.paths, "rm", "--force", "--time", "0", web.name)
    podman(lab.paths, *run_args(moved))
    # 2. a container stopped
    podman(lab.paths, "stop", "--time", "5", f"{name}-worker")
    # 3. a unit file edited
    unit = lab.paths.root / "quadlet" / f"{name}-site.container"
    unit.write_text(unit.read_text().replace("Restart=always", "Restart=no"))
    # 4. an unexpected container claiming to be part of the stack
    podman(lab.paths, "run", "--detach", "--name", f"{name}-intruder",
           "--label", f"homelab-ops.stack={name}", lab.spec.image)

    found = drift(stack_file, env)
    assert sorted((d["subject"], d["kind"]) for d in found) == [
        (f"{name}-intruder", "unexpected"),
        (f"{name}-site.container", "unit_changed"),
        (f"{name}-web", "ports"),
        (f"{name}-worker", "stopped"),
    ]
    ports = next(d for d in found if d["kind"] == "ports")
    assert ports["declared"] == [f"127.0.0.1:{web.ports[0].host_port}:80/tcp"]
    assert ports["live"] == [f"127.0.0.1:{moved.ports[0].host_port}:80/tcp"]

    repaired = deploy(stack_file, env)
    assert repaired["ok"], [r for r in repaired["health"] if not r["ok"]]
    assert drift(stack_file, env) == []


def test_testinfra_suite_over_ssh(deployed, lab, stack_file, env) -> None:
    """tests/infra, as a user runs it in CI, against the lab's SSH host."""
    proc = subprocess.run(
        [str(REPO / ".venv/bin/python"), "-m", "pytest", "tests/infra", "-q",
         "-p", "no:cacheprovider", f"--hosts=ssh://{lab.spec.ssh_alias}",
         f"--ssh-config={lab.paths.ssh_config}", "--stack", str(stack_file),
         "--stack-inventory", "inventory/lab.py", "--stack-host", lab.spec.ssh_alias],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    # 10 containers x (health, drift) + unit files + unexpected containers
    assert proc.stdout.splitlines()[-1].startswith("22 passed")


def _containers(lab, name: str) -> dict[str, tuple[str, str]]:
    """Each container of stack ``name``: (its ID, its spec-digest label)."""
    out = podman(lab.paths, "ps", "-a", "--filter", f"label=homelab-ops.stack={name}",
                 "--format", '{{.Names}} {{.ID}} {{index .Labels "homelab-ops.spec-digest"}}')
    return {n: (i, d) for n, i, d in (line.split() for line in out.stdout.splitlines())}


def test_an_upgrade_over_the_model_merge_recreates_nothing(lab, env, tmp_path) -> None:
    """The nine-pattern stack deployed by the code from before the model merge (checked
    out of this repository's history), then by this code: no change, no drift, and
    every container is the same one (same ID, same spec-digest label)."""
    old = tmp_path / "old"
    old.mkdir()
    tree = subprocess.run(["git", "-C", str(REPO), "archive", BEFORE_MODEL_MERGE,
                           "homelab_ops", "patterns"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(old)], input=tree.stdout, check=True)
    assert "class ContainerShape" not in (old / "homelab_ops/models/stack.py").read_text()
    name = f"up{uuid.uuid4().hex[:6]}"
    path = tmp_path / "stack.yaml"
    path.write_text(yaml.safe_dump(nine_pattern_stack(name, {k: free_port() for k in PORTS})))
    try:
        before = subprocess.run(
            [sys.executable, "-m", "homelab_ops.cli", "--state-dir", str(tmp_path / "state"),
             "deploy", str(path), "--force", "--json", "-i", str(REPO / "inventory/lab.py")],
            cwd=old, env={**env, "PYTHONPATH": str(old)}, capture_output=True, text=True,
            timeout=600)
        assert before.returncode == 0, before.stderr[-3000:]
        assert json.loads(before.stdout)["hosts"]["@local"]["changes"] > 0
        deployed_by_old = _containers(lab, name)
        assert len(deployed_by_old) == 10 and all(d for _, d in deployed_by_old.values())
        after = json.loads(run_cli("deploy", str(path), "--force", "--json", env=env).stdout)
        assert after["hosts"] == {"@local": {"changes": 0, "changed": [], "ok": True,
                                             "error": ""}}
        assert _containers(lab, name) == deployed_by_old
        assert drift(path, env) == []
    finally:
        _remove_stack(lab, name, env)


def test_pyinfra_cli_deploy_file(lab, lab_env, tmp_path) -> None:
    """deploys/stack.py with the plain pyinfra CLI: deploys, then changes nothing; the
    secret stays out of its output even with commands shown (-vv)."""
    name = f"px{uuid.uuid4().hex[:6]}"
    stack = {"name": name, "hosts": ["@local"],
             "secrets": {"pw": {"env": SECRET_ENV}},
             "services": {"db": {"pattern": "database", "params": {"password": "pw"}},
                          "job": {"pattern": "background-worker", "depends_on": ["db"],
                                  "params": {"image": "docker.io/library/busybox"}}}}
    path = tmp_path / "px.yaml"
    path.write_text(yaml.safe_dump(stack))
    env = {**lab_env, "HOMELAB_OPS_STACK": str(path), SECRET_ENV: SECRET}
    pyinfra = str(REPO / ".venv/bin/pyinfra")
    try:
        runs = [subprocess.run([pyinfra, "-y", "-vv", "inventory/lab.py", "deploys/stack.py"],
                               cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
                for _ in range(2)]
        for run in runs:
            assert run.returncode == 0, run.stderr[-3000:]
            assert SECRET not in run.stdout + run.stderr
        totals = [next(ln.split() for ln in (r.stdout + r.stderr).splitlines()
                       if "Grand total" in ln) for r in runs]
        assert totals[0][3] != "-"  # first run: operations succeeded with changes
        assert totals[1][3:] == ["-", "-", "4"]  # second: success -, error -, no change 4
        assert drift(path, env) == []
    finally:
        _remove_stack(lab, name)
