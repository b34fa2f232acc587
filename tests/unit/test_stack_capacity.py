"""Capacity requirements count only what a deploy adds."""

from __future__ import annotations

from homelab_ops.stacks.capacity import mount_of, requirements
from homelab_ops.stacks.load import load_stack
from tests.unit.test_stack_drift import PLAN, live_of
from tests.unit.test_stack_units import EXAMPLE

DECLARED = load_stack(EXAMPLE)


def test_first_deploy_needs_every_limit_and_volume() -> None:
    need = requirements(PLAN, DECLARED, [], "/var")
    assert need.host == "@local"
    assert need.memory_bytes == sum(c.memory_bytes for c in PLAN.containers)
    assert need.disk_bytes == {"/var": sum(v.size_bytes for v in DECLARED.volumes)}


def test_redeploy_needs_nothing() -> None:
    need = requirements(PLAN, DECLARED, [live_of(c) for c in PLAN.containers], "/var")
    assert need.memory_bytes == 0 and need.disk_bytes == {}


def test_one_missing_container_brings_its_volumes() -> None:
    live = [live_of(c) for c in PLAN.containers if c.name != "home-db"]
    need = requirements(PLAN, DECLARED, live, "/var")
    db = next(c for c in PLAN.containers if c.name == "home-db")
    assert need.memory_bytes == db.memory_bytes
    assert need.disk_bytes == {"/var": 10 * 2**30}


def test_mount_of_picks_the_longest_prefix() -> None:
    mounts = ["/", "/var", "/var/lib/containers", "/var/lib/containers2"]
    assert mount_of("/var/lib/containers/storage", mounts) == "/var/lib/containers"
    assert mount_of("/srv/x", mounts) == "/"
    assert mount_of("/var", mounts) == "/var"
