"""Shape of the sandbox lab: what ``lab up`` builds and what it remembers having built."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

# names of lab pools, subvolumes, the VM and its ssh alias (files and host names)
LabName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]


class PoolSpec(BaseModel):
    """A BTRFS pool on a sparse loop file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: LabName
    size_mib: Annotated[int, Field(ge=160)]  # mkfs.btrfs refuses much smaller devices
    subvolumes: tuple[LabName, ...] = ()


VM_PACKAGES = (
    "systemd-sysv", "podman", "crun", "netavark", "aardvark-dns", "conmon",
    "nftables",  # netavark cannot start a container without it
    "openssh-server", "btrfs-progs", "busybox-static", "iproute2", "linux-image-cloud-amd64",
    "curl",  # the stacks' HTTP checks run on the host they check
    # the agent itself runs there (its backup timers); btrfsutil from Debian, built
    # against the VM's own libbtrfsutil, the rest pip-installed into a venv at build
    "python3", "python3-venv", "python3-btrfsutil",
)


class VmSpec(BaseModel):
    """The lab's second host: Debian with systemd as PID 1 under qemu, its own BTRFS
    disks (one per pool) and sshd, reached on a 127.0.0.1 port like a real host."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: LabName = "lab-vm"
    suite: str = "trixie"
    mirror: str = "http://deb.debian.org/debian"
    packages: tuple[str, ...] = VM_PACKAGES
    cpus: Annotated[int, Field(ge=1)] = 2
    memory_mib: Annotated[int, Field(ge=512)] = 2048
    root_size_mib: Annotated[int, Field(ge=2048)] = 4096
    boot_timeout_s: Annotated[float, Field(gt=0)] = 300  # TCG on a busy 2-core CI box
    cache: Path = Path("/var/cache/homelab-ops/vm")  # the built root image, kept by `down`


class LabSpec(BaseModel):
    """The sandbox homelab the tests, the benchmarks and the README's main job run on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    image: str = "localhost/homelab-lab:latest"
    ssh_alias: LabName = "lab-ssh"
    pools: tuple[PoolSpec, ...] = (
        PoolSpec(name="data", size_mib=1024, subvolumes=("containers", "media", "photos")),
        PoolSpec(name="backup", size_mib=1024),
    )
    vm: VmSpec | None = VmSpec()  # None: a quick lab without the VM (`lab up --no-vm`)


class LabState(BaseModel):
    """Facts ``lab up`` chose and must reuse on the next ``up`` and undo on ``down``."""

    model_config = ConfigDict(extra="forbid")

    ssh_port: int | None = None
    vm_port: int | None = None
    vm: bool = False  # the last `up` made the VM part of the lab (not `--no-vm`)
    created_privsep_dir: bool = False
