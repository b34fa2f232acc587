"""The house's structure, held by tests: the pyinfra collection works with none of the
agent's packages importable, and the package graph (every import, lazy ones included)
has no cycle."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict

from tests.conftest import REPO

PACKAGE = REPO / "homelab_ops"
# what the collection may import of homelab_ops: itself, the models and two leaf modules
COLLECTION_MAY_USE = ("collection", "models", "errors", "locations")

# Run in a fresh interpreter: every homelab_ops module outside COLLECTION_MAY_USE is
# refused at import; then every collection module is imported, and a real fact and a
# real operation run on @local (this machine) through pyinfra's own API.
ALONE = r"""
import importlib, importlib.abc, pkgutil, sys, tempfile
from pathlib import Path

ALLOWED = set(sys.argv[1].split(","))

class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        parts = name.split(".")
        if parts[0] == "homelab_ops" and len(parts) > 1 and parts[1] not in ALLOWED:
            raise ImportError(f"the collection imported the agent's {name}")
        return None

sys.meta_path.insert(0, Refuse())
import homelab_ops.collection as collection
for mod in pkgutil.walk_packages(collection.__path__, "homelab_ops.collection."):
    importlib.import_module(mod.name)

from pyinfra.api import Config, Inventory, State
from pyinfra.api.operation import add_op
from pyinfra.api.operations import run_ops
from pyinfra.context import ctx_host, ctx_state

from homelab_ops.collection.facts.quadlet import StackFiles
from homelab_ops.collection.operations import quadlet
from homelab_ops.models.stack import STACK_MARKER

where = tempfile.mkdtemp()
files = {"demo-web.container": STACK_MARKER + "demo\n[Container]\nImage=web\n"}
changed = []
for _ in range(2):  # a second run changes nothing
    state = State(Inventory((["@local"], {})), Config())
    host = next(iter(state.inventory))
    with ctx_state.use(state):
        host.connect(raise_exceptions=True)
        state.activate_host(host)
        add_op(state, quadlet.stack_files, directory=where, stack="demo", contents=files)
        run_ops(state)
        changed.append(any(op.operation_meta.did_change()
                           for op in state.ops[host].values()))
        with ctx_host.use(host):
            seen = host.get_fact(StackFiles, directory=where, stack="demo")
assert changed == [True, False], changed
assert set(seen) == set(files), seen
assert (Path(where) / "demo-web.container").read_text() == files["demo-web.container"]
print("alone ok")
"""


def test_the_collection_stands_alone() -> None:
    proc = subprocess.run([sys.executable, "-c", ALONE, ",".join(COLLECTION_MAY_USE)],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 0 and "alone ok" in proc.stdout, proc.stdout + proc.stderr


def test_the_refusal_would_catch_an_agent_import() -> None:
    """The guard itself: importing one agent package under it fails."""
    probe = ALONE.split("import homelab_ops.collection as collection")[0]
    proc = subprocess.run([sys.executable, "-c", probe + "import homelab_ops.stacks.load\n",
                           ",".join(COLLECTION_MAY_USE)],
                          capture_output=True, text=True, timeout=60, cwd=REPO)
    assert proc.returncode != 0 and "the collection imported the agent's" in proc.stderr


def _unit(module: str) -> str | None:
    """The node of the package graph a module belongs to: a subpackage or a top-level
    module of homelab_ops (``homelab_ops.backup.runner`` -> ``backup``)."""
    parts = module.split(".")
    if parts[0] != "homelab_ops" or len(parts) < 2:
        return None
    return parts[1] if (PACKAGE / parts[1]).is_dir() or (PACKAGE / f"{parts[1]}.py").is_file() \
        else None


def package_graph() -> dict[str, set[str]]:
    """unit -> the units it imports, from every import statement (lazy ones too)."""
    edges: dict[str, set[str]] = defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        here = _unit(".".join(path.relative_to(REPO).with_suffix("").parts))
        if here is None:  # homelab_ops/__init__.py
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            edges[here] |= {u for n in names if (u := _unit(n)) and u != here}
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one unit (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while (w := stack.pop()) != v:
                group.append(w)
            if group:
                found.append(sorted([v, *group]))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_package_graph_has_no_cycle() -> None:
    graph = package_graph()
    assert {"collection", "backup", "stacks", "loop", "models"} <= set(graph)
    assert cycles(graph) == [], cycles(graph)
    assert graph["collection"] <= set(COLLECTION_MAY_USE), graph["collection"]


def test_the_cycle_finder_finds_one() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
