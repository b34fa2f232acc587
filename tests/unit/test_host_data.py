"""Host data is declared once (models.inventory.HostData): the documented group data file
is generated from it, every key the code reads is declared, readers fall back to its
defaults, and a misspelt key in an inventory is one clear line.

Rewrite inventory/group_data/all.py after changing the model with
``UPDATE_GOLDEN=1 pytest tests/unit/test_host_data.py``.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from homelab_ops.models import group_data
from homelab_ops.models.inventory import HostData, data_keys, host_value

ROOT = Path(__file__).resolve().parents[2]
ALL_PY = ROOT / "inventory" / "group_data" / "all.py"


def test_group_data_file_is_what_the_model_generates() -> None:
    text = group_data.render()
    if os.environ.get("UPDATE_GOLDEN"):
        ALL_PY.write_text(text)
    assert ALL_PY.read_text() == text, "run UPDATE_GOLDEN=1 pytest tests/unit/test_host_data.py"


def test_group_data_assigns_user_keys_only_with_their_defaults() -> None:
    """A pyinfra key present in group data overrides pyinfra's own default (ssh_port,
    ssh_user...): those, and the agent's keys, are comments only."""
    from homelab_ops.inventory import load_inventory

    (local,) = load_inventory(ROOT / "inventory" / "local.py")  # no host data of its own
    assigned = local.data.dict()
    fields = HostData.model_fields
    user = {k for k, n in data_keys().items() if fields[n].json_schema_extra["owner"] == "user"}
    assert set(assigned) == user
    assert "ssh_port" not in assigned and "_env" not in assigned
    assert all(assigned[k] == fields[data_keys()[k]].get_default() for k in assigned)


def _keys_read(path: Path) -> set[str]:
    """Literal keys of ``data.get("k")``, ``host.data.get("k")``, ``data["k"]`` and
    ``host_value(d, "k")`` in one module."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[-1], ast.Constant):
            f = node.func
            if (isinstance(f, ast.Attribute) and f.attr == "get" and len(node.args) == 1
                    and ast.unparse(f.value) in ("data", "host.data")) or (
                    isinstance(f, ast.Name) and f.id == "host_value"):
                found.add(node.args[-1].value)
        elif isinstance(node, ast.Subscript) and ast.unparse(node.value) == "data" \
                and isinstance(node.slice, ast.Constant):
            found.add(node.slice.value)
    return found


# modules whose `data` is something else than host data (lab status, command results;
# everything under render/ reads command results)
NOT_HOST_DATA = {"lab/core.py", "commands/recommend.py", "models/stack.py"}


def test_every_host_data_key_the_code_reads_is_declared() -> None:
    files = [p for p in (ROOT / "homelab_ops").rglob("*.py")
             if (rel := str(p.relative_to(ROOT / "homelab_ops"))) not in NOT_HOST_DATA
             and not rel.startswith("render/")]
    read = set().union(*map(_keys_read, [*files, *(ROOT / "deploys").glob("*.py")]))
    assert {"systemd", "btrfs_pools", "homelab_ops_exe", "playbook"} <= read  # the scan sees
    assert read - set(data_keys()) == set()


def test_readers_fall_back_to_declared_defaults() -> None:
    assert host_value({}, "homelab_ops_exe") == "/usr/local/bin/homelab-ops"
    assert host_value({"homelab_ops_exe": ""}, "homelab_ops_exe") == "/usr/local/bin/homelab-ops"
    assert host_value({"systemd": False}, "systemd") is False  # a value: plain podman
    assert host_value({"systemd": None}, "systemd") is None
    assert host_value({"backup": None}, "backup") == {"volumes": []}
    host_value({}, "btrfs_pools")["x"] = "/mnt"  # a fresh default every time
    assert host_value({}, "btrfs_pools") == {}
    assert host_value({"_env": {"A": "1"}}, "_env") == {"A": "1"}
    with pytest.raises(KeyError, match="not declared"):
        host_value({}, "btrfs_pool")
