"""Rendering: all nine patterns render to quadlet units (golden files), the podman-run
path carries the same spec, the lab's overrides apply, and the services systemd would
load pass ``systemd-analyze verify``.

Regenerate the golden files after an intended change with
``UPDATE_GOLDEN=1 pytest tests/unit/test_stack_units.py``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from homelab_ops.collection.lib.backend import PodmanRun, QuadletUnits
from homelab_ops.collection.lib.hosts import HostTarget, host_target
from homelab_ops.collection.lib.plan import HostPlan, host_plan
from homelab_ops.collection.lib.units import run_args, sd_quote
from homelab_ops.models.stack import DIGEST_LABEL, STACK_MARKER
from homelab_ops.stacks.load import load_stack
from tests.conftest import REPO

GOLDEN = Path(__file__).parent / "golden" / "stack"
EXAMPLE = REPO / "examples/lab-stack.yaml"
SECRET = "correct horse battery staple"
HOMELAB = HostTarget(name="homelab", quadlet_dir="/etc/containers/systemd", backend=QuadletUnits(),
                     pools={"data": "/srv/data"})
LAB = HostTarget(name="@local", quadlet_dir="/lab/quadlet", backend=PodmanRun(),
                 lab_image="localhost/homelab-lab:latest", pools={"data": "/lab/mnt/data"})


def plan_for(target: HostTarget) -> HostPlan:
    return host_plan(load_stack(EXAMPLE), target, {"db-password": SECRET})


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"no golden file {path}: run with UPDATE_GOLDEN=1"
    assert text == path.read_text(), f"{name} differs from its golden file"


def test_units_match_golden_files() -> None:
    plan = plan_for(HOMELAB)
    patterns = {c.pattern for c in plan.containers}
    assert len(patterns) == 9
    for name, text in plan.units.items():
        _golden(name, text)
    assert sorted(p.name for p in GOLDEN.iterdir() if not p.name.endswith(".json")) == sorted(
        plan.units)


def test_podman_run_arguments_match_golden_file() -> None:
    plan = plan_for(HOMELAB)
    args = {c.name: run_args(c) for c in plan.containers}
    _golden("podman-run.json", json.dumps(args, indent=1, sort_keys=True) + "\n")


def test_every_unit_starts_with_the_stack_marker() -> None:
    for text in plan_for(HOMELAB).units.values():
        assert text.startswith(f"{STACK_MARKER}home\n")


def test_unit_and_podman_run_carry_the_same_spec() -> None:
    """Each spec field shows up in both renderings (they are the two derived forms)."""
    plan = plan_for(HOMELAB)
    for c in plan.containers:
        unit, args = plan.units[f"{c.name}.container"], run_args(c)
        assert f"Image={c.image}" in unit and c.image in args
        for p in c.ports:
            published = f"{p.host_ip}:{p.host_port}:{p.container_port}/{p.protocol}"
            assert f"PublishPort={published}" in unit and published in args
        for net in c.networks:
            assert f"Network={net}.network" in unit and net in args
        for m in c.mounts:
            ro = ":ro" if m.read_only else ""
            suffix = ".volume" if m.kind == "volume" else ""
            assert f"Volume={m.source}{suffix}:{m.destination}{ro}" in unit
            assert f"{m.source}:{m.destination}{ro}" in args
        for key, value in c.labels.items():
            assert f"Label={sd_quote(f'{key}={value}')}" in unit and f"{key}={value}" in args
        for key, value in c.env.items():
            assert f"Environment={sd_quote(f'{key}={value}')}" in unit
            assert f"{key}={value}" in args


def test_secrets_only_as_environment_file() -> None:
    plan = plan_for(HOMELAB)
    db = next(c for c in plan.containers if c.name == "home-db")
    assert db.env_file == "/etc/containers/systemd/homelab-ops-secrets/home-db.env"
    assert f"EnvironmentFile={db.env_file}" in plan.units["home-db.container"]
    assert plan.env_files["home-db.env"] == (
        f"{STACK_MARKER}home\nPOSTGRES_PASSWORD={SECRET}\n")
    everything = json.dumps([c.model_dump() for c in plan.containers]) + "".join(
        plan.units.values()) + json.dumps([run_args(c) for c in plan.containers])
    assert SECRET not in everything


def test_lab_overrides_image_command_health_and_pools() -> None:
    lab = {c.name: c for c in plan_for(LAB).containers}
    real = {c.name: c for c in plan_for(HOMELAB).containers}
    metrics = lab["home-metrics"]
    assert metrics.image == "localhost/homelab-lab:latest" and metrics.command == []
    assert metrics.env["LAB_HTTP_PORT"] == "9100"
    assert metrics.healthcheck.cmd == "wget -q -O /dev/null http://127.0.0.1:9100/"
    assert metrics.http_check.path == "/"
    assert metrics.ports == real["home-metrics"].ports  # published the same way
    media = lab["home-media"]
    assert [m.source for m in media.mounts if m.kind == "bind"] == [
        "/lab/mnt/data/media", "/lab/mnt/data/photos"]
    assert media.labels[DIGEST_LABEL] != real["home-media"].labels[DIGEST_LABEL]
    assert media.labels[DIGEST_LABEL] == media.digest()


def test_unknown_pool_is_an_input_error() -> None:
    from homelab_ops.errors import InputError

    with pytest.raises(InputError, match=r"services\.media: on bare: .*no BTRFS pool 'data'"):
        plan_for(HostTarget(name="bare", quadlet_dir="/q", backend=QuadletUnits()))


@pytest.mark.parametrize(("word", "quoted"), [
    ("plain", "plain"),
    ("Host(`a.b`)", "Host(`a.b`)"),
    ("two words", '"two words"'),
    ('say "hi"', '"say \\"hi\\""'),
    ("100%", "100%%"),
])
def test_sd_quote(word: str, quoted: str) -> None:
    assert sd_quote(word) == quoted


def _service_unit(container_unit: str, args: list[str]) -> str:
    """The .service quadlet generates from a .container: its [Unit], [Service] and
    [Install] sections as written, the [Container] section turned into ExecStart (our
    podman-run rendering of the same spec). Debian 12's podman 4.3 ships no quadlet
    generator, so this stands in for `podman-system-generator --dryrun`."""
    sections = re.split(r"(?m)^(?=\[)", container_unit)
    kept = [s for s in sections if s.startswith(("[Unit]", "[Service]", "[Install]"))]
    exec_start = "ExecStart=/usr/bin/podman " + " ".join(sd_quote(a) for a in args)
    return "".join(s.replace("[Service]\n", f"[Service]\n{exec_start}\n") for s in kept)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_generated_services_pass_systemd_analyze_verify(tmp_path) -> None:
    plan = plan_for(HOMELAB)
    files = []
    for c in plan.containers:
        path = tmp_path / f"{c.name}.service"
        path.write_text(_service_unit(plan.units[f"{c.name}.container"], run_args(c)))
        files.append(str(path))
    proc = subprocess.run(["systemd-analyze", "verify", "--man=no", *files],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == "", proc.stderr  # warnings (unknown keys ...) count too


def _site(tmp_path: Path, root: str, allow: str = "") -> Path:
    path = tmp_path / "stack.yaml"
    path.write_text(f"name: s\nservices:\n  www:\n    pattern: static-site\n"
                    f"    params: {{host: a.b, root: {json.dumps(root)}}}\n{allow}")
    return path


@pytest.mark.parametrize("root", ["site", "/srv/a:b", "/srv/../etc"])
def test_bind_sources_must_be_absolute_paths(tmp_path, root: str) -> None:
    from homelab_ops.errors import InputError

    with pytest.raises(InputError, match=r"services\.www: on homelab: .*bind source"):
        host_plan(load_stack(_site(tmp_path, root)), HOMELAB, {})


@pytest.mark.parametrize(("root", "protected"), [
    ("/", "/etc"), ("/etc", "/etc"), ("/etc/nginx", "/etc"), ("/proc", "/proc"),
    ("/var", "/var/run"), ("/var/lib/containers/storage", "/var/lib/containers"),
    ("/run/podman/podman.sock", "/run"), ("/root", "/root"), ("/boot/", "/boot"),
    ("/srv/state", "/srv/state"),  # the state directory of this process (@local)
])
def test_system_paths_are_refused_as_bind_sources(tmp_path, monkeypatch, root: str,
                                                  protected: str) -> None:
    from homelab_ops.errors import InputError

    monkeypatch.setenv("HOMELAB_OPS_STATE_DIR", "/srv/state")
    local = host_target("@local", {}, {"uid": 1000, "home": "/home/u", "systemd": False})
    with pytest.raises(InputError) as exc:
        host_plan(load_stack(_site(tmp_path, root)), local, {})
    assert exc.value.field == "services.www"
    assert f"exposes the system path {protected} of host @local" in exc.value.message
    assert "allow_system_paths" in exc.value.message


def test_a_system_path_the_stack_allows_by_name(tmp_path) -> None:
    allow = "    allow_system_paths: [/etc/ssl]\n"
    plan = host_plan(load_stack(_site(tmp_path, "/etc/ssl", allow)), HOMELAB, {})
    assert [m.source for m in plan.containers[0].mounts] == ["/etc/ssl"]
    # the allowance is policy, not the container's shape: the digest ignores it
    spec = plan.containers[0]
    bare = spec.model_copy(update={"mounts": [m.model_copy(update={"allow_system_path": False})
                                              for m in spec.mounts]})
    assert bare.digest() == spec.digest()


def test_an_allowance_must_name_a_bind_source(tmp_path) -> None:
    from homelab_ops.errors import InputError

    with pytest.raises(InputError) as exc:
        load_stack(_site(tmp_path, "/srv/www", "    allow_system_paths: [/etc]\n"))
    assert exc.value.field == "services.www.allow_system_paths"
    assert exc.value.message == "'/etc' is not a bind source of this service"


def test_ordinary_paths_and_pool_paths_are_accepted(tmp_path) -> None:
    plan = host_plan(load_stack(_site(tmp_path, "/srv/www")), HOMELAB, {})
    assert [m.source for m in plan.containers[0].mounts] == ["/srv/www"]
    # a pool lies where host data says, even inside the state directory (the lab's)
    lab = HostTarget(name="@local", quadlet_dir="/q", backend=PodmanRun(),
                     pools={"data": "/root/.local/state/homelab-ops/lab/mnt/data"})
    plan = host_plan(load_stack(_site(tmp_path, "pool:data/photos")), lab, {})
    assert plan.containers[0].mounts[0].source.endswith("/lab/mnt/data/photos")


@pytest.mark.parametrize("ip", ["not-an-ip", "127.0.0.256", "::1", ""])
def test_publish_ip_must_be_an_ipv4_address(tmp_path, ip: str) -> None:
    from homelab_ops.errors import InputError

    path = tmp_path / "stack.yaml"
    path.write_text(f"name: s\npublish_ip: {json.dumps(ip)}\nservices:\n"
                    "  www: {pattern: static-site, params: {host: a.b, root: /srv/w}}\n")
    with pytest.raises(InputError) as exc:
        load_stack(path)
    assert exc.value.field == "publish_ip"
    assert repr(ip) in exc.value.message


def test_percent_signs_reach_systemd_literally() -> None:
    """``%`` is a systemd specifier: every value that lands in a unit file doubles it."""
    from homelab_ops.collection.lib.units import render_units

    c = next(c for c in plan_for(HOMELAB).containers if c.healthcheck)
    c = c.model_copy(update={
        "image": "registry.example/app:100%",
        "healthcheck": c.healthcheck.model_copy(update={"cmd": "test 100% -gt 1"})})
    text = render_units("home", [c], [], [])[f"{c.name}.container"]
    assert "Image=registry.example/app:100%%\n" in text
    assert "HealthCmd=test 100%% -gt 1\n" in text
    assert "%" not in text.replace("%%", "")


def test_a_failed_podman_run_removes_what_it_created() -> None:
    """A port taken or a bind source missing can leave a ``Created`` container carrying
    the spec's labels: the run command removes it and still fails."""
    from homelab_ops.collection.operations.podman import run_or_remove

    spec = plan_for(HOMELAB).containers[0]
    text = run_or_remove(spec).get_raw_value()
    run, _, cleanup = text.partition(" || ")
    assert run.startswith(f"podman run --detach --name {spec.name} ")
    assert cleanup == (f"{{ podman rm --force --time 0 {spec.name} >/dev/null 2>&1; "
                       "false; }")
    result = subprocess.run(["sh", "-c", f"false || {cleanup.replace('podman', 'true')}"])
    assert result.returncode == 1


def test_health_of_a_missing_container_fails_fast_without_retries() -> None:
    """Real podman, real testinfra (local): a container that does not exist fails its
    running check once and its other checks are not tried (no 20 retries each)."""
    from homelab_ops.stacks.health import checks, validate

    plan = plan_for(HOMELAB)
    web = next(c for c in plan.containers if c.http_check and c.healthcheck)
    one = HostPlan(plan.stack, plan.target, [web.model_copy(
        update={"name": f"absent-{os.getpid()}"})], {}, {})
    heard: list = []
    results = validate({"@local": one}, {"@local": {}}, lambda c, n: heard.append((c, n)))
    assert [r.kind for r in results] == [c.kind for c in checks(one)]
    assert (results[0].kind, results[0].ok, results[0].seen) == (
        "running", False, "missing")
    assert all(r.seen == "not checked: container missing" and not r.ok
               for r in results[1:])
    assert heard == []
