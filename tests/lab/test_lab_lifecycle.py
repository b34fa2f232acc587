"""`lab up` twice is harmless and keeps data; `lab down` leaves nothing behind — also
after a half-failed `up` — and refuses directories it did not create."""

from __future__ import annotations

from pathlib import Path

import pytest

from homelab_ops.errors import LabError
from homelab_ops.lab import Lab
from homelab_ops.lab.podman import podman
from homelab_ops.lab.pools import mounts_under
from homelab_ops.lab.sshd import free_port, listening, running_pid
from homelab_ops.lab.vm import Vm
from homelab_ops.models.lab import LabSpec
from homelab_ops.proc import CommandError

pytestmark = pytest.mark.lab


def _processes_mentioning(text: str) -> list[int]:
    """Live (non-zombie) processes whose command line mentions ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if text.encode() in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def _assert_gone(lab: Lab) -> None:
    root = lab.paths.root
    assert not root.exists()
    assert mounts_under(root) == []
    for dev in Path("/sys/block").glob("loop*"):
        backing = dev / "loop/backing_file"
        if backing.exists():
            assert str(root) not in backing.read_text(), f"{dev.name} still backs {root}"
    assert _processes_mentioning(str(root)) == []


def test_up_twice_is_harmless_and_down_removes_everything(tmp_path: Path) -> None:
    """With the VM: the second `up` reuses it (same qemu, same port), `down` leaves no
    qemu process, loop device, mount or listening port behind."""
    lab = Lab(tmp_path / "lab2")
    first = lab.up()
    pid = running_pid(lab.paths)
    the_vm = Vm(lab.paths, lab.spec.vm)
    qemu = the_vm.running_pid()
    assert qemu is not None and first["vm"]["reachable"]
    photo = lab.paths.pool_mount("data") / "photos" / "keep.jpg"
    photo.write_bytes(b"family photo")
    # a container with a network and a published port, as a deploy would leave it
    podman(lab.paths, "network", "create", "lab2net")
    podman(lab.paths, "run", "-d", "--name", "web", "--network", "lab2net",
           "-p", f"127.0.0.1:{free_port()}:80", lab.spec.image)
    try:
        second = lab.up()
        assert running_pid(lab.paths) == pid, "second up restarted sshd"
        assert second["sshd"]["port"] == first["sshd"]["port"]
        assert photo.read_bytes() == b"family photo", "second up lost pool data"
        assert second["containers"] == 1
        assert second["up"] is True
        assert the_vm.running_pid() == qemu and second["vm"]["port"] == first["vm"]["port"]
        assert "boot_s" not in second["vm_timings"]
    finally:
        assert lab.down()["removed"] is True
    _assert_gone(lab)
    for port in (first["sshd"]["port"], first["vm"]["port"]):
        assert not listening(port), f"127.0.0.1:{port} still listens"
    assert lab.down()["removed"] is False  # down twice is harmless too


def test_down_after_half_failed_up(tmp_path: Path) -> None:
    """A real fault mid-way (the client key path is a directory) stops `up` after the
    pools are mounted; `down` must still clean up completely."""
    lab = Lab(tmp_path / "lab3", LabSpec(vm=None))
    (lab.paths.ssh / "id_ed25519.pub").mkdir(parents=True)
    lab.paths.root.joinpath(".homelab-ops-lab").touch()
    try:
        with pytest.raises(CommandError, match="Is a directory"):
            lab.up()
        assert lab.paths.pool_mount("data").resolve() in mounts_under(lab.paths.root)
    finally:
        lab.down()
    _assert_gone(lab)


def test_down_refuses_a_directory_it_did_not_create(tmp_path: Path) -> None:
    precious = tmp_path / "not-a-lab"
    precious.mkdir()
    (precious / "photo.jpg").write_bytes(b"x")
    with pytest.raises(LabError, match="not a homelab-ops lab"):
        Lab(precious).down()
    with pytest.raises(LabError, match="not a homelab-ops lab"):
        Lab(precious).up()
    assert (precious / "photo.jpg").exists()

