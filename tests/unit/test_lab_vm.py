"""The lab VM's pure parts: what the cached image is keyed by, the guest set-up script,
and the inventory without second names of a machine."""

from __future__ import annotations

from pathlib import Path

import pytest

from homelab_ops.inventory import distinct_hosts, inventory_from_entries
from homelab_ops.lab import vm
from homelab_ops.models.lab import PoolSpec, VmSpec


@pytest.mark.parametrize("change", [
    {"suite": "forky"}, {"mirror": "http://mirror.invalid/debian"},
    {"packages": (*VmSpec().packages, "jq")}, {"name": "other-vm"},
    {"root_size_mib": 8192},
])
def test_every_input_of_the_image_changes_its_key(change) -> None:
    assert vm.image_key(VmSpec(**change)) != vm.image_key(VmSpec())


def test_the_key_ignores_what_is_not_in_the_image(tmp_path: Path) -> None:
    """Memory, CPUs and the cache's place are how it boots or where it is kept."""
    same = VmSpec(memory_mib=4096, cpus=1, cache=tmp_path)
    assert vm.image_key(same) == vm.image_key(VmSpec())
    assert vm.image_key(VmSpec(packages=tuple(reversed(VmSpec().packages)))) == \
        vm.image_key(VmSpec())


def test_the_recipe_version_is_part_of_the_key(monkeypatch) -> None:
    before = vm.image_key(VmSpec())
    monkeypatch.setattr(vm, "RECIPE", vm.RECIPE + 1)
    assert vm.image_key(VmSpec()) != before


def test_guest_setup_formats_a_disk_only_when_it_is_not_btrfs() -> None:
    script = vm._guest_setup((PoolSpec(name="data", size_mib=512, subvolumes=("photos",)),))
    lines = script.splitlines()
    mkfs = next(ln for ln in lines if "mkfs.btrfs" in ln)
    assert mkfs.startswith('[ "$(blkid') and "= btrfs ] ||" in mkfs  # never re-formats
    assert "[ -d /srv/pools/data/photos ] || btrfs -q subvolume create" in script
    assert "nofail" not in script  # a missing pool disk fails the boot, never hides data


def test_distinct_hosts_drops_second_names_only() -> None:
    inv = inventory_from_entries([("@local", {}), ("lab-ssh", {"alias_of": "@local"}),
                                  ("lab-vm", {"ssh_port": 2222})], "test")
    assert [h.name for h in distinct_hosts(inv)] == ["@local", "lab-vm"]
    plain = inventory_from_entries([("@local", {})], "test")
    assert distinct_hosts(plain) is plain
