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
