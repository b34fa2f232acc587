"""What the lab VM gets of the agent: its dependency list (part of the image key),
and the files pushed at `lab up` (the inventory the agent there reads)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from homelab_ops.inventory import load_inventory
from homelab_ops.lab import vm, vm_agent
from homelab_ops.lab.core import LAB_BACKUP
from homelab_ops.models.lab import VmSpec

DATA = {"systemd": True, "backup": LAB_BACKUP,
        "btrfs_pools": {"data": "/srv/pools/data", "backup": "/srv/pools/backup"}}


def test_requirements_are_the_runtime_ones_without_debians(monkeypatch) -> None:
    reqs = vm_agent.requirements()
    names = {r.split(">")[0].split("<")[0].split("=")[0] for r in reqs}
    assert {"pyinfra", "pydantic", "click"} <= names
    assert not names & {"btrfsutil", "pytest", "ruff", "hypothesis", "paramiko"}
    before = vm.image_key(VmSpec())
    monkeypatch.setattr(vm_agent, "requirements", lambda: [*reqs, "six>=1"])
    assert vm.image_key(VmSpec()) != before  # a new dependency rebuilds the image


def test_the_pushed_inventory_loads_as_the_agents_own_local_host(tmp_path: Path) -> None:
    script, tar = vm_agent.push_script(DATA)
    with tarfile.open(fileobj=io.BytesIO(tar)) as t:
        names = t.getnames()
        (tmp_path / "inventory.py").write_bytes(t.extractfile("inventory.py").read())
        exe = t.extractfile("exe").read().decode()
    assert "src/homelab_ops/cli.py" in names and "src/homelab_ops/collection/lib/timer_units/" \
        "homelab-ops-backup.service.j2" in names
    assert not any("__pycache__" in n for n in names)
    assert exe.startswith(f"#!{vm_agent.VENV}/bin/python\n")
    hosts = {h.name: h.data.dict() for h in load_inventory(tmp_path / "inventory.py")}
    assert list(hosts) == ["@local"] and hosts["@local"]["btrfs_pools"] == DATA["btrfs_pools"]
    assert f"{vm_agent.INVENTORY}" in script and f"{vm_agent.EXE}" in script


def test_the_digest_changes_with_what_is_pushed() -> None:
    first, _ = vm_agent.push_script(DATA)
    assert vm_agent.push_script(DATA)[0] == first  # unchanged: the VM skips the push
    assert vm_agent.push_script({**DATA, "systemd": False})[0] != first
