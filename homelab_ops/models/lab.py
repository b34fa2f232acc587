"""Shape of the sandbox lab: what ``lab up`` builds and what it remembers having built."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]


class PoolSpec(BaseModel):
    """A BTRFS pool on a sparse loop file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    size_mib: Annotated[int, Field(ge=160)]  # mkfs.btrfs refuses much smaller devices
    subvolumes: tuple[Name, ...] = ()


class LabSpec(BaseModel):
    """The sandbox homelab the tests, the benchmarks and the README's main job run on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    image: str = "localhost/homelab-lab:latest"
    ssh_alias: Name = "lab-ssh"
    pools: tuple[PoolSpec, ...] = (
        PoolSpec(name="data", size_mib=1024, subvolumes=("containers", "media", "photos")),
        PoolSpec(name="backup", size_mib=1024),
    )


class LabState(BaseModel):
    """Facts ``lab up`` chose and must reuse on the next ``up`` and undo on ``down``."""

    model_config = ConfigDict(extra="forbid")

    ssh_port: int | None = None
    created_privsep_dir: bool = False
