"""The collection documents itself as pyinfra's operations do (``pyinfra/operations/
apt.py``): a user of the plain pyinfra CLI learns each operation and deploy from
``help()`` — a one-line summary, one ``+ name:`` line per argument, an example."""

from __future__ import annotations

import ast
import inspect
import textwrap
from importlib import import_module

import pytest

MODULES = [
    *(f"homelab_ops.collection.operations.{m}" for m in ("btrfs", "podman", "quadlet")),
    *(f"homelab_ops.collection.deploys.{m}"
      for m in ("backup", "cycle", "remediate", "report", "stack")),
]


def documented() -> dict[str, object]:
    """``module.name`` -> each ``@operation`` and ``@deploy`` the modules define."""
    out = {}
    for path in MODULES:
        module = import_module(path)
        for name, value in vars(module).items():
            inner = getattr(value, "_inner", None)
            if getattr(value, "__module__", None) != path or inner is None:
                continue
            if hasattr(inner, "is_idempotent") or hasattr(inner, "deploy_name"):
                out[f"{path.rsplit('.', 1)[-1]}.{name}"] = inner
    return out


def test_the_modules_hold_operations_and_deploys() -> None:
    found = documented()
    assert {"btrfs.send", "podman.containers", "quadlet.stack_files", "stack.stack",
            "remediate.restart", "backup.backup"} <= set(found)


@pytest.mark.parametrize("name", sorted(documented()))
def test_docstring(name: str) -> None:
    func = documented()[name]
    doc = inspect.getdoc(func) or ""
    lines = doc.splitlines()
    assert lines and lines[0].strip(), f"{name}: no summary line"
    assert len(lines) == 1 or not lines[1].strip(), f"{name}: summary is not one line"
    for arg in inspect.signature(func).parameters:
        assert f"+ {arg}: " in doc, f"{name}: no '+ {arg}:' line"
    assert "**Example:**" in doc, f"{name}: no example"
    example = doc.split("**Example:**", 1)[1].split(".. code:: python", 1)[1]
    ast.parse(textwrap.dedent(example.strip("\n")))  # the example is Python
