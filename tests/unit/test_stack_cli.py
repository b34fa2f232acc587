"""The stack commands as a user runs them (no lab needed): patterns, and input errors
as one line naming the file and field."""

from __future__ import annotations

import json

from tests.conftest import run_cli
from tests.unit.test_stack_load import NINE


def test_patterns_list_and_show(tmp_path) -> None:
    env = {"HOMELAB_OPS_STATE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    rows = json.loads(run_cli("patterns", "list", "--json", env=env).stdout)
    assert [r["name"] for r in rows] == NINE
    shown = json.loads(run_cli("patterns", "show", "database", "--json", env=env).stdout)
    assert shown["parameters"]["password"] == {
        "type": "secret", "required": True, "default": None,
        "description": "secret holding the superuser password"}
    human = run_cli("patterns", "show", "media-server", env=env).stdout
    assert "media (list, required)" in human
    bad = run_cli("patterns", "show", "nope", env=env, check=False)
    assert bad.returncode == 1 and "unknown pattern 'nope'" in bad.stderr


def test_deploy_of_an_invalid_stack_is_one_line(tmp_path) -> None:
    env = {"HOMELAB_OPS_STATE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    path = tmp_path / "stack.yaml"
    path.write_text("name: home\nservices:\n  web: {pattern: wordpress}\n")
    proc = run_cli("deploy", str(path), "--dry-run", env=env, check=False)
    assert proc.returncode == 2
    assert proc.stderr == (f"homelab-ops: error: {path}: services.web.pattern: unknown "
                           f"pattern 'wordpress' (known: {', '.join(NINE)})\n")


def _deployed(state_dir, name: str, path) -> None:
    from homelab_ops.store import Store

    with Store.open(state_dir) as store:
        store.record_deployment(host="@local", stack=name, service="web", pattern="web-app",
                                spec_digest="x", ok=True, detail={"stack_file": str(path)})


def test_a_moved_stack_file_is_unavailable_and_can_be_forgotten(tmp_path) -> None:
    env = {"HOMELAB_OPS_STATE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    gone = tmp_path / "moved-away.yaml"
    _deployed(tmp_path, "home", gone)
    for cmd in ("drift", "health"):
        proc = run_cli(cmd, env=env, check=False)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert (f"stack home is unavailable: {gone}: file does not exist" in proc.stdout)
    listed = json.loads(run_cli("stacks", "list", "--json", env=env).stdout)
    assert listed == [{"stack": "home", "file": str(gone), "exists": False}]
    forgot = run_cli("stacks", "forget", "home", env=env)
    assert "forgot stack home (1 deployment record(s))" in forgot.stdout
    again = run_cli("stacks", "forget", "home", env=env, check=False)
    assert again.returncode == 1 and "no deployed stack called 'home'" in again.stderr
    nothing = run_cli("drift", env=env, check=False)
    assert nothing.returncode == 1 and "no stack deployed yet" in nothing.stderr


def test_two_files_claiming_one_stack_name_are_refused(tmp_path) -> None:
    env = {"HOMELAB_OPS_STATE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    text = "name: home\nservices:\n  web: {pattern: web-app, params: {host: a.b}}\n"
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text(text)
    second.write_text(text)
    both = run_cli("drift", str(first), str(second), env=env, check=False)
    assert both.returncode == 1
    assert f"stack 'home' is declared by two files: {first} and {second}" in both.stderr
    _deployed(tmp_path, "home", first)
    proc = run_cli("deploy", str(second), "--dry-run", env=env, check=False)
    assert proc.returncode == 1
    assert (f"stack 'home' is declared by two files: {first} (deployed) and {second}"
            in proc.stderr)
