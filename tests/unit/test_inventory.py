"""Malformed inventories give one clear error naming the file (and host and field)."""

from __future__ import annotations

from pathlib import Path

import pytest

from homelab_ops.errors import InputError
from homelab_ops.inventory import inventory_from_entries, load_inventory


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "inv.py"
    path.write_text(text)
    return path


def test_valid_inventory_loads(tmp_path: Path) -> None:
    inv = load_inventory(_write(tmp_path, 'homelab = [("nas", {"ssh_hostname": "127.0.0.1",'
                                          ' "systemd": True})]\n'))
    assert [h.name for h in inv] == ["nas"]


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ("homelab = [('nas', {'systemd': 'maybe'})]\n", "hosts[nas].systemd", "boolean"),
        ("homelab = [('nas', {'btrfs_pools': ['/srv']})]\n", "hosts[nas].btrfs_pools",
         "dictionary"),
        ("homelab = [('nas', {'_env': {'A': 1}})]\n", "hosts[nas]._env.A", "string"),
        ("homelab = [('nas', {)]\n", "line 1", "not valid Python"),
        ("x = 1\n", None, "no hosts"),
    ],
)
def test_bad_inventory(tmp_path: Path, text: str, field: str | None, words: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(InputError) as exc:
        load_inventory(path)
    assert exc.value.path == path and exc.value.field == field
    assert words in str(exc.value)


def test_missing_inventory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        load_inventory(tmp_path / "nope.py")


def test_entries_are_validated_too() -> None:
    with pytest.raises(InputError, match=r"hosts\[pi\]\.systemd"):
        inventory_from_entries([("pi", {"systemd": "sometimes"})], "lab.json")


@pytest.mark.parametrize(("key", "close"), [("btrfs_pool", "btrfs_pools"),
                                            ("sytemd", "systemd"),
                                            ("homelab_ops_exec", "homelab_ops_exe"),
                                            ("ssh_prot", "ssh_port")])
def test_misspelt_key_is_one_line_naming_file_host_key_and_match(
        tmp_path: Path, key: str, close: str) -> None:
    path = _write(tmp_path, f'homelab = [("nas", {{"systemd": True}}), ("pi", {{"{key}": 1}})]\n')
    with pytest.raises(InputError) as exc:
        load_inventory(path)
    assert str(exc.value) == (f"{path}: hosts[pi].{key}: unknown host data key: "
                              f"did you mean {close}?")


def test_pyinfra_keys_and_the_users_own_keys_pass(tmp_path: Path) -> None:
    data = {"_sudo": True, "_su_user": "ops", "_env": {"A": "1"}, "ssh_password": "x",
            "ssh_strict_host_key_checking": "yes", "docker_identifier": "c1",
            "timezone": "UTC", "role": "media", "owner_email": "me@example.org"}
    inv = load_inventory(_write(tmp_path, f"homelab = [('nas', {data!r})]\n"))
    (nas,) = inv
    assert {k: nas.data.get(k) for k in data} == data


def test_misspelt_key_from_the_agent_entries_is_refused_too() -> None:
    with pytest.raises(InputError, match=r"hosts\[pi\]\.lab_imag: .*did you mean lab_image"):
        inventory_from_entries([("pi", {"lab_imag": "busybox"})], "lab.json")
